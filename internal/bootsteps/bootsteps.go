// Package bootsteps says what an admin must do, on this host, after
// changing the zfs module options in /etc/modprobe.d, for them to take
// effect: rebuild the initramfs or not (and with which command), reboot,
// then check.
//
// Module options apply only when the module loads. When root is on ZFS the
// module loads inside the initramfs, from the copy of /etc/modprobe.d the
// initramfs builder took: initramfs-tools' mkinitramfs copies
// /etc/modprobe.d/*.conf and /lib/modprobe.d/*.conf, dracut's
// 90kernel-modules copies /etc/modprobe.d/*.conf in host-only images,
// mkinitcpio's modconf hook copies /etc/modprobe.d/*.conf. The image must
// then be rebuilt (pve-docs local-zfs.adoc: "If your root file system is
// ZFS, you must update your initramfs every time this value changes").
// Otherwise zfs loads later from the real root and reads /etc/modprobe.d
// there.
//
// Plan decides that the initramfs matters when / is a zfs mount in
// proc/mounts, or when a word "zfs" appears outside comments in a file
// that makes the initramfs load the module: etc/initramfs-tools/modules,
// etc/initramfs-tools/conf.d/*, etc/dracut.conf, etc/dracut.conf.d/*.conf,
// etc/mkinitcpio.conf or etc/mkinitcpio.conf.d/*.conf. It does not open
// the initramfs images themselves (compressed cpio archives).
package bootsteps

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// Distro identifies the distribution from os-release(5).
type Distro struct {
	ID     string   // "debian", "fedora", "arch", ...
	IDLike []string // closest first, as os-release lists them
	Name   string   // NAME, e.g. "Debian GNU/Linux"
}

// family returns the first of ID, then ID_LIKE, that names a known family.
func (d Distro) family() string {
	for _, id := range append([]string{d.ID}, d.IDLike...) {
		if f, ok := families[id]; ok {
			return f
		}
	}
	return ""
}

const (
	famDebian = "debian"
	famDracut = "dracut"
	famArch   = "arch"
	famNixOS  = "nixos"
)

// families maps os-release IDs to how their initramfs is rebuilt. Proxmox
// VE reports ID=debian; Ubuntu derivatives list ubuntu or debian in
// ID_LIKE, RHEL rebuilds list rhel or fedora, Arch derivatives arch.
var families = map[string]string{
	"debian": famDebian, "ubuntu": famDebian, "raspbian": famDebian,
	"fedora": famDracut, "rhel": famDracut, "centos": famDracut, "rocky": famDracut,
	"almalinux": famDracut, "ol": famDracut, "amzn": famDracut,
	"suse": famDracut, "opensuse": famDracut, "sles": famDracut,
	"opensuse-leap": famDracut, "opensuse-tumbleweed": famDracut,
	"arch":  famArch,
	"nixos": famNixOS,
}

// Rebuild commands per family (zfs-internals.md §6.1, §6.3).
const (
	RebuildDebian = "update-initramfs -u -k all"
	RebuildDracut = "dracut -f"
	RebuildArch   = "mkinitcpio -P"
)

// Steps is what to do after writing new zfs module options.
type Steps struct {
	Distro Distro
	// InitramfsNeeded says the initramfs carries a copy of the options and
	// must be rebuilt before the reboot.
	InitramfsNeeded bool
	// Why explains InitramfsNeeded, naming what was found.
	Why string
	// RebuildCommand rebuilds the initramfs on this distribution; empty
	// when not needed or when the distribution is not known (see Notes).
	RebuildCommand string
	// Reboot is the command that makes the module load again with the new
	// options.
	Reboot string
	// Verify are commands to run after the reboot.
	Verify []string
	// Notes are caveats for this host.
	Notes []string
}

// Verify commands: what was passed to the module, what the ARC uses, and
// the check of the whole configuration.
var verifyCommands = []string{
	"cat /sys/module/zfs/parameters/zfs_arc_max",
	`awk '$1 == "c_max" {print $3}' /proc/spl/kstat/zfs/arcstats`,
	"arcadvise --check",
}

// ParseOSRelease reads os-release(5): KEY=VALUE lines, values optionally in
// single or double quotes (with backslash escapes inside double quotes),
// '#' comment lines and blank lines. Lines that are not assignments are
// ignored, as systemd does. The only error is a read error.
func ParseOSRelease(r io.Reader) (Distro, error) {
	var d Distro
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		val = unquote(strings.TrimSpace(val))
		switch strings.TrimSpace(key) {
		case "ID":
			d.ID = strings.ToLower(val)
		case "ID_LIKE":
			d.IDLike = strings.Fields(strings.ToLower(val))
		case "NAME":
			d.Name = val
		}
	}
	if err := sc.Err(); err != nil {
		return Distro{}, fmt.Errorf("os-release: %w", err)
	}
	return d, nil
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\\\"$`", v[i+1]) >= 0 {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}

