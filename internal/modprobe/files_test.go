package modprobe

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// TestLoadFilesAsLoad: the files of an initramfs image (LoadFiles) go
// through the same ordering, hiding and parsing as a root's (Load). The
// tree of TestLoad without its /proc/cmdline, once on disk and once as
// the image reader gives it (each entry with the file it resolves to),
// gives the same files, settings and warnings, which are worked out by
// hand: the files in name order whatever their directory, /etc's zfs.conf
// hiding the package's, masked.conf a link to nothing.
func TestLoadFilesAsLoad(t *testing.T) {
	const (
		etcZFS  = "# local\noptions zfs zfs_arc_max=4294967296\n"
		pkgZFS  = "options zfs zfs_arc_max=2147483648 zfs_arc_min=1073741824\n"
		spl     = "options spl spl_hostid=1\n"
		arc10   = "options zfs zfs_arc_min=536870912 zfs_arc_max=1073741824\n"
		last    = "options zfs zfs_arc_min=268435456\n"
		notRead = "options zfs zfs_arc_max=8589934592\n"
		masked  = "options zfs zfs_arc_max=3\n"
		real    = "options zfs l2arc_noprefetch=0\n"
	)
	root := mkroot(t,
		file("/etc/modprobe.d/zfs.conf", etcZFS),
		file("/usr/lib/modprobe.d/zfs.conf", pkgZFS),
		link("/lib", "usr/lib"),
		file("/usr/lib/modprobe.d/50-spl.conf", spl),
		file("/run/modprobe.d/10-arc.conf", arc10),
		file("/usr/local/lib/modprobe.d/zz-last.conf", last),
		file("/etc/modprobe.d/zfs.conf.dpkg-old", notRead),
		file("/etc/modprobe.d/arc.alias", notRead),
		file("/etc/modprobe.d/.hidden.conf", "options zfs zfs_arc_max=1\n"),
		link("/etc/modprobe.d/masked.conf", "/dev/null"),
		file("/usr/lib/modprobe.d/masked.conf", masked),
		link("/etc/modprobe.d/linked.conf", "/usr/lib/modprobe.d/real.txt"),
		file("/usr/lib/modprobe.d/real.txt", real),
	)
	reg := func(p, resolved, data string) File {
		return File{Path: p, Resolved: resolved, Regular: true, Data: []byte(data)}
	}
	files := []File{
		reg("/etc/modprobe.d/zfs.conf", "/etc/modprobe.d/zfs.conf", etcZFS),
		reg("/etc/modprobe.d/zfs.conf.dpkg-old", "/etc/modprobe.d/zfs.conf.dpkg-old", notRead),
		reg("/etc/modprobe.d/arc.alias", "/etc/modprobe.d/arc.alias", notRead),
		reg("/etc/modprobe.d/.hidden.conf", "/etc/modprobe.d/.hidden.conf", "options zfs zfs_arc_max=1\n"),
		{Path: "/etc/modprobe.d/masked.conf", Resolved: "/dev/null"},
		reg("/etc/modprobe.d/linked.conf", "/usr/lib/modprobe.d/real.txt", real),
		reg("/run/modprobe.d/10-arc.conf", "/run/modprobe.d/10-arc.conf", arc10),
		reg("/usr/local/lib/modprobe.d/zz-last.conf", "/usr/local/lib/modprobe.d/zz-last.conf", last),
	}
	for _, d := range []string{"/usr/lib/modprobe.d/", "/lib/modprobe.d/"} {
		files = append(files,
			reg(d+"zfs.conf", "/usr/lib/modprobe.d/zfs.conf", pkgZFS),
			reg(d+"50-spl.conf", "/usr/lib/modprobe.d/50-spl.conf", spl),
			reg(d+"masked.conf", "/usr/lib/modprobe.d/masked.conf", masked),
			reg(d+"real.txt", "/usr/lib/modprobe.d/real.txt", real))
	}
	wantFiles := []string{
		"/run/modprobe.d/10-arc.conf",
		"/usr/lib/modprobe.d/50-spl.conf",
		"/etc/modprobe.d/linked.conf",
		"/etc/modprobe.d/masked.conf",
		"/etc/modprobe.d/zfs.conf",
		"/usr/local/lib/modprobe.d/zz-last.conf",
	}
	wantSettings := []string{
		"zfs_arc_min=536870912@/run/modprobe.d/10-arc.conf:1",
		"zfs_arc_max=1073741824@/run/modprobe.d/10-arc.conf:1",
		"l2arc_noprefetch=0@/etc/modprobe.d/linked.conf:1",
		"zfs_arc_max=4294967296@/etc/modprobe.d/zfs.conf:2",
		"zfs_arc_min=268435456@/usr/local/lib/modprobe.d/zz-last.conf:1",
	}
	wantWarnings := []string{
		"/etc/modprobe.d/arc.alias:1: read only by kmod 32 and older: kmod 33 and later ignore .alias files; rename it to end in .conf; it sets zfs_arc_max=8589934592",
		"/etc/modprobe.d/zfs.conf.dpkg-old:1: not read by modprobe: file name does not end in .conf; it sets zfs_arc_max=8589934592",
		"/usr/lib/modprobe.d/masked.conf:1: not read by modprobe: hidden by /etc/modprobe.d/masked.conf (same file name in a directory read first); it sets zfs_arc_max=3",
		"/usr/lib/modprobe.d/zfs.conf:1: not read by modprobe: hidden by /etc/modprobe.d/zfs.conf (same file name in a directory read first); it sets zfs_arc_max=2147483648, zfs_arc_min=1073741824",
		"/run/modprobe.d/10-arc.conf:1: zfs_arc_min=536870912 is set twice: overridden by zfs_arc_min=268435456 at /usr/local/lib/modprobe.d/zz-last.conf:1 (the last one wins)",
		"/run/modprobe.d/10-arc.conf:1: zfs_arc_max=1073741824 is set twice: overridden by zfs_arc_max=4294967296 at /etc/modprobe.d/zfs.conf:2 (the last one wins)",
	}
	disk, err := Load(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	mem, err := LoadFiles("/boot/initrd.img-6.1.0-28-amd64", files)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Config{"Load": disk, "LoadFiles": mem} {
		if d := cmp.Diff(wantFiles, c.Files); d != "" {
			t.Errorf("%s: Files (-want +got):\n%s", name, d)
		}
		if d := cmp.Diff(wantSettings, located(c.Settings)); d != "" {
			t.Errorf("%s: Settings (-want +got):\n%s", name, d)
		}
		if d := cmp.Diff(wantWarnings, warnStrings(c.Warnings)); d != "" {
			t.Errorf("%s: Warnings (-want +got):\n%s", name, d)
		}
	}
	if mem.Cmdline != "" {
		t.Errorf("an image's configuration has a command line: %q", mem.Cmdline)
	}
	// modprobe.conf is scanned the same way in an image.
	conf, err := LoadFiles("img", []File{reg("/etc/modprobe.conf", "/etc/modprobe.conf", "options zfs zfs_arc_max=5\n")})
	if err != nil {
		t.Fatal(err)
	}
	if len(conf.Settings) != 0 || len(conf.Warnings) != 1 || !strings.HasPrefix(conf.Warnings[0].String(), "/etc/modprobe.conf:1: not read by modprobe") {
		t.Errorf("modprobe.conf in an image: %v %v", conf.Settings, conf.Warnings)
	}
}

// TestLoadFilesBudget: an image's files are held to the same bounds as a
// root's, and the error names the image and the file.
func TestLoadFilesBudget(t *testing.T) {
	big := strings.Repeat("#", maxConf+1)
	_, err := LoadFiles("/boot/initrd.img-x", []File{{Path: "/etc/modprobe.d/big.conf", Resolved: "/etc/modprobe.d/big.conf", Regular: true, Data: []byte(big)}})
	if err == nil || !strings.Contains(err.Error(), "/boot/initrd.img-x:/etc/modprobe.d/big.conf") {
		t.Errorf("one file over 1 MiB: %v", err)
	}
	var files []File
	for i := range 5 {
		p := "/etc/modprobe.d/" + strings.Repeat("a", i+1) + ".conf"
		files = append(files, File{Path: p, Resolved: p, Regular: true, Data: []byte(strings.Repeat("#", maxConf))})
	}
	if _, err := LoadFiles("/boot/initrd.img-x", files); !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "/boot/initrd.img-x:") {
		t.Errorf("5 MiB in all: %v", err)
	}
}

