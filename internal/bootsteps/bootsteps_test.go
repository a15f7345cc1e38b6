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

// os-release files as the distributions ship them (the same as
// internal/osinfo's tests).
const (
	osDebian = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`
	osUbuntu = `PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
`
	// Proxmox VE keeps Debian's os-release.
	osProxmox = osDebian
	osMint    = `NAME="Linux Mint"
VERSION="22 (Wilma)"
ID=linuxmint
ID_LIKE="ubuntu debian"
PRETTY_NAME="Linux Mint 22"
`
	osFedora = `NAME="Fedora Linux"
VERSION="40 (Server Edition)"
ID=fedora
VERSION_ID=40
PRETTY_NAME="Fedora Linux 40 (Server Edition)"
CPE_NAME="cpe:/o:fedoraproject:fedora:40"
VARIANT_ID=server
`
	osRocky = `NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
`
	osRHEL = `NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
`
	osArch = `NAME="Arch Linux"
PRETTY_NAME="Arch Linux"
ID=arch
BUILD_ID=rolling
ANSI_COLOR="38;2;23;147;209"
`
	osManjaro = `NAME="Manjaro Linux"
PRETTY_NAME="Manjaro Linux"
ID=manjaro
ID_LIKE=arch
BUILD_ID=rolling
`
	osNixOS = `ANSI_COLOR="1;34"
BUILD_ID="24.05.20240701.89c49874fb15"
ID=nixos
NAME=NixOS
PRETTY_NAME="NixOS 24.05 (Uakari)"
`
	osAlpine = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.1
PRETTY_NAME="Alpine Linux v3.20"
`
)

