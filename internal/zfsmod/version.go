// Package zfsmod reads the state of the loaded zfs kernel module from
// /sys/module/zfs: its version and the zfs_arc_* parameters, and writes a
// parameter at runtime for --live.
package zfsmod

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// VersionPath is the module version file, relative to a root directory. It is
// set by MODULE_VERSION(ZFS_META_VERSION "-" ZFS_META_RELEASE)
// (module/os/linux/zfs/zfs_ioctl_os.c), e.g. "2.1.11-1" or "0.6.5.11-1".
const VersionPath = "sys/module/zfs/version"

// Version is an OpenZFS (or ZFS on Linux) release number. The zero Version
// means "unknown".
type Version struct {
	Major, Minor, Patch, Fix int    // 0.6.5.11 has Fix 11
	Raw                      string // the text as the module reports it
}

// Known reports whether the version was read.
func (v Version) Known() bool { return v.Raw != "" }

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w,
// looking at the numeric parts only.
func (v Version) Compare(w Version) int {
	a := [4]int{v.Major, v.Minor, v.Patch, v.Fix}
	b := [4]int{w.Major, w.Minor, w.Patch, w.Fix}
	for i := range a {
		switch {
		case a[i] < b[i]:
			return -1
		case a[i] > b[i]:
			return 1
		}
	}
	return 0
}

// AtLeast reports whether v is w or newer.
func (v Version) AtLeast(w Version) bool { return v.Compare(w) >= 0 }

// String returns the numeric release, "2.1.11" or "0.6.5.11".
func (v Version) String() string {
	if !v.Known() {
		return "unknown"
	}
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Fix > 0 {
		s += "." + strconv.Itoa(v.Fix)
	}
	return s
}

// V builds a Version from its numeric parts, for tables and tests.
func V(parts ...int) Version {
	var v Version
	p := [4]*int{&v.Major, &v.Minor, &v.Patch, &v.Fix}
	for i, n := range parts {
		if i < len(p) {
			*p[i] = n
		}
	}
	v.Raw = v.String()
	return v
}

// versionPrefixes are the prefixes a version may carry before its number:
// "zfs-kmod-2.1.5-1" and "zfs-2.1.5-1" as zfs version(8) prints the kernel
// module's and the userland's, and the "v" of a tag such as "v2.1.5".
var versionPrefixes = [...]string{"zfs-kmod-", "zfs-", "v"}

// ParseVersion reads the first line of the version file. A prefix
// (versionPrefixes) is dropped first, then the release part after the
// first '-' (the packaging release, "1+deb12u1", "2~bpo12+1", or a git
// build's "1_gabcdef") is kept in Raw only. Accepted: "2.3.2-2~bpo12+1",
// "0.6.5.11-1", "2.2.99-1_gabcdef", "2.1.11", "zfs-2.1.5", "v2.1.5-1".
func ParseVersion(r io.Reader) (Version, error) {
	sc := bufio.NewScanner(r)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return Version{}, fmt.Errorf("line 1: %w", err)
		}
		return Version{}, fmt.Errorf("line 1: empty version file")
	}
	raw := strings.TrimSpace(sc.Text())
	num := raw
	for _, p := range versionPrefixes {
		if rest, ok := strings.CutPrefix(num, p); ok {
			num = rest
			break
		}
	}
	// The prefix goes before the cut at '-': "zfs-2.1.5" is not "zfs".
	num, _, _ = strings.Cut(num, "-")
	parts := strings.Split(num, ".")
	if len(parts) < 2 || len(parts) > 4 {
		return Version{}, fmt.Errorf("line 1: malformed version %q: want MAJOR.MINOR[.PATCH[.FIX]]", raw)
	}
	v := Version{Raw: raw}
	dst := [4]*int{&v.Major, &v.Minor, &v.Patch, &v.Fix}
	for i, p := range parts {
		// "0.8.0_rc5" style suffixes: keep the leading digits.
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(p[:end])
		if err != nil || end == 0 {
			return Version{}, fmt.Errorf("line 1: malformed version %q: part %q is not a number", raw, p)
		}
		*dst[i] = n
	}
	return v, nil
}
