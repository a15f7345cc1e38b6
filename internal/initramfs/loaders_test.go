package initramfs

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// TestLoads: what in an image loads zfs by itself, from hand-made images
// laid out as the builders lay them out.
func TestLoads(t *testing.T) {
	// zfs's own rule (udev/rules.d/90-zfs.rules.in at zfs-2.3.4, as
	// dracut's 90zfs installs it).
	const zfsRules = "SUBSYSTEM!=\"block|misc\", GOTO=\"zfs_end\"\nACTION!=\"add|change\", GOTO=\"zfs_end\"\n\n" +
		"ENV{ID_FS_TYPE}==\"zfs\", RUN+=\"/sbin/modprobe zfs\"\nENV{ID_FS_TYPE}==\"zfs_member\", RUN+=\"/sbin/modprobe zfs\"\n\n" +
		"KERNEL==\"null\", SYMLINK+=\"root\"\nSYMLINK==\"null\", SYMLINK+=\"root\"\n\nKERNEL==\"zfs\", MODE=\"0666\", OPTIONS+=\"static_node=zfs\"\n\nLABEL=\"zfs_end\"\n"
	zfsKo := member{Name: "usr/lib/modules/6.1.0-28-amd64/extra/zfs.ko", Body: "x"}
	usrLib := member{Name: "lib", Mode: testutil.CpioLink, Body: "usr/lib"}
	for _, tc := range []struct {
		name string
		ms   []member
		want []string
	}{
		{"zfs-initramfs on an ext4 root: the module, nothing that loads it",
			[]member{usrLib, zfsKo, {Name: "conf/modules", Body: "# nothing\n"}, {Name: "scripts/zfs", Body: "# the boot script, for root=ZFS= only\n"}}, nil},
		{"/conf/modules lists zfs (comments and other modules aside)",
			[]member{zfsKo, {Name: "conf/modules", Body: "# comment zfs\nloop\n\nzfs \n"}},
			[]string{"/conf/modules:4 lists zfs (initramfs-tools' init loads each module listed there before it mounts /)"}},
		{"dracut's 90zfs rule, through /lib -> usr/lib",
			[]member{usrLib, zfsKo, {Name: "usr/lib/udev/rules.d/90-zfs.rules", Body: zfsRules}},
			[]string{
				"/usr/lib/udev/rules.d/90-zfs.rules:4 runs modprobe zfs (udev runs it in the initramfs when the rule matches: zfs's dracut module installs 90-zfs.rules, which matches a disk holding a pool)",
				"/usr/lib/udev/rules.d/90-zfs.rules:5 runs modprobe zfs (udev runs it in the initramfs when the rule matches: zfs's dracut module installs 90-zfs.rules, which matches a disk holding a pool)",
			}},
		{"the rule masked in /etc/udev/rules.d by a link to /dev/null",
			[]member{zfsKo, {Name: "usr/lib/udev/rules.d/90-zfs.rules", Body: zfsRules}, {Name: "etc/udev/rules.d/90-zfs.rules", Mode: testutil.CpioLink, Body: "/dev/null"}}, nil},
		{"a continued rule, commented rules",
			[]member{{Name: "etc/udev/rules.d/99-local.rules", Body: "# RUN+=\"/sbin/modprobe zfs\"\nKERNEL==\"sd*\", \\\n  RUN+=\"/sbin/modprobe -b zfs\"\n"}},
			[]string{"/etc/udev/rules.d/99-local.rules:2 runs modprobe zfs (udev runs it in the initramfs when the rule matches: zfs's dracut module installs 90-zfs.rules, which matches a disk holding a pool)"}},
		{"dracut --force-drivers",
			[]member{{Name: "etc/cmdline.d/20-force_drivers.conf", Body: "rd.driver.pre=zfs\n"}, {Name: "etc/cmdline.d/30-x.conf", Body: "rd.driver.pre=\"spl,zfs\" quiet\n"}},
			[]string{
				"/etc/cmdline.d/20-force_drivers.conf:1 sets rd.driver.pre=zfs (dracut loads it before udev starts: force_drivers)",
				"/etc/cmdline.d/30-x.conf:1 sets rd.driver.pre=zfs (dracut loads it before udev starts: force_drivers)",
			}},
		{"modules-load.d without systemd in the image: nothing runs it",
			[]member{{Name: "etc/modules-load.d/zfs.conf", Body: "zfs\n"}}, nil},
		{"modules-load.d with systemd-modules-load",
			[]member{usrLib, {Name: "usr/lib/systemd/systemd-modules-load", Body: "ELF"}, {Name: "usr/lib/modules-load.d/zfs.conf", Body: "# ZFS\n;x\nzfs\n"}},
			[]string{"/usr/lib/modules-load.d/zfs.conf:3 lists zfs (systemd-modules-load loads it in the initramfs)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(bytes.NewReader(gz(t, newc(tc.ms...))), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, c.Loads); d != "" {
				t.Errorf("Loads (-want +got)\n%s", d)
			}
		})
	}
}

