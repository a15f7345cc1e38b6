package apply

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// An image as the tests lay it out: the zfs module (or not), what loads
// it, and its modprobe.d.
type testImage struct {
	name    string // under /boot; "" for initrd.img-<kver>
	kver    string
	zfs     bool     // usr/lib/modules/<kver>/extra/zfs.ko
	loader  string   // "conf/modules" lists zfs, "udev" has zfs's rule, "" nothing
	conf    string   // etc/modprobe.d/zfs.conf ("" none)
	libConf string   // usr/lib/modprobe.d/zfs.conf ("" none)
	extra   []string // more member names, empty files
}

func (im testImage) bytes(t *testing.T) []byte {
	var ms []testutil.CpioMember
	if im.zfs {
		ms = append(ms, testutil.CpioMember{Name: "usr/lib/modules/" + im.kver + "/extra/zfs.ko", Body: "x"})
	}
	switch im.loader {
	case "conf/modules":
		ms = append(ms, testutil.CpioMember{Name: "conf/modules", Body: "zfs\n"})
	case "udev":
		ms = append(ms, testutil.CpioMember{Name: "usr/lib/udev/rules.d/90-zfs.rules", Body: "ENV{ID_FS_TYPE}==\"zfs_member\", RUN+=\"/sbin/modprobe zfs\"\n"})
	}
	if im.conf != "" {
		ms = append(ms, testutil.CpioMember{Name: "etc/modprobe.d/zfs.conf", Body: im.conf})
	}
	if im.libConf != "" {
		ms = append(ms, testutil.CpioMember{Name: "usr/lib/modprobe.d/zfs.conf", Body: im.libConf})
	}
	for _, n := range im.extra {
		ms = append(ms, testutil.CpioMember{Name: n})
	}
	return testutil.Gzip(t, testutil.Newc(ms...))
}

// stickRoot is the lab snapshot zfs-2.1.11-capped (c_max 805306368, which
// /etc/modprobe.d/zfs.conf sets) on a Debian host running 6.1.0-28-amd64,
// with the images given and the extra files.
func stickRoot(t *testing.T, images []testImage, files map[string]string) *host.Snapshot {
	t.Helper()
	root := filepath.Join(t.TempDir(), "host")
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-capped"))); err != nil {
		t.Fatal(err)
	}
	tree := map[string]string{
		"proc/sys/kernel/osrelease": "6.1.0-28-amd64\n",
		"etc/os-release":            "ID=debian\n",
		"proc/mounts":               "/dev/vda1 / ext4 rw 0 0\n",
	}
	for k, v := range files {
		tree[k] = v
	}
	for _, im := range images {
		name := im.name
		if name == "" {
			name = "initrd.img-" + im.kver
		}
		tree["boot/"+name] = string(im.bytes(t))
	}
	testutil.WriteTree(t, root, tree)
	snap, err := host.Read(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.ReadInitramfs(snap.FS); err != nil {
		t.Fatal(err)
	}
	return snap
}

// capped is the recommendation the snapshot already meets: 768 MiB =
// 805306368, the c_max in effect and the value /etc sets.
func capped() *policy.Recommendation {
	return &policy.Recommendation{Status: policy.StatusOK, Mode: policy.ModeAdmin, ArcMax: 805306368}
}

func imageBrief(r InitramfsImage) string {
	b := func(p *bool) string {
		if p == nil {
			return "-"
		}
		if *p {
			return "y"
		}
		return "n"
	}
	v := "-"
	if r.ArcMax != nil {
		v = strconv.FormatUint(*r.ArcMax, 10)
	}
	flags := ""
	for _, f := range []struct {
		on bool
		c  string
	}{{r.RunningKernel, "R"}, {r.NewestKernel, "N"}, {r.UsedAtBoot, "U"}, {r.LoadsModule, "L"}, {r.Drift, "D"}} {
		if f.on {
			flags += f.c
		}
	}
	return r.Path + " max=" + v + " zfs=" + b(r.ZFSModule) + " stale=" + b(r.Stale) + " " + flags
}

