package bootsteps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/arcadvise/arcadvise/internal/osinfo"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

type entry struct{ path, content string }

// plan reads the root the way a run does (internal/osinfo) and plans.
func plan(t *testing.T, root string) (Steps, error) {
	t.Helper()
	fsys := testutil.OpenRoot(t, root)
	d, err := osinfo.ReadDistro(fsys)
	if err != nil {
		return Steps{}, err
	}
	m, err := osinfo.ReadMounts(fsys)
	if err != nil {
		return Steps{}, err
	}
	return Plan(fsys, d, m, Evidence{})
}

func mkroot(t *testing.T, entries ...entry) string {
	t.Helper()
	root := t.TempDir()
	for _, e := range entries {
		p := filepath.Join(root, e.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(e.content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name    string
		files   []entry
		needed  bool
		rebuild string
		why     string   // substring
		notes   []string // substrings, one per note
	}{
		{
			name:    "debian, root on zfs",
			files:   []entry{{"etc/os-release", testutil.OSDebian}, {"proc/mounts", testutil.MountsZFS}},
			needed:  true,
			rebuild: "update-initramfs -u -k all",
			why:     "root file system is zfs (/proc/mounts: rpool/ROOT/debian on /): the zfs module loads from the initramfs",
		},
		{
			name:    "ubuntu, root on zfs",
			files:   []entry{{"etc/os-release", testutil.OSUbuntu}, {"proc/mounts", testutil.MountsZFS}},
			needed:  true,
			rebuild: "update-initramfs -u -k all",
		},
		{
			name:    "proxmox, root on zfs",
			files:   []entry{{"etc/os-release", testutil.OSProxmox}, {"proc/mounts", "rpool/ROOT/pve-1 / zfs rw,relatime,xattr,noacl 0 0\n"}},
			needed:  true,
			rebuild: "update-initramfs -u -k all",
			why:     "rpool/ROOT/pve-1 on /",
		},
		{
			name:    "linux mint (ID_LIKE ubuntu debian), root on zfs",
			files:   []entry{{"etc/os-release", testutil.OSMint}, {"proc/mounts", testutil.MountsZFS}},
			needed:  true,
			rebuild: "update-initramfs -u -k all",
		},
		{
			name:    "fedora, root on zfs",
			files:   []entry{{"etc/os-release", testutil.OSFedora}, {"proc/mounts", testutil.MountsZFS}},
			needed:  true,
			rebuild: "dracut -f",
			notes:   []string{"host-only images", "--regenerate-all"},
		},
		{
			name:    "rocky (ID_LIKE rhel), root on zfs",
			files:   []entry{{"etc/os-release", testutil.OSRocky}, {"proc/mounts", testutil.MountsZFS}},
			needed:  true,
			rebuild: "dracut -f",
			notes:   []string{"host-only", "--regenerate-all"},
		},
		{
			name:    "rhel, os-release under usr/lib only",
			files:   []entry{{"usr/lib/os-release", testutil.OSRHEL}, {"proc/mounts", testutil.MountsZFS}},
			needed:  true,
			rebuild: "dracut -f",
			notes:   []string{"host-only", "--regenerate-all"},
		},
		{
			name:    "arch, root on zfs",
			files:   []entry{{"etc/os-release", testutil.OSArch}, {"proc/mounts", testutil.MountsZFS}},
			needed:  true,
			rebuild: "mkinitcpio -P",
		},
		{
			name:    "manjaro (ID_LIKE arch), root on zfs",
			files:   []entry{{"etc/os-release", testutil.OSManjaro}, {"proc/mounts", testutil.MountsZFS}},
			needed:  true,
			rebuild: "mkinitcpio -P",
		},
		{
			name:   "unknown distribution, root on zfs",
			files:  []entry{{"etc/os-release", testutil.OSAlpine}, {"proc/mounts", testutil.MountsZFS}},
			needed: true,
			notes:  []string{"arcadvise does not know how Alpine Linux rebuilds its initramfs: use its tool, e.g. update-initramfs -u -k all (Debian, Ubuntu, Proxmox), dracut -f (Fedora, RHEL) or mkinitcpio -P (Arch)"},
		},
		{
			name:   "nixos, root on zfs",
			files:  []entry{{"etc/os-release", testutil.OSNixOS}, {"proc/mounts", testutil.MountsZFS}},
			needed: true,
			notes:  []string{"boot.extraModprobeConfig"},
		},
		{
			name:  "debian, root on ext4",
			files: []entry{{"etc/os-release", testutil.OSDebian}, {"proc/mounts", testutil.MountsExt4}},
			why:   "root file system is ext4 (/proc/mounts: /dev/sda1 on /) and no initramfs configuration mentions zfs: the zfs module loads after boot",
		},
		{
			name:  "fedora, root on ext4",
			files: []entry{{"etc/os-release", testutil.OSFedora}, {"proc/mounts", testutil.MountsExt4}},
		},
		{
			name: "debian, root on ext4, zfs listed in initramfs-tools/modules",
			files: []entry{{"etc/os-release", testutil.OSDebian}, {"proc/mounts", testutil.MountsExt4},
				{"etc/initramfs-tools/modules", "# List of modules that you want to include in your initramfs.\n# zfs would go here\nraid1\nzfs\n"}},
			needed:  true,
			rebuild: "update-initramfs -u -k all",
			why:     "/etc/initramfs-tools/modules:4 mentions zfs (zfs)",
		},
		{
			name: "fedora, root on ext4, dracut told to add zfs",
			files: []entry{{"etc/os-release", testutil.OSFedora}, {"proc/mounts", testutil.MountsExt4},
				{"etc/dracut.conf.d/zfs.conf", "add_dracutmodules+=\" zfs \" # for the pool\n"},
				{"etc/dracut.conf.d/other.conf", "# zfs is not here\nhostonly=\"yes\"\nomit_dracutmodules+=\" zfsfoo \"\n"}},
			needed:  true,
			rebuild: "dracut -f",
			why:     "/etc/dracut.conf.d/zfs.conf:1 mentions zfs",
			notes:   []string{"host-only", "--regenerate-all"},
		},
		{
			name: "arch, root on ext4, zfs hook",
			files: []entry{{"etc/os-release", testutil.OSArch}, {"proc/mounts", testutil.MountsExt4},
				{"etc/mkinitcpio.conf", "MODULES=()\nHOOKS=(base udev autodetect modconf block keyboard sd-zfs filesystems)\n"}},
			needed:  true,
			rebuild: "mkinitcpio -P",
			why:     "/etc/mkinitcpio.conf:2 mentions zfs",
		},
		{
			name:  "nothing known",
			notes: []string{"/proc/mounts is missing"},
			why:   "the zfs module loads after boot",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := plan(t, mkroot(t, tt.files...))
			if err != nil {
				t.Fatal(err)
			}
			if st.InitramfsNeeded != tt.needed || st.RebuildCommand != tt.rebuild {
				t.Errorf("InitramfsNeeded=%v RebuildCommand=%q; want %v %q (why: %s)", st.InitramfsNeeded, st.RebuildCommand, tt.needed, tt.rebuild, st.Why)
			}
			if !strings.Contains(st.Why, tt.why) || st.Why == "" {
				t.Errorf("Why = %q, want it to contain %q", st.Why, tt.why)
			}
			if len(st.Notes) != len(tt.notes) {
				t.Fatalf("Notes = %q, want %d", st.Notes, len(tt.notes))
			}
			for i, n := range tt.notes {
				if !strings.Contains(st.Notes[i], n) {
					t.Errorf("Notes[%d] = %q, want %q", i, st.Notes[i], n)
				}
			}
			if st.Reboot != "reboot" {
				t.Errorf("Reboot = %q", st.Reboot)
			}
			wantVerify := []string{
				"cat /sys/module/zfs/parameters/zfs_arc_max",
				`awk '$1 == "c_max" {print $3}' /proc/spl/kstat/zfs/arcstats`,
				"arcadvise --check",
			}
			if diff := cmp.Diff(wantVerify, st.Verify); diff != "" {
				t.Errorf("Verify (-want +got):\n%s", diff)
			}
		})
	}
}

// The lab's Debian bookworm guest (root on ext4): zfs was not in the
// initramfs and a plain reboot applied the new value (PASS verdict).
func TestPlanLab(t *testing.T) {
	st, err := plan(t, filepath.Join("testdata", "lab-2.1.11-deb12"))
	if err != nil {
		t.Fatal(err)
	}
	if st.InitramfsNeeded || st.RebuildCommand != "" {
		t.Errorf("%+v", st)
	}
	if !strings.HasPrefix(st.Why, "root file system is ext4 (/proc/mounts: /dev/vda on /)") {
		t.Errorf("Why = %q", st.Why)
	}
}

func TestPlanBadMounts(t *testing.T) {
	_, err := plan(t, mkroot(t, entry{"proc/mounts", "garbage\n"}))
	if err == nil || !strings.Contains(err.Error(), "/proc/mounts:1:") {
		t.Errorf("err = %v", err)
	}
}

func TestIsNixOS(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  bool
	}{
		{"debian", map[string]string{"etc/os-release": "ID=debian\n"}, false},
		{"no os-release", nil, false},
		{"ID=nixos", map[string]string{"etc/os-release": "NAME=NixOS\nID=nixos\n"}, true},
		{"os-release under /usr/lib", map[string]string{"usr/lib/os-release": "ID=nixos\n"}, true},
		{"/etc/NIXOS only", map[string]string{"etc/NIXOS": ""}, true},
		{"ID_LIKE is not ID", map[string]string{"etc/os-release": "ID=mynix\nID_LIKE=nixos\n"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			testutil.WriteTree(t, root, tt.files)
			fsys := testutil.OpenRoot(t, root)
			d, err := osinfo.ReadDistro(fsys)
			if got := IsNixOS(fsys, d); err != nil || got != tt.want {
				t.Errorf("IsNixOS = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestPlanEvidence: besides a root on ZFS, zfs loads from the initramfs on
// a dracut host with zfs's dracut module (90zfs) installed, and when an
// image itself loads it (/conf/modules).
func TestPlanEvidence(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   []entry
		images  []string
		needed  bool
		rebuild string
		why     string
	}{
		{name: "fedora, ext4 root, no 90zfs",
			files:  []entry{{"etc/os-release", testutil.OSFedora}, {"proc/mounts", testutil.MountsExt4}},
			needed: false},
		{name: "fedora, ext4 root, 90zfs installed",
			files:   []entry{{"etc/os-release", testutil.OSFedora}, {"proc/mounts", testutil.MountsExt4}, {"usr/lib/dracut/modules.d/90zfs/module-setup.sh", "check() { :; }\n"}},
			needed:  true,
			rebuild: "dracut -f",
			why:     "zfs's dracut module is installed (/usr/lib/dracut/modules.d/90zfs): every image dracut builds loads zfs through its udev rule, whatever the root file system: the zfs module loads from the initramfs"},
		{name: "debian, ext4 root, an image that loads zfs",
			files:   []entry{{"etc/os-release", testutil.OSDebian}, {"proc/mounts", testutil.MountsExt4}},
			images:  []string{"/boot/initrd.img-6.1.0-28-amd64 loads zfs: /conf/modules:1 lists zfs"},
			needed:  true,
			rebuild: "update-initramfs -u -k all",
			why:     "/boot/initrd.img-6.1.0-28-amd64 loads zfs: /conf/modules:1 lists zfs: the zfs module loads from the initramfs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := mkroot(t, tc.files...)
			fsys := testutil.OpenRoot(t, root)
			d, err := osinfo.ReadDistro(fsys)
			if err != nil {
				t.Fatal(err)
			}
			m, err := osinfo.ReadMounts(fsys)
			if err != nil {
				t.Fatal(err)
			}
			ev := Evidence{Images: tc.images}
			if _, err := os.Stat(filepath.Join(root, "usr/lib/dracut/modules.d/90zfs/module-setup.sh")); err == nil {
				ev.DracutZFS = "/usr/lib/dracut/modules.d/90zfs"
			}
			st, err := Plan(fsys, d, m, ev)
			if err != nil {
				t.Fatal(err)
			}
			if st.InitramfsNeeded != tc.needed || st.RebuildCommand != tc.rebuild || !strings.Contains(st.Why, tc.why) {
				t.Errorf("got needed %v, rebuild %q, why %q", st.InitramfsNeeded, st.RebuildCommand, st.Why)
			}
		})
	}
}
