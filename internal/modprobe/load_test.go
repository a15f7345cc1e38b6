package modprobe

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

func TestLoad(t *testing.T) {
	root := mkroot(t,
		// Admin file: wins over the package's file of the same name.
		file("/etc/modprobe.d/zfs.conf", "# local\noptions zfs zfs_arc_max=4294967296\n"),
		// Package file hidden by the one above.
		file("/usr/lib/modprobe.d/zfs.conf", "options zfs zfs_arc_max=2147483648 zfs_arc_min=1073741824\n"),
		// Merged /usr: /lib is /usr/lib, each file is listed twice.
		link("/lib", "usr/lib"),
		file("/usr/lib/modprobe.d/50-spl.conf", "options spl spl_hostid=1\n"),
		// Read in name order across directories: 10-... comes before zfs.conf.
		file("/run/modprobe.d/10-arc.conf", "options zfs zfs_arc_min=536870912 zfs_arc_max=1073741824\n"),
		file("/usr/local/lib/modprobe.d/zz-last.conf", "options zfs zfs_arc_min=268435456\n"),
		// Not read: wrong suffix, dot file, directory, our own backup.
		file("/etc/modprobe.d/zfs.conf.dpkg-old", "options zfs zfs_arc_max=8589934592\n"),
		file("/etc/modprobe.d/arc.alias", "options zfs zfs_arc_max=8589934592\n"),
		file("/etc/modprobe.d/.hidden.conf", "options zfs zfs_arc_max=1\n"),
		file("/etc/modprobe.d/zfs.conf"+BackupSuffix+".1", "options zfs zfs_arc_max=1\n"),
		dir("/etc/modprobe.d/sub.conf"),
		// Masked: a symlink to /dev/null (absent under the test root).
		link("/etc/modprobe.d/masked.conf", "/dev/null"),
		file("/usr/lib/modprobe.d/masked.conf", "options zfs zfs_arc_max=3\n"),
		// An absolute symlink resolves inside the root.
		link("/etc/modprobe.d/linked.conf", "/usr/lib/modprobe.d/real.txt"),
		file("/usr/lib/modprobe.d/real.txt", "options zfs l2arc_noprefetch=0\n"),
		file("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=ZFS=rpool/ROOT/debian zfs.zfs_arc_max=17179869184 quiet\n"),
	)
	c, err := Load(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{
		"/run/modprobe.d/10-arc.conf",
		"/usr/lib/modprobe.d/50-spl.conf",
		"/etc/modprobe.d/linked.conf",
		"/etc/modprobe.d/masked.conf",
		"/etc/modprobe.d/zfs.conf",
		"/usr/local/lib/modprobe.d/zz-last.conf",
	}
	if diff := cmp.Diff(wantFiles, c.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	wantSettings := []string{
		"zfs_arc_min=536870912@/run/modprobe.d/10-arc.conf:1",
		"zfs_arc_max=1073741824@/run/modprobe.d/10-arc.conf:1",
		"l2arc_noprefetch=0@/etc/modprobe.d/linked.conf:1",
		"zfs_arc_max=4294967296@/etc/modprobe.d/zfs.conf:2",
		"zfs_arc_min=268435456@/usr/local/lib/modprobe.d/zz-last.conf:1",
		"zfs_arc_max=17179869184@/proc/cmdline",
	}
	if diff := cmp.Diff(wantSettings, located(c.Settings)); diff != "" {
		t.Errorf("Settings (-want +got):\n%s", diff)
	}
	wantWarnings := []string{
		"/etc/modprobe.d/arc.alias:1: read only by kmod 32 and older: kmod 33 and later ignore .alias files; rename it to end in .conf; it sets zfs_arc_max=8589934592",
		"/etc/modprobe.d/zfs.conf.dpkg-old:1: not read by modprobe: file name does not end in .conf; it sets zfs_arc_max=8589934592",
		"/usr/lib/modprobe.d/masked.conf:1: not read by modprobe: hidden by /etc/modprobe.d/masked.conf (same file name in a directory read first); it sets zfs_arc_max=3",
		"/usr/lib/modprobe.d/zfs.conf:1: not read by modprobe: hidden by /etc/modprobe.d/zfs.conf (same file name in a directory read first); it sets zfs_arc_max=2147483648, zfs_arc_min=1073741824",
		"/run/modprobe.d/10-arc.conf:1: zfs_arc_min=536870912 is set twice: overridden by zfs_arc_min=268435456 at /usr/local/lib/modprobe.d/zz-last.conf:1 (the last one wins)",
		"/run/modprobe.d/10-arc.conf:1: zfs_arc_max=1073741824 is overridden by zfs.zfs_arc_max=17179869184 on the kernel command line (/proc/cmdline)",
		"/etc/modprobe.d/zfs.conf:2: zfs_arc_max=4294967296 is overridden by zfs.zfs_arc_max=17179869184 on the kernel command line (/proc/cmdline)",
	}
	if diff := cmp.Diff(wantWarnings, warnStrings(c.Warnings)); diff != "" {
		t.Errorf("Warnings (-want +got):\n%s", diff)
	}

	if s, ok := c.Effective("zfs-arc-max"); !ok || s.Value != "17179869184" || s.Source != FromCmdline {
		t.Errorf("Effective(zfs_arc_max) = %+v, %v", s, ok)
	}
	if s, ok := c.EffectiveFile("zfs_arc_max"); !ok || s.Value != "4294967296" || s.Path != "/etc/modprobe.d/zfs.conf" || s.Line != 2 {
		t.Errorf("EffectiveFile(zfs_arc_max) = %+v, %v", s, ok)
	}
	if s, ok := c.Effective("zfs_arc_min"); !ok || s.Value != "268435456" {
		t.Errorf("Effective(zfs_arc_min) = %+v, %v", s, ok)
	}
	if got := located(c.All("zfs_arc_max")); len(got) != 3 {
		t.Errorf("All(zfs_arc_max) = %v", got)
	}
	if _, ok := c.Effective("zfs_arc_sys_free"); ok {
		t.Error("Effective(zfs_arc_sys_free) found")
	}
}

func TestLoadEmptyRoot(t *testing.T) {
	c, err := Load(testutil.OpenRoot(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files)+len(c.Settings)+len(c.Warnings) != 0 {
		t.Errorf("got %+v", c)
	}
}

func TestLoadFixturesUnderEtc(t *testing.T) {
	// A file not named zfs.conf is read like any other .conf file; one
	// not ending in .conf is not.
	root := mkroot(t,
		file("/etc/modprobe.d/99-xs-zfsarc.conf", fixture(t, "xshok-proxmox-99-xs-zfsarc.rendered-64GB.conf")),
		file("/etc/modprobe.d/99-xs-zfsarc.conf.template", fixture(t, "xshok-proxmox-99-xs-zfsarc.conf.template")),
		file("/etc/modprobe.d/nixos.conf", fixture(t, "shinebreaker-nixos-rendered-nixos.conf")),
		file("/proc/cmdline", "initrd=\\efi\\nixos\\initrd.efi init=/nix/store/x/init zfs.zfs_arc_max=2147483648 loglevel=4\n"),
	)
	c, err := Load(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/etc/modprobe.d/99-xs-zfsarc.conf", "/etc/modprobe.d/nixos.conf"}, c.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	s, _ := c.Effective("zfs_arc_max")
	if s.Source != FromCmdline || s.Value != "2147483648" {
		t.Errorf("Effective(zfs_arc_max) = %+v", s)
	}
	s, _ = c.EffectiveFile("zfs_arc_max")
	if s.Where() != "/etc/modprobe.d/nixos.conf:1" {
		t.Errorf("EffectiveFile(zfs_arc_max) = %+v", s)
	}
	s, _ = c.Effective("zfs_arc_min")
	if s.Where() != "/etc/modprobe.d/99-xs-zfsarc.conf:4" || s.Value != "4294967296" {
		t.Errorf("Effective(zfs_arc_min) = %+v", s)
	}
	checkWarnings(t, c.Warnings, []string{
		"/etc/modprobe.d/99-xs-zfsarc.conf.template:4: not read by modprobe: file name does not end in .conf; it sets zfs_arc_min=$MY_ZFS_ARC_MIN, zfs_arc_max=$MY_ZFS_ARC_MAX, l2arc_noprefetch=0, l2arc_write_max=524288000, and 1 more",
		"/etc/modprobe.d/99-xs-zfsarc.conf:5: zfs_arc_max=8589934592 is overridden by zfs.zfs_arc_max=2147483648 on the kernel command line (/proc/cmdline)",
		"/etc/modprobe.d/99-xs-zfsarc.conf:14: l2arc_write_max=524288000 is set twice: overridden by l2arc_write_max=16777216 at /etc/modprobe.d/nixos.conf:1 (the last one wins)",
		"/etc/modprobe.d/nixos.conf:1: zfs_arc_max=2147483648 is overridden by zfs.zfs_arc_max=2147483648 on the kernel command line",
	})
}

func TestLoadDoubleDash(t *testing.T) {
	root := mkroot(t,
		file("/etc/modprobe.d/a.conf", "options zfs zfs_arc_min=1 --\n"),
		file("/etc/modprobe.d/b.conf", "options zfs zfs_arc_max=2\n"),
		file("/proc/cmdline", "zfs.zfs_arc_max=3\n"),
	)
	c, err := Load(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"zfs_arc_min=1@/etc/modprobe.d/a.conf:1"}, located(c.Settings)); diff != "" {
		t.Errorf("Settings (-want +got):\n%s", diff)
	}
	checkWarnings(t, c.Warnings, []string{
		"/etc/modprobe.d/b.conf:1: zfs_arc_max=2 is ignored by the kernel: it comes after the '--' word in /etc/modprobe.d/a.conf",
		"/proc/cmdline: zfs.zfs_arc_max=3 is ignored",
	})
}

func TestLoadCmdlineValueWarning(t *testing.T) {
	root := mkroot(t, file("/proc/cmdline", "zfs.zfs_arc_max=8G\n"))
	c, err := Load(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	checkWarnings(t, c.Warnings, []string{"/proc/cmdline: zfs.zfs_arc_max=8G: \"8G\" is not a number"})
}

func TestLoadUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		// root reads a 0000 file anyway; use a symlink loop instead.
		root := mkroot(t, link("/etc/modprobe.d", "modprobe.d"))
		if _, err := Load(testutil.OpenRoot(t, root)); err == nil {
			t.Fatal("Load with a symlink loop for /etc/modprobe.d succeeded")
		}
		return
	}
	root := mkroot(t, entry{path: "/etc/modprobe.d/zfs.conf", content: "options zfs zfs_arc_max=1\n", mode: 0o200})
	if _, err := Load(testutil.OpenRoot(t, root)); err == nil {
		t.Fatal("Load of an unreadable file succeeded")
	}
}

func TestResolveIn(t *testing.T) {
	root := mkroot(t,
		link("/lib", "usr/lib"),
		dir("/usr/lib/modprobe.d"),
		link("/etc/modprobe.d/abs.conf", "/lib/modprobe.d/x.conf"),
		link("/etc/modprobe.d/rel.conf", "../../usr/lib/modprobe.d/x.conf"),
		link("/etc/modprobe.d/escape.conf", "../../../../../../etc/passwd"),
		link("/etc/modprobe.d/loop.conf", "loop.conf"),
	)
	for _, tt := range []struct{ in, want string }{
		{"/lib/modprobe.d/zfs.conf", "/usr/lib/modprobe.d/zfs.conf"},
		{"/etc/modprobe.d/abs.conf", "/usr/lib/modprobe.d/x.conf"},
		{"/etc/modprobe.d/rel.conf", "/usr/lib/modprobe.d/x.conf"},
		{"/etc/modprobe.d/escape.conf", "/etc/passwd"}, // ".." stops at the root
	} {
		got, err := resolveIn(t, root, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("resolveIn(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	// As in the kernel, ".." cannot pass through a missing directory: the
	// lexical shortcut let /nonexistent/../escape reach a symlink out.
	if got, err := resolveIn(t, root, "/missing/a/../b"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("resolveIn(/missing/a/../b) = %q, %v; want ENOENT", got, err)
	}
	if _, err := resolveIn(t, root, "/etc/modprobe.d/loop.conf"); err == nil {
		t.Error("resolveIn of a symlink loop succeeded")
	}
	if _, err := os.Stat(filepath.Join(root, "etc/passwd")); err == nil {
		t.Error("test root has etc/passwd")
	}
}

// resolveIn resolves the admin path p inside root the way Load does.
func resolveIn(t *testing.T, root, p string) (string, error) {
	return rootTree{testutil.OpenRoot(t, root)}.resolve(p)
}