// TestImagesDrift: which images are stale, which ones zfs loads from, and
// which are drift, worked out by hand for each host. /etc sets 805306368
// (768 MiB); 1073741824 is 1 GiB; 536870912 is 512 MiB.
func TestImagesDrift(t *testing.T) {
	const (
		etc768 = "options zfs zfs_arc_max=805306368\n"
		old1g  = "options zfs zfs_arc_max=1073741824\n"
	)
	for _, tc := range []struct {
		name   string
		images []testImage
		files  map[string]string
		want   []string // imageBrief of each, in Find's order
		drift  []string // the drift lines about images (prefixes)
	}{
		{name: "the running kernel's image stale and loading zfs; an older kernel's too; the newest up to date",
			images: []testImage{
				{kver: "6.1.0-28-amd64", zfs: true, loader: "conf/modules", conf: old1g},
				{kver: "6.1.0-30-amd64", zfs: true, loader: "conf/modules", conf: etc768},
				{kver: "6.1.0-20-amd64", zfs: true, loader: "conf/modules", conf: old1g},
			},
			want: []string{
				"/boot/initrd.img-6.1.0-28-amd64 max=1073741824 zfs=y stale=y RULD",
				"/boot/initrd.img-6.1.0-30-amd64 max=805306368 zfs=y stale=n NUL",
				// an older kernel's: stale, but no boot uses it unless picked
				"/boot/initrd.img-6.1.0-20-amd64 max=1073741824 zfs=y stale=y L",
			},
			drift: []string{"next boot: the initramfs /boot/initrd.img-6.1.0-28-amd64 is stale: it holds zfs_arc_max=1073741824 where /etc has 805306368, and zfs loads from it (/conf/modules:1 lists zfs"}},
		{name: "zfs.ko alone on an ext4 root: stale, no drift",
			images: []testImage{{kver: "6.1.0-28-amd64", zfs: true, conf: old1g}},
			want:   []string{"/boot/initrd.img-6.1.0-28-amd64 max=1073741824 zfs=y stale=y RNU"}},
		{name: "the same on a root on ZFS: drift",
			images: []testImage{{kver: "6.1.0-28-amd64", zfs: true, conf: old1g}},
			files:  map[string]string{"proc/mounts": "rpool/ROOT/debian / zfs rw 0 0\n"},
			want:   []string{"/boot/initrd.img-6.1.0-28-amd64 max=1073741824 zfs=y stale=y RNULD"},
			drift:  []string{"next boot: the initramfs /boot/initrd.img-6.1.0-28-amd64 is stale: it holds zfs_arc_max=1073741824 where /etc has 805306368, and zfs loads from it (/ is on zfs (rpool/ROOT/debian)"}},
		{name: "no zfs module in the image: it cannot load zfs, even with a root on ZFS",
			images: []testImage{{kver: "6.1.0-28-amd64", conf: old1g}},
			files:  map[string]string{"proc/mounts": "rpool/ROOT/debian / zfs rw 0 0\n"},
			want:   []string{"/boot/initrd.img-6.1.0-28-amd64 max=1073741824 zfs=n stale=y RNU"}},
		{name: "an image without modprobe.d where /etc sets the cap: stale",
			images: []testImage{{kver: "6.1.0-28-amd64", zfs: true, loader: "conf/modules"}},
			want:   []string{"/boot/initrd.img-6.1.0-28-amd64 max=- zfs=y stale=y RNULD"},
			drift:  []string{"next boot: the initramfs /boot/initrd.img-6.1.0-28-amd64 is stale: it holds zfs_arc_max not set where /etc has 805306368"}},
		{name: "kmod's precedence inside the image: /etc hides the package's file",
			images: []testImage{{kver: "6.1.0-28-amd64", zfs: true, loader: "conf/modules", conf: etc768, libConf: old1g}},
			want:   []string{"/boot/initrd.img-6.1.0-28-amd64 max=805306368 zfs=y stale=n RNUL"}},
		{name: "the next boot's command line sets the cap: the image's zfs_arc_max does not count",
			images: []testImage{{kver: "6.1.0-28-amd64", zfs: true, loader: "conf/modules", conf: old1g}},
			files:  map[string]string{"etc/default/grub": "GRUB_CMDLINE_LINUX=\"zfs.zfs_arc_max=805306368\"\n"},
			want:   []string{"/boot/initrd.img-6.1.0-28-amd64 max=1073741824 zfs=y stale=y RNUL"}},
		{name: "but a parameter it does not set does",
			images: []testImage{{kver: "6.1.0-28-amd64", zfs: true, loader: "conf/modules", conf: old1g + "options zfs zfs_arc_min=536870912\n"}},
			files:  map[string]string{"etc/default/grub": "GRUB_CMDLINE_LINUX=\"zfs.zfs_arc_max=805306368\"\n"},
			want:   []string{"/boot/initrd.img-6.1.0-28-amd64 max=1073741824 zfs=y stale=y RNULD"},
			drift:  []string{"next boot: the initramfs /boot/initrd.img-6.1.0-28-amd64 is stale: it holds zfs_arc_min=536870912 where /etc does not set it, and zfs loads"}},
		{name: "no image named for the running kernel (mkinitcpio's presets): any may be the boot's",
			images: []testImage{
				{name: "initramfs-linux.img", kver: "6.12.1-arch1-1", zfs: true, loader: "conf/modules", conf: old1g},
				{name: "initramfs-linux-fallback.img", kver: "6.12.1-arch1-1", zfs: true, loader: "conf/modules", conf: etc768},
			},
			want: []string{
				"/boot/initramfs-linux-fallback.img max=805306368 zfs=y stale=n NUL",
				"/boot/initramfs-linux.img max=1073741824 zfs=y stale=y ULD",
			},
			drift: []string{"next boot: the initramfs /boot/initramfs-linux.img is stale"}},
		{name: "a generic dracut image carries no /etc/modprobe.d",
			images: []testImage{{kver: "6.1.0-28-amd64", zfs: true, loader: "udev"}},
			want:   []string{"/boot/initrd.img-6.1.0-28-amd64 max=- zfs=y stale=y RNULD"},
			drift:  []string{"next boot: the initramfs /boot/initrd.img-6.1.0-28-amd64 is stale: it holds zfs_arc_max not set where /etc has 805306368, and zfs loads from it (/usr/lib/udev/rules.d/90-zfs.rules:1 runs modprobe zfs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := stickRoot(t, tc.images, tc.files)
			p, err := NewPlan(Request{Mode: Check}, snap, capped())
			if err != nil {
				t.Fatal(err)
			}
			res := p.Result()
			var got []string
			for _, r := range res.Initramfs {
				got = append(got, imageBrief(r))
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("images (-want +got)\n%s", d)
			}
			var drift []string
			for _, d := range res.Drift {
				if strings.Contains(d, "initramfs") {
					drift = append(drift, d)
				}
			}
			if len(drift) != len(tc.drift) {
				t.Fatalf("drift %q, want %d lines starting %q", drift, len(tc.drift), tc.drift)
			}
			for i := range drift {
				if !strings.HasPrefix(drift[i], tc.drift[i]) {
					t.Errorf("drift %q, want it to start %q", drift[i], tc.drift[i])
				}
			}
			if strings.Contains(tc.name, "generic dracut") && !strings.Contains(drift[0], "it carries no /etc/modprobe.d at all: dracut copies it into host-only images only") {
				t.Errorf("the drift does not say why a rebuild alone will not do: %q", drift[0])
			}
		})
	}
}

