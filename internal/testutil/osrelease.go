package testutil

// os-release files as the distributions ship them, and /proc/mounts of a
// host with root on zfs and of one without: the inputs of the tests of
// internal/osinfo and internal/bootsteps.
const (
	OSDebian = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`
	OSUbuntu = `PRETTY_NAME="Ubuntu 24.04.1 LTS"
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
	OSProxmox = OSDebian
	OSMint    = `NAME="Linux Mint"
VERSION="22 (Wilma)"
ID=linuxmint
ID_LIKE="ubuntu debian"
PRETTY_NAME="Linux Mint 22"
`
	OSFedora = `NAME="Fedora Linux"
VERSION="40 (Server Edition)"
ID=fedora
VERSION_ID=40
PRETTY_NAME="Fedora Linux 40 (Server Edition)"
CPE_NAME="cpe:/o:fedoraproject:fedora:40"
VARIANT_ID=server
`
	OSRocky = `NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
`
	OSRHEL = `NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
`
	OSArch = `NAME="Arch Linux"
PRETTY_NAME="Arch Linux"
ID=arch
BUILD_ID=rolling
ANSI_COLOR="38;2;23;147;209"
`
	OSManjaro = `NAME="Manjaro Linux"
PRETTY_NAME="Manjaro Linux"
ID=manjaro
ID_LIKE=arch
BUILD_ID=rolling
`
	OSNixOS = `ANSI_COLOR="1;34"
BUILD_ID="24.05.20240701.89c49874fb15"
ID=nixos
NAME=NixOS
PRETTY_NAME="NixOS 24.05 (Uakari)"
`
	OSAlpine = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.1
PRETTY_NAME="Alpine Linux v3.20"
`
)

const (
	MountsZFS = `rpool/ROOT/debian / zfs rw,relatime,xattr,posixacl,casesensitive 0 0
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
udev /dev devtmpfs rw,nosuid,relatime,size=8138096k,nr_inodes=2034524,mode=755,inode64 0 0
/dev/nvme0n1p2 /boot/efi vfat rw,relatime,fmask=0077,dmask=0077 0 0
rpool/home /home zfs rw,relatime,xattr,posixacl,casesensitive 0 0
`
	MountsExt4 = `/dev/sda1 / ext4 rw,relatime,errors=remount-ro 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tank /tank zfs rw,xattr,noacl 0 0
tank/vm\040disks /tank/vm\040disks zfs rw,xattr,noacl 0 0
`
)
