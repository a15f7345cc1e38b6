// Package osinfo reads what the operating system under a root says about
// itself: the distribution (os-release(5)) and the mount table
// (/proc/mounts). Each is read once per run, into the host snapshot
// (internal/host), and handed to whoever needs it: bootsteps (is / on
// zfs? how is the initramfs rebuilt?), container (is /proc/meminfo an
// lxcfs mount?) and crashcap (is pstore mounted? which kdump tools?).
package osinfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// Distro identifies the distribution from os-release(5).
type Distro struct {
	ID     string   // "debian", "fedora", "arch", ...
	IDLike []string // closest first, as os-release lists them
	Name   string   // NAME, e.g. "Debian GNU/Linux"
	// Path is the file it was read from, "" when there was none.
	Path string
}

// Families of distributions, by how they build their initramfs and which
// kdump tools they ship.
const (
	FamilyDebian = "debian" // initramfs-tools, kdump-tools
	FamilyDracut = "dracut" // dracut, kexec-tools (Fedora, RHEL, SUSE)
	FamilyArch   = "arch"   // mkinitcpio
	FamilyNixOS  = "nixos"  // generated from configuration.nix
)

// families maps os-release IDs to their family. Proxmox VE reports
// ID=debian; Ubuntu derivatives list ubuntu or debian in ID_LIKE, RHEL
// rebuilds list rhel or fedora, Arch derivatives arch.
var families = map[string]string{
	"debian": FamilyDebian, "ubuntu": FamilyDebian, "raspbian": FamilyDebian,
	"fedora": FamilyDracut, "rhel": FamilyDracut, "centos": FamilyDracut, "rocky": FamilyDracut,
	"almalinux": FamilyDracut, "ol": FamilyDracut, "amzn": FamilyDracut,
	"suse": FamilyDracut, "opensuse": FamilyDracut, "sles": FamilyDracut,
	"opensuse-leap": FamilyDracut, "opensuse-tumbleweed": FamilyDracut,
	"arch":  FamilyArch,
	"nixos": FamilyNixOS,
}

// Family returns the family of the first of ID, then ID_LIKE, that names
// a known one, or "".
func (d Distro) Family() string {
	for _, id := range append([]string{d.ID}, d.IDLike...) {
		if f, ok := families[id]; ok {
			return f
		}
	}
	return ""
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
		return Distro{}, err
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

// maxOSRelease bounds the read of os-release: a few hundred bytes.
const maxOSRelease = 1 << 20

// ReadDistro reads /etc/os-release, or /usr/lib/os-release when there is
// none (os-release(5)); with neither, the Distro is empty.
func ReadDistro(fsys *rootfs.FS) (Distro, error) {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		b, err := fsys.ReadFile(p, maxOSRelease)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Distro{}, err
		}
		d, err := ParseOSRelease(bytes.NewReader(b))
		if err != nil {
			return Distro{}, fmt.Errorf("%s: %w", fsys.Path(p), err)
		}
		d.Path = p
		return d, nil
	}
	return Distro{}, nil
}

// Mount is one line of /proc/mounts.
type Mount struct {
	Source, Point, Type string
}

// Mounts is the mount table, in the kernel's order: a later mount on the
// same point hides an earlier one.
type Mounts struct {
	List []Mount
	// Read is false when the root has no proc/mounts (a snapshot that did
	// not record it).
	Read bool
}

// ParseMounts reads /proc/mounts (name is the file, for messages): fields
// separated by blanks, with the kernel's octal escapes (\040 for a space,
// fs/proc_namespace.c mangle()) decoded. A line with fewer than three
// fields is an error naming its line.
func ParseMounts(r io.Reader, name string) (Mounts, error) {
	m := Mounts{Read: true}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1024*1024) // from 4 KiB, grown as a line needs
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return Mounts{}, fmt.Errorf("%s:%d: %q has %d fields, want at least 3 (source, mount point, type)", name, n, line, len(f))
		}
		m.List = append(m.List, Mount{Source: unescape(f[0]), Point: unescape(f[1]), Type: unescape(f[2])})
	}
	if err := sc.Err(); err != nil {
		return Mounts{}, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// unescape decodes the \NNN octal escapes the kernel writes for space,
// tab, newline and backslash.
func unescape(s string) string {
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

// On returns the mount in effect on point: the last one listed there.
func (m Mounts) On(point string) (Mount, bool) {
	for i := len(m.List) - 1; i >= 0; i-- {
		if m.List[i].Point == point {
			return m.List[i], true
		}
	}
	return Mount{}, false
}

// Has reports whether a file system of type fstype is mounted on point.
func (m Mounts) Has(fstype, point string) bool {
	for _, x := range m.List {
		if x.Point == point && x.Type == fstype {
			return true
		}
	}
	return false
}

// MountsPath is the mount table, relative to a root.
const MountsPath = "proc/mounts"

// maxMounts bounds the read of /proc/mounts, which lists every mount (a
// container host has thousands).
const maxMounts = 16 << 20

// ReadMounts reads proc/mounts under the root; a missing file gives
// Mounts with Read false.
func ReadMounts(fsys *rootfs.FS) (Mounts, error) {
	b, err := fsys.ReadFile(MountsPath, maxMounts)
	if errors.Is(err, fs.ErrNotExist) {
		return Mounts{}, nil
	}
	if err != nil {
		return Mounts{}, err
	}
	return ParseMounts(bytes.NewReader(b), fsys.Path(MountsPath))
}