// TestImageModprobe: the image's modprobe.d read with kmod's precedence by
// the one reader (modprobe.LoadFiles): a name in /etc/modprobe.d hides the
// package's, files are taken in name order across directories, and the
// last setting wins. Expected values by hand: 00-first.conf (1 GiB =
// 1073741824) then zfs.conf (4 GiB = 4294967296, from /etc, hiding
// /usr/lib's 2 GiB), so zfs_arc_max is 4294967296 from
// /etc/modprobe.d/zfs.conf:2; zfs_arc_min 536870912 (512 MiB) from
// 00-first.conf; zfs_arc_sys_free not set.
func TestImageModprobe(t *testing.T) {
	root := t.TempDir()
	img := newc(
		member{Name: "lib", Mode: testutil.CpioLink, Body: "usr/lib"},
		member{Name: "usr/lib/modprobe.d/zfs.conf", Body: "options zfs zfs_arc_max=2147483648\n"},
		member{Name: "usr/lib/modprobe.d/00-first.conf", Body: "options zfs zfs_arc_max=1073741824 zfs_arc_min=536870912\n"},
		member{Name: "etc/modprobe.d/zfs.conf", Body: "# admin\noptions zfs zfs_arc_max=4294967296\n"},
	)
	testutil.WriteTree(t, root, map[string]string{"boot/initrd.img-6.1.0-28-amd64": string(testutil.Gzip(t, img))})
	fsys := openRoot(t, root)
	cands, err := Find(fsys, "6.1.0-28-amd64")
	if err != nil || len(cands) != 1 {
		t.Fatalf("Find: %v %v", cands, err)
	}
	im, err := Read(fsys, cands[0])
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range []string{"zfs_arc_max", "zfs_arc_min", "zfs_arc_sys_free"} {
		if s, ok := im.Modprobe.Effective(p); ok {
			got[p] = s.Value + "@" + s.Where()
		}
	}
	want := map[string]string{
		"zfs_arc_max": "4294967296@/etc/modprobe.d/zfs.conf:2",
		"zfs_arc_min": "536870912@/usr/lib/modprobe.d/00-first.conf:1",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("effective (-want +got)\n%s", d)
	}
	wantFiles := []string{"/usr/lib/modprobe.d/00-first.conf", "/etc/modprobe.d/zfs.conf"}
	if d := cmp.Diff(wantFiles, im.Modprobe.Files); d != "" {
		t.Errorf("files (-want +got)\n%s", d)
	}
	wantWarn := []string{
		"/usr/lib/modprobe.d/zfs.conf:1: not read by modprobe: hidden by /etc/modprobe.d/zfs.conf (same file name in a directory read first); it sets zfs_arc_max=2147483648",
		"/usr/lib/modprobe.d/00-first.conf:1: zfs_arc_max=1073741824 is set twice: overridden by zfs_arc_max=4294967296 at /etc/modprobe.d/zfs.conf:2 (the last one wins)",
	}
	var warn []string
	for _, w := range im.Modprobe.Warnings {
		warn = append(warn, w.String())
	}
	if d := cmp.Diff(wantWarn, warn); d != "" {
		t.Errorf("warnings (-want +got)\n%s", d)
	}
	// An edit is planned on a root's files, never on an image's.
	if _, err := im.Modprobe.Plan([]modprobe.Change{{Param: "zfs_arc_max", Value: 1 << 30}}); err == nil {
		t.Error("Plan on an image's configuration succeeded")
	}
}