// ParseMounts reads /proc/mounts and returns the type and source of the
// file system mounted on "/" (the last such line: later mounts hide
// earlier ones). Fields are separated by spaces, with the kernel's octal
// escapes (\040 for a space) decoded.
func ParseMounts(r io.Reader) (rootFSType, rootSource string, err error) {
	return parseMounts("/proc/mounts", r)
}

func parseMounts(name string, r io.Reader) (fstype, source string, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	found := false
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return "", "", fmt.Errorf("%s:%d: %q has %d fields, want at least 3 (source, mount point, type)", name, n, line, len(f))
		}
		if unescapeMount(f[1]) == "/" {
			source, fstype, found = unescapeMount(f[0]), unescapeMount(f[2]), true
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("%s: %w", name, err)
	}
	if !found {
		return "", "", fmt.Errorf("%s: no file system is mounted on /", name)
	}
	return fstype, source, nil
}

// unescapeMount decodes the \NNN octal escapes the kernel writes for space,
// tab, newline and backslash in /proc/mounts.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// initramfsConfigs are the files, under root, whose mention of zfs makes
// the initramfs load the module (globs as path.Match patterns).
var initramfsConfigs = []string{
	"/etc/initramfs-tools/modules",
	"/etc/initramfs-tools/conf.d/*",
	"/etc/dracut.conf",
	"/etc/dracut.conf.d/*.conf",
	"/etc/mkinitcpio.conf",
	"/etc/mkinitcpio.conf.d/*.conf",
}

var zfsWord = regexp.MustCompile(`\bzfs\b`)

// Plan works out the steps for the host whose files are under root ("/"
// for the running system). It reads etc/os-release (or
// usr/lib/os-release), proc/mounts and the initramfs configuration files
// listed in the package documentation. Missing files are not errors; a
// proc/mounts that cannot be parsed is.
func Plan(root string) (Steps, error) {
	if root == "" {
		root = "/"
	}
	var st Steps
	d, err := readOSRelease(root)
	if err != nil {
		return Steps{}, err
	}
	st.Distro = d

	var reasons []string
	rootDesc := ""
	fsys, err := rootfs.Open(root)
	if err != nil {
		return Steps{}, err
	}
	defer fsys.Close()
	mounts, err := fsys.ReadFile("proc/mounts", maxMounts)
	switch {
	case err == nil:
		fstype, source, perr := parseMounts("/proc/mounts", bytes.NewReader(mounts))
		if perr != nil {
			return Steps{}, perr
		}
		rootDesc = fmt.Sprintf("root file system is %s (/proc/mounts: %s on /)", fstype, source)
		if fstype == "zfs" {
			reasons = append(reasons, rootDesc)
		}
	case errors.Is(err, fs.ErrNotExist):
		st.Notes = append(st.Notes, "/proc/mounts is missing: cannot tell whether / is on zfs")
	default:
		return Steps{}, err
	}
	mentions, err := zfsInInitramfsConfig(fsys)
	if err != nil {
		return Steps{}, err
	}
	reasons = append(reasons, mentions...)

	st.Reboot = "reboot"
	st.Verify = append([]string(nil), verifyCommands...)
	if len(reasons) == 0 {
		st.Why = "the zfs module loads after boot from the root file system and reads /etc/modprobe.d then: no initramfs rebuild needed"
		if rootDesc != "" {
			st.Why = rootDesc + " and no initramfs configuration mentions zfs: " + st.Why
		}
		if d.family() == famNixOS {
			st.Notes = append(st.Notes, nixosNote)
		}
		return st, nil
	}
	st.InitramfsNeeded = true
	st.Why = strings.Join(reasons, "; ") + ": the zfs module loads from the initramfs, which holds its own copy of /etc/modprobe.d made when it was built"
	switch d.family() {
	case famDebian:
		st.RebuildCommand = RebuildDebian
	case famDracut:
		st.RebuildCommand = RebuildDracut
		st.Notes = append(st.Notes,
			"dracut copies /etc/modprobe.d into host-only images only (Fedora's default); with a generic image, set zfs.zfs_arc_max= on the kernel command line instead",
			"dracut -f rebuilds the image of the running kernel; run dracut -f --regenerate-all if other kernels are installed")
	case famArch:
		st.RebuildCommand = RebuildArch
	case famNixOS:
		st.Notes = append(st.Notes, nixosNote)
	default:
		what := "this distribution"
		if d.Name != "" {
			what = d.Name
		} else if d.ID != "" {
			what = d.ID
		}
		st.Notes = append(st.Notes, fmt.Sprintf("arcadvise does not know how %s rebuilds its initramfs: use its tool, e.g. %s (Debian, Ubuntu, Proxmox), %s (Fedora, RHEL) or %s (Arch)",
			what, RebuildDebian, RebuildDracut, RebuildArch))
	}
	return st, nil
}