// TestWriteStaleImages: the images are read before --write; the file
// written, they hold the old value (805306368) while /etc now has
// 1073741824: stale by construction, and the next steps say so after the
// rebuild and before the reboot. An image that already holds the new
// value is not stale.
func TestWriteStaleImages(t *testing.T) {
	snap := stickRoot(t, []testImage{
		{kver: "6.1.0-28-amd64", zfs: true, loader: "conf/modules", conf: "options zfs zfs_arc_max=805306368\n"},
		{kver: "6.1.0-30-amd64", zfs: true, loader: "conf/modules", conf: "options zfs zfs_arc_max=1073741824\n"},
	}, nil)
	rec := &policy.Recommendation{Status: policy.StatusOK, Mode: policy.ModeAdmin, ArcMax: 1 << 30}
	p, err := NewPlan(Request{Mode: Write, CheckCommand: "arcadvise --check --arc-max 1073741824"}, snap, rec)
	if err != nil {
		t.Fatal(err)
	}
	// Before the write: the running kernel's image matches /etc, the
	// newest does not (it holds 1 GiB).
	if r := p.Result().Initramfs; *r[0].Stale || !*r[1].Stale {
		t.Fatalf("before the write: %s; %s", imageBrief(r[0]), imageBrief(r[1]))
	}
	res, err := p.Act(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Wrote != "/etc/modprobe.d/zfs.conf" {
		t.Fatalf("wrote %q", res.Wrote)
	}
	got := []string{imageBrief(res.Initramfs[0]), imageBrief(res.Initramfs[1])}
	want := []string{
		"/boot/initrd.img-6.1.0-28-amd64 max=805306368 zfs=y stale=y RULD",
		"/boot/initrd.img-6.1.0-30-amd64 max=1073741824 zfs=y stale=n NUL",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("after the write (-want +got)\n%s", d)
	}
	if len(res.NextSteps) < 3 || !strings.HasPrefix(res.NextSteps[0], "rebuild the initramfs: update-initramfs -u -k all (/boot/initrd.img-6.1.0-28-amd64 loads zfs: /conf/modules:1 lists zfs") ||
		res.NextSteps[1] != "until it is rebuilt, /boot/initrd.img-6.1.0-28-amd64 still holds the values from before this write (read before it): zfs would load with those" ||
		!strings.HasPrefix(res.NextSteps[2], "reboot") {
		t.Errorf("next steps:\n%s", strings.Join(res.NextSteps, "\n"))
	}
	if res.InitramfsCommand != "update-initramfs -u -k all" {
		t.Errorf("initramfs command %q", res.InitramfsCommand)
	}
}

// TestNextCmdlines: each source of the next boot's command line with the
// values it sets, by hand: GRUB_CMDLINE_LINUX sets zfs_arc_min 1 GiB,
// _DEFAULT zfs_arc_max 2 GiB = 2147483648, /etc/kernel/cmdline nothing.
func TestNextCmdlines(t *testing.T) {
	snap := stickRoot(t, nil, map[string]string{
		"etc/default/grub":   "GRUB_CMDLINE_LINUX=\"zfs.zfs_arc_min=1073741824\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet zfs.zfs_arc_max=2147483648 zfs.zfs_txg_timeout=5\"\n",
		"etc/kernel/cmdline": "root=ZFS=rpool/ROOT/pve-1 boot=zfs\n",
	})
	got := nextCmdlines(snap)
	u := func(v uint64) *uint64 { return &v }
	want := []NextCmdline{
		{Path: "/etc/default/grub:1", Kind: "grub-cmdline-linux", ArcMin: u(1 << 30), Settings: []string{"zfs.zfs_arc_min=1073741824"}},
		{Path: "/etc/default/grub:2", Kind: "grub-cmdline-linux-default", ArcMax: u(2 << 30), Settings: []string{"zfs.zfs_arc_max=2147483648", "zfs.zfs_txg_timeout=5"}},
		{Path: "/etc/kernel/cmdline:1", Kind: "kernel-cmdline", Settings: []string{}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	// The write is refused, with how to take it off grub.
	_, err := NewPlan(Request{Mode: Write}, snap, capped())
	ce, ok := errors.AsType[*CmdlineError](err)
	if !ok || ce.Setting.Where() != "/etc/default/grub:2" || !strings.HasPrefix(ce.Fix, "remove zfs.zfs_arc_max from GRUB_CMDLINE_LINUX_DEFAULT at /etc/default/grub:2, then run update-grub") {
		t.Errorf("NewPlan(Write) = %v (%+v)", err, ce)
	}
}
