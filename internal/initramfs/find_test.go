package initramfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

func openRoot(t testing.TB, dir string) *rootfs.FS {
	t.Helper()
	fsys, err := rootfs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	return fsys
}

func symlink(t testing.TB, target, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	testutil.WriteTree(t, root, map[string]string{
		"boot/initrd.img-6.1.0-9-amd64":                  "x",
		"boot/initrd.img-6.1.0-28-amd64":                 "x",
		"boot/initrd.img-6.1.0-28-amd64.old-dkms":        "x", // dkms's backup
		"boot/initrd.img-6.1.0-28-amd64.dpkg-bak":        "x",
		"boot/initramfs-6.8.12-4-pve.img":                "x",
		"boot/initramfs-6.11.4-301.fc41.x86_64kdump.img": "x", // kdump's, not a boot image
		"boot/initramfs-0-rescue-0123456789abcdef.img":   "x",
		"boot/vmlinuz-6.1.0-28-amd64":                    "x",
		"boot/config-6.1.0-28-amd64":                     "x",
		"boot/.initrd.img-6.1.0-30-amd64":                "x",
		"boot/initrd.img-6.1.0-29-amd64/placeholder":     "a directory, not an image",
		"elsewhere/initrd.img-6.1.0-30-amd64":            "x",
	})
	// Debian's /boot/initrd.img link (not a <kver> name), a second name
	// for an image already listed, a link leading out of /boot (read
	// inside the root), a dangling one.
	symlink(t, "initrd.img-6.1.0-28-amd64", filepath.Join(root, "boot/initrd.img"))
	symlink(t, "initrd.img-6.1.0-9-amd64", filepath.Join(root, "boot/initrd.img-6.1.0-9-amd64-alias"))
	symlink(t, "/elsewhere/initrd.img-6.1.0-30-amd64", filepath.Join(root, "boot/initrd.img-6.1.0-30-amd64"))
	symlink(t, "/nowhere", filepath.Join(root, "boot/initrd.img-6.1.0-31-amd64"))
	// Confinement: a link to an absolute host path is taken inside the
	// root, where nothing is there; a FIFO is no image.
	outside := t.TempDir()
	testutil.WriteTree(t, outside, map[string]string{"initrd.img-6.1.0-40-amd64": "outside the root"})
	symlink(t, filepath.Join(outside, "initrd.img-6.1.0-40-amd64"), filepath.Join(root, "boot/initrd.img-6.1.0-40-amd64"))
	if err := syscall.Mkfifo(filepath.Join(root, "boot/initrd.img-6.1.0-41-amd64"), 0o644); err != nil {
		t.Fatal(err)
	}
	fsys := openRoot(t, root)
	got, err := Find(fsys, "6.1.0-9-amd64")
	if err != nil {
		t.Fatal(err)
	}
	// Read refuses the FIFO at once, without blocking on it.
	if _, err := Read(fsys, Candidate{Path: "/boot/initrd.img-6.1.0-41-amd64"}); !errors.Is(err, rootfs.ErrNotRegular) {
		t.Errorf("Read(FIFO) = %v, want %v", err, rootfs.ErrNotRegular)
	}
	// By hand: the running 6.1.0-9 first; then newest first: 6.8.12 >
	// 6.1.0-30 > 6.1.0-28 (numbers compared as numbers: 30 > 28 > 9) >
	// 0-rescue.
	want := []Candidate{
		{Path: "/boot/initrd.img-6.1.0-9-amd64", Kernel: "6.1.0-9-amd64", Builder: InitramfsTools, Running: true},
		{Path: "/boot/initramfs-6.8.12-4-pve.img", Kernel: "6.8.12-4-pve", Builder: Dracut},
		{Path: "/boot/initrd.img-6.1.0-30-amd64", Kernel: "6.1.0-30-amd64", Builder: InitramfsTools},
		{Path: "/boot/initrd.img-6.1.0-28-amd64", Kernel: "6.1.0-28-amd64", Builder: InitramfsTools},
		{Path: "/boot/initramfs-0-rescue-0123456789abcdef.img", Kernel: "0-rescue-0123456789abcdef", Builder: Dracut},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func TestFindNoBoot(t *testing.T) {
	got, err := Find(openRoot(t, t.TempDir()), "6.1.0-9-amd64")
	if err != nil || got != nil {
		t.Fatalf("got %v, %v; want nothing", got, err)
	}
}

func TestFindTooMany(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{}
	for i := 0; i < 70; i++ {
		files["boot/initrd.img-6.1.0-"+itoa(i)+"-amd64"] = "x"
	}
	testutil.WriteTree(t, root, files)
	if _, err := Find(openRoot(t, root), ""); err == nil {
		t.Fatal("no error for 70 images")
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"6.1.0-28-amd64", "6.1.0-9-amd64", 1},
		{"6.1.0-9-amd64", "6.1.0-28-amd64", -1},
		{"6.8.12-4-pve", "6.8.12-10-pve", -1},
		{"6.11.4-301.fc41.x86_64", "6.9.7-200.fc40.x86_64", 1},
		{"6.1.0-28-amd64", "6.1.0-28-amd64", 0},
		{"6.1.0-28-amd64", "6.1.0-28-cloud-amd64", -1}, // "amd64" < "cloud-amd64" byte-wise
		{"5.15.0-105-generic", "5.15.0-105-lowlatency", -1},
		{"6.1.0", "6.1.0-1", -1},
		{"6.1.0~rc1", "6.1.0", -1},
		{"6.01", "6.1", 0},
	}
	for _, tc := range tests {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestDracutZFS(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		installed bool
		where     string
	}{
		{"none", map[string]string{"usr/lib/dracut/modules.d/90kernel-modules/module-setup.sh": "x"}, false, ""},
		{"debian and fedora", map[string]string{"usr/lib/dracut/modules.d/90zfs/module-setup.sh": "x"}, true, "/usr/lib/dracut/modules.d/90zfs"},
		{"share", map[string]string{"usr/share/dracut/modules.d/90zfs/module-setup.sh": "x"}, true, "/usr/share/dracut/modules.d/90zfs"},
		{"old /lib", map[string]string{"lib/dracut/modules.d/90zfs/module-setup.sh": "x"}, true, "/lib/dracut/modules.d/90zfs"},
		{"empty module dir", map[string]string{"usr/lib/dracut/modules.d/90zfs/README": "x"}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			testutil.WriteTree(t, root, tc.files)
			installed, where, err := DracutZFS(openRoot(t, root))
			if err != nil || installed != tc.installed || where != tc.where {
				t.Errorf("got %v %q %v, want %v %q", installed, where, err, tc.installed, tc.where)
			}
		})
	}
}