// Bounds of what Plan reads: /proc/mounts lists every mount (a container
// host has thousands); configuration files are small.
const (
	maxMounts = 16 << 20
	maxSmall  = 1 << 20
)

const nixosNote = "NixOS generates /etc/modprobe.d and the initrd from configuration.nix: set boot.extraModprobeConfig (or boot.kernelParams) there and run nixos-rebuild boot"

// ReadDistro reads /etc/os-release (or /usr/lib/os-release) under root.
func ReadDistro(root string) (Distro, error) { return readOSRelease(root) }

// UsesDracut reports whether the distribution builds its initramfs with
// dracut and ships kexec-tools for kdump (Fedora, RHEL and their kin);
// otherwise the Debian family's kdump-tools is meant.
func (d Distro) UsesDracut() bool { return d.family() == famDracut }

// IsNixOS reports whether root is a NixOS system (ID=nixos in os-release,
// or /etc/NIXOS, which NixOS creates at activation): there /etc/modprobe.d
// is generated from the system configuration (boot.extraModprobeConfig),
// and a file written into it is lost or refused.
func IsNixOS(root string) (bool, error) {
	d, err := readOSRelease(root)
	if err != nil {
		return false, err
	}
	if d.ID == "nixos" {
		return true, nil
	}
	fsys, err := rootfs.Open(root)
	if err != nil {
		return false, err
	}
	defer fsys.Close()
	_, err = fsys.Lstat("etc/NIXOS")
	return err == nil, nil
}

func readOSRelease(root string) (Distro, error) {
	fsys, err := rootfs.Open(root)
	if err != nil {
		return Distro{}, err
	}
	defer fsys.Close()
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		b, err := fsys.ReadFile(p, maxSmall)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Distro{}, err
		}
		d, err := ParseOSRelease(bytes.NewReader(b))
		if err != nil {
			return Distro{}, fmt.Errorf("%s: %w", p, err)
		}
		return d, nil
	}
	return Distro{}, nil
}

// zfsInInitramfsConfig lists "path:line mentions zfs" for every line of the
// initramfs configuration files that names zfs outside a comment.
func zfsInInitramfsConfig(fsys *rootfs.FS) ([]string, error) {
	var out []string
	for _, pattern := range initramfsConfigs {
		dir, glob := path.Split(pattern)
		des, err := fsys.ReadDir(dir)
		if err != nil {
			continue // no such directory (or not one): nothing configured there
		}
		var matches []string
		for _, de := range des {
			if ok, _ := path.Match(glob, de.Name()); ok {
				matches = append(matches, path.Join(dir, de.Name()))
			}
		}
		sort.Strings(matches)
		for _, m := range matches {
			data, err := fsys.ReadFile(m, maxSmall)
			if errors.Is(err, rootfs.ErrNotRegular) || errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			admin := m
			for i, line := range strings.Split(string(data), "\n") {
				if zfsWord.MatchString(stripComment(line)) {
					out = append(out, fmt.Sprintf("%s:%d mentions zfs (%s)", admin, i+1, strings.TrimSpace(line)))
					break
				}
			}
		}
	}
	return out, nil
}

// stripComment drops a shell comment: from a '#' at the start of the line
// or after a blank.
func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

// Mounted reports whether a file system of type fstype is mounted on
// mountpoint, from /proc/mounts under root (this package is its reader).
// A missing /proc/mounts reads as not mounted.
func Mounted(root, fstype, mountpoint string) (bool, error) {
	fsys, err := rootfs.Open(root)
	if err != nil {
		return false, err
	}
	defer fsys.Close()
	b, err := fsys.ReadFile("proc/mounts", maxMounts)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && unescapeMount(f[1]) == mountpoint && f[2] == fstype {
			return true, nil
		}
	}
	return false, nil
}
