package advisory

import (
	"fmt"

	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// Releases are the OpenZFS (ZFS on Linux) releases from 0.6.5 on, in
// order: the non-rc zfs-X tags of openzfs/zfs up to zfs-2.4.4 (the x.99
// development tags are not releases; testdata/zfs-release-tags.txt is the
// mirror's tag list they are checked against). Upgrade advice picks from
// them.
var Releases = func() []zfsmod.Version {
	var out []zfsmod.Version
	add := func(major, minor int, patches ...int) {
		for _, p := range patches {
			out = append(out, zfsmod.V(major, minor, p))
		}
	}
	out = append(out, zfsmod.V(0, 6, 5))
	for p := 1; p <= 11; p++ {
		out = append(out, zfsmod.V(0, 6, 5, p))
	}
	add(0, 7, seq(0, 13)...)
	add(0, 8, seq(0, 6)...)
	add(2, 0, seq(0, 7)...)
	add(2, 1, seq(0, 16)...)
	add(2, 2, seq(0, 11)...)
	add(2, 3, seq(0, 9)...)
	add(2, 4, seq(0, 4)...)
	return out
}()

// LastChecked is the newest release the advisory table was checked
// against (zfs-2.4.4): a bug listed as unfixed may be fixed after it, and
// a newer release may carry bugs the table does not know.
func LastChecked() zfsmod.Version { return Releases[len(Releases)-1] }

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// branchName is the line as people write it: "2.2" (for 2.2.x), "0.6.5".
func branchName(v zfsmod.Version) string {
	b := branch(v)
	if b.Major == 0 && b.Minor == 6 {
		return fmt.Sprintf("0.6.%d", b.Patch)
	}
	return fmt.Sprintf("%d.%d", b.Major, b.Minor)
}

// branch is a release's line: 0.6.5 for 0.6.5.x, else major.minor. Only
// its numbers are set (no Raw): it is compared, never printed, and Affects
// asks for it of every release for every advisory, where zfsmod.V's text
// cost a quarter of a million instructions a run.
func branch(v zfsmod.Version) zfsmod.Version {
	if v.Major == 0 && v.Minor == 6 {
		return zfsmod.Version{Major: 0, Minor: 6, Patch: v.Patch}
	}
	return zfsmod.Version{Major: v.Major, Minor: v.Minor}
}
