package osinfo

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// os-release files as the distributions ship them.
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

func TestParseOSRelease(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Distro
	}{
		{"debian", osDebian, Distro{ID: "debian", Name: "Debian GNU/Linux"}},
		{"ubuntu", osUbuntu, Distro{ID: "ubuntu", IDLike: []string{"debian"}, Name: "Ubuntu"}},
		{"rocky", osRocky, Distro{ID: "rocky", IDLike: []string{"rhel", "centos", "fedora"}, Name: "Rocky Linux"}},
		{"nixos unquoted name", osNixOS, Distro{ID: "nixos", Name: "NixOS"}},
		{"quoting and comments", "# comment\n\nNAME='It''s'\nID=\"My\\\"OS\\\\\"\n  ID_LIKE = \"Foo  bar\" \nnot an assignment\n", Distro{ID: "my\"os\\", IDLike: []string{"foo", "bar"}, Name: "It''s"}},
		{"empty", "", Distro{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOSRelease(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ParseOSRelease(iotest.ErrReader(errors.New("boom"))); err == nil {
		t.Error("read error not reported")
	}
}

func TestParseMounts(t *testing.T) {
	tests := []struct {
		name, in, fstype, source, err string
		noRoot                        bool
	}{
		{name: "root on zfs", in: mountsZFS, fstype: "zfs", source: "rpool/ROOT/debian"},
		{name: "root on ext4, pools elsewhere", in: mountsExt4, fstype: "ext4", source: "/dev/sda1"},
		{name: "the last mount on / wins", in: "rootfs / rootfs rw 0 0\nrpool/ROOT/ubuntu_abc / zfs rw 0 0\n", fstype: "zfs", source: "rpool/ROOT/ubuntu_abc"},
		{name: "escapes", in: "my\\040pool/root / zfs rw 0 0\n", fstype: "zfs", source: "my pool/root"},
		{name: "no root", in: "proc /proc proc rw 0 0\n", noRoot: true},
		{name: "short line", in: "proc /proc proc rw 0 0\nbroken /\n", err: "/proc/mounts:2: \"broken /\" has 2 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMounts(strings.NewReader(tt.in), "/proc/mounts")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			root, ok := m.On("/")
			if ok == tt.noRoot || root.Type != tt.fstype || root.Source != tt.source {
				t.Errorf("On(/) = %+v, %v", root, ok)
			}
		})
	}
	m, _ := ParseMounts(strings.NewReader(mountsExt4+"lxcfs /proc/meminfo fuse.lxcfs rw 0 0\n"), "/proc/mounts")
	if !m.Has("fuse.lxcfs", "/proc/meminfo") || m.Has("zfs", "/proc/meminfo") || !m.Has("zfs", "/tank/vm disks") {
		t.Errorf("Has: %+v", m)
	}
}