// TestLoadNextCmdline: the next boot's command lines come after the files
// and /proc/cmdline, each setting named by its file and line, and the last
// one wins. By hand: the file sets 4 GiB (4294967296), this boot's command
// line 16 GiB (17179869184), /etc/default/grub 2 GiB (2147483648) with
// zfs_arc_min 1 GiB (1073741824), and /etc/kernel/cmdline 2 GiB again.
func TestLoadNextCmdline(t *testing.T) {
	root := mkroot(t,
		file("/etc/modprobe.d/zfs.conf", "options zfs zfs_arc_max=4294967296\n"),
		file("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 zfs.zfs_arc_max=17179869184 quiet\n"),
	)
	c, err := Load(testutil.OpenRoot(t, root),
		Cmdline{Path: "/etc/default/grub", Line: 6, Text: "quiet zfs.zfs_arc_max=2147483648 zfs.zfs_arc_min=1073741824"},
		Cmdline{Path: "/etc/kernel/cmdline", Line: 1, Text: "root=ZFS=rpool/ROOT/pve-1 boot=zfs zfs.zfs_arc_max=2147483648"},
	)
	if err != nil {
		t.Fatal(err)
	}
	wantSettings := []string{
		"zfs_arc_max=4294967296@/etc/modprobe.d/zfs.conf:1",
		"zfs_arc_max=17179869184@/proc/cmdline",
		"zfs_arc_max=2147483648@/etc/default/grub:6",
		"zfs_arc_min=1073741824@/etc/default/grub:6",
		"zfs_arc_max=2147483648@/etc/kernel/cmdline:1",
	}
	if d := cmp.Diff(wantSettings, located(c.Settings)); d != "" {
		t.Errorf("Settings (-want +got):\n%s", d)
	}
	// The same value in two sources of the command line is one setting
	// seen twice: no warning between grub and /etc/kernel/cmdline.
	wantWarnings := []string{
		"/etc/modprobe.d/zfs.conf:1: zfs_arc_max=4294967296 is overridden by zfs.zfs_arc_max=2147483648 on the kernel command line (/etc/kernel/cmdline:1)",
		"/proc/cmdline: zfs.zfs_arc_max=17179869184 differs from zfs.zfs_arc_max=2147483648 at /etc/kernel/cmdline:1, a source of the next boot's command line, which arcadvise takes as the one that applies",
	}
	if d := cmp.Diff(wantWarnings, warnStrings(c.Warnings)); d != "" {
		t.Errorf("Warnings (-want +got):\n%s", d)
	}
	if s, ok := c.Effective("zfs_arc_max"); !ok || s.Value != "2147483648" || s.Where() != "/etc/kernel/cmdline:1" || s.Source != FromCmdline {
		t.Errorf("Effective(zfs_arc_max) = %+v", s)
	}
	if s, ok := c.EffectiveFile("zfs_arc_max"); !ok || s.Value != "4294967296" {
		t.Errorf("EffectiveFile(zfs_arc_max) = %+v", s)
	}
	if c.Cmdline != "BOOT_IMAGE=/vmlinuz root=/dev/sda1 zfs.zfs_arc_max=17179869184 quiet" {
		t.Errorf("Cmdline = %q, want /proc/cmdline's", c.Cmdline)
	}
	// A value the kernel does not read is named by its file and line.
	c, err = Load(testutil.OpenRoot(t, t.TempDir()), Cmdline{Path: "/boot/loader/entries/a.conf", Line: 3, Text: "zfs.zfs_arc_max=8G"})
	if err != nil {
		t.Fatal(err)
	}
	if w := warnStrings(c.Warnings); len(w) != 1 || !strings.HasPrefix(w[0], "/boot/loader/entries/a.conf:3: zfs.zfs_arc_max=8G: ") {
		t.Errorf("warnings %q", w)
	}
}