const (
	mountsZFS = `rpool/ROOT/debian / zfs rw,relatime,xattr,posixacl,casesensitive 0 0
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
udev /dev devtmpfs rw,nosuid,relatime,size=8138096k,nr_inodes=2034524,mode=755,inode64 0 0
/dev/nvme0n1p2 /boot/efi vfat rw,relatime,fmask=0077,dmask=0077 0 0
rpool/home /home zfs rw,relatime,xattr,posixacl,casesensitive 0 0
`
	mountsExt4 = `/dev/sda1 / ext4 rw,relatime,errors=remount-ro 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tank /tank zfs rw,xattr,noacl 0 0
tank/vm\040disks /tank/vm\040disks zfs rw,xattr,noacl 0 0
`
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
			files:   []entry{{"etc/os-release", osDebian}, {"proc/mounts", mountsZFS}},
			needed:  true,
			rebuild: "update-initramfs -u -k all",
			why:     "root file system is zfs (/proc/mounts: rpool/ROOT/debian on /): the zfs module loads from the initramfs",
		},
		{
			name:    "ubuntu, root on zfs",
			files:   []entry{{"etc/os-release", osUbuntu}, {"proc/mounts", mountsZFS}},
			needed:  true,
			rebuild: "update-initramfs -u -k all",
		},
		{
			name:    "proxmox, root on zfs",
			files:   []entry{{"etc/os-release", osProxmox}, {"proc/mounts", "rpool/ROOT/pve-1 / zfs rw,relatime,xattr,noacl 0 0\n"}},
			needed:  true,
			rebuild: "update-initramfs -u -k all",
			why:     "rpool/ROOT/pve-1 on /",
		},
		{
			name:    "linux mint (ID_LIKE ubuntu debian), root on zfs",
			files:   []entry{{"etc/os-release", osMint}, {"proc/mounts", mountsZFS}},
			needed:  true,
			rebuild: "update-initramfs -u -k all",
		},
		{
			name:    "fedora, root on zfs",
			files:   []entry{{"etc/os-release", osFedora}, {"proc/mounts", mountsZFS}},
			needed:  true,
			rebuild: "dracut -f",
			notes:   []string{"host-only images", "--regenerate-all"},
		},
		{
			name:    "rocky (ID_LIKE rhel), root on zfs",
			files:   []entry{{"etc/os-release", osRocky}, {"proc/mounts", mountsZFS}},
			needed:  true,
			rebuild: "dracut -f",
			notes:   []string{"host-only", "--regenerate-all"},
		},
		{
			name:    "rhel, os-release under usr/lib only",
			files:   []entry{{"usr/lib/os-release", osRHEL}, {"proc/mounts", mountsZFS}},
			needed:  true,
			rebuild: "dracut -f",
			notes:   []string{"host-only", "--regenerate-all"},
		},
		{
			name:    "arch, root on zfs",
			files:   []entry{{"etc/os-release", osArch}, {"proc/mounts", mountsZFS}},
			needed:  true,
			rebuild: "mkinitcpio -P",
		},
		{
			name:    "manjaro (ID_LIKE arch), root on zfs",
			files:   []entry{{"etc/os-release", osManjaro}, {"proc/mounts", mountsZFS}},
			needed:  true,
			rebuild: "mkinitcpio -P",
		},
		{
			name:   "unknown distribution, root on zfs",
			files:  []entry{{"etc/os-release", osAlpine}, {"proc/mounts", mountsZFS}},
			needed: true,
			notes:  []string{"arcadvise does not know how Alpine Linux rebuilds its initramfs: use its tool, e.g. update-initramfs -u -k all (Debian, Ubuntu, Proxmox), dracut -f (Fedora, RHEL) or mkinitcpio -P (Arch)"},
		},
		{
			name:   "nixos, root on zfs",
			files:  []entry{{"etc/os-release", osNixOS}, {"proc/mounts", mountsZFS}},
			needed: true,
			notes:  []string{"boot.extraModprobeConfig"},
		},
		{
			name:  "debian, root on ext4",
			files: []entry{{"etc/os-release", osDebian}, {"proc/mounts", mountsExt4}},
			why:   "root file system is ext4 (/proc/mounts: /dev/sda1 on /) and no initramfs configuration mentions zfs: the zfs module loads after boot",
		},
		{
			name:  "fedora, root on ext4",
			files: []entry{{"etc/os-release", osFedora}, {"proc/mounts", mountsExt4}},
		},
		{
			name: "debian, root on ext4, zfs listed in initramfs-tools/modules",
			files: []entry{{"etc/os-release", osDebian}, {"proc/mounts", mountsExt4},
				{"etc/initramfs-tools/modules", "# List of modules that you want to include in your initramfs.\n# zfs would go here\nraid1\nzfs\n"}},
			needed:  true,
			rebuild: "update-initramfs -u -k all",
			why:     "/etc/initramfs-tools/modules:4 mentions zfs (zfs)",
		},
		{
			name: "fedora, root on ext4, dracut told to add zfs",
			files: []entry{{"etc/os-release", osFedora}, {"proc/mounts", mountsExt4},
				{"etc/dracut.conf.d/zfs.conf", "add_dracutmodules+=\" zfs \" # for the pool\n"},
				{"etc/dracut.conf.d/other.conf", "# zfs is not here\nhostonly=\"yes\"\nomit_dracutmodules+=\" zfsfoo \"\n"}},
			needed:  true,
			rebuild: "dracut -f",
			why:     "/etc/dracut.conf.d/zfs.conf:1 mentions zfs",
			notes:   []string{"host-only", "--regenerate-all"},
		},
		{
			name: "arch, root on ext4, zfs hook",
			files: []entry{{"etc/os-release", osArch}, {"proc/mounts", mountsExt4},
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
			files:  []entry{{"etc/os-release", osFedora}, {"proc/mounts", mountsExt4}},
			needed: false},
		{name: "fedora, ext4 root, 90zfs installed",
			files:   []entry{{"etc/os-release", osFedora}, {"proc/mounts", mountsExt4}, {"usr/lib/dracut/modules.d/90zfs/module-setup.sh", "check() { :; }\n"}},
			needed:  true,
			rebuild: "dracut -f",
			why:     "zfs's dracut module is installed (/usr/lib/dracut/modules.d/90zfs): every image dracut builds loads zfs through its udev rule, whatever the root file system: the zfs module loads from the initramfs"},
		{name: "debian, ext4 root, an image that loads zfs",
			files:   []entry{{"etc/os-release", osDebian}, {"proc/mounts", mountsExt4}},
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
