package policy

import (
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/host"

	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// Need is a condition of a bug that arcadvise can check on the host.
type Need int

const (
	Anyhost      Need = iota // nothing checkable: the row is shown
	L2ARC                    // an L2ARC device (arcstats l2_size > 0)
	MetaLimit100             // zfs_arc_meta_limit_percent=100
)

// Advisory is a known ARC reclaim or sizing bug of 64-bit Linux, checked
// against the OpenZFS source (docs/advisories.md gives the commits).
type Advisory struct {
	Summary string
	Issues  string // upstream issue (and PR) numbers
	// Introduced is the first release with the bug.
	Introduced zfsmod.Version
	// Fixed is the first fixed release on each branch that got the fix,
	// oldest branch first; the last is the fix on the main line, which
	// every later branch carries.
	Fixed []zfsmod.Version
	// Workaround is a module parameter setting that avoids the bug
	// without an upgrade ("zfs_arc_shrinker_limit=0"), or "".
	Workaround string
	// Condition says in words what else the bug needs ("" for nothing);
	// Needs is the part of it arcadvise checks.
	Condition string
	Needs     Need
	// Evidence: the fix commits, as in docs/advisories.md.
	Evidence string
}

// Affects reports whether release v carries the bug.
func (a Advisory) Affects(v zfsmod.Version) bool {
	if !v.Known() || !v.AtLeast(a.Introduced) {
		return false
	}
	if len(a.Fixed) == 0 {
		return true
	}
	b := branch(v)
	for _, f := range a.Fixed {
		if branch(f).Compare(b) == 0 {
			return !v.AtLeast(f)
		}
	}
	// No fix on v's branch: it has the fix when it branched off after the
	// main line got it.
	return b.Compare(branch(a.Fixed[len(a.Fixed)-1])) < 0
}

// Range renders the affected range, "2.0.0–2.2.8".
func (a Advisory) Range() string {
	last := "…"
	if n := len(a.Fixed); n > 0 {
		last = "before " + a.Fixed[n-1].String()
	}
	return a.Introduced.String() + " " + last
}

// FixedIn renders the fixed releases: "2.2.9 (2.2.x), 2.3.0".
func (a Advisory) FixedIn() string {
	var parts []string
	for i, f := range a.Fixed {
		s := f.String()
		if i < len(a.Fixed)-1 {
			s += " (" + branchName(f) + ".x)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// Facts are what the host shows that decides whether a bug can apply.
type Facts struct {
	L2ARC  bool              // arcstats l2_size > 0
	Params map[string]string // module parameters by name, as read
}

// FactsOf reads the facts from a snapshot of the host.
func FactsOf(s *host.Snapshot) Facts {
	f := Facts{Params: map[string]string{}}
	if n, ok := s.Arc.Uint("l2_size"); ok && n > 0 {
		f.L2ARC = true
	}
	for name, p := range s.Module.Params {
		if p.Present {
			f.Params[name] = strconv.FormatUint(p.Value, 10)
		}
	}
	return f
}

// applies reports whether the advisory's condition can hold on the host.
func (a Advisory) applies(f Facts) bool {
	switch a.Needs {
	case L2ARC:
		return f.L2ARC
	case MetaLimit100:
		return f.Params[zfsmod.MetaLimitPercent] == "100"
	}
	return true
}

// covered reports whether the host already has the workaround set.
func (a Advisory) covered(f Facts) bool {
	name, val, ok := strings.Cut(a.Workaround, "=")
	return ok && f.Params[name] == val
}

// Finding is an advisory as it stands on this host.
type Finding struct {
	Advisory
	// Covered: the workaround parameter is already set; the bug does not
	// bite until it is unset.
	Covered bool
}

// AdvisoriesFor returns the known bugs of version v that can apply to the
// host, oldest fix first.
func AdvisoriesFor(v zfsmod.Version, f Facts) []Finding {
	var out []Finding
	for _, a := range advisories {
		if a.Affects(v) && a.applies(f) {
			out = append(out, Finding{Advisory: a, Covered: a.covered(f)})
		}
	}
	return out
}

// UpgradeTo is the lowest release at or after v free of every known bug
// that can apply to the host (on v's own branch when it has one, else on
// the first newer branch that does), and whether there is one.
func UpgradeTo(v zfsmod.Version, f Facts) (zfsmod.Version, bool) {
	if !v.Known() {
		return zfsmod.Version{}, false
	}
	for _, r := range Releases {
		if !r.AtLeast(v) {
			continue
		}
		free := true
		for _, a := range advisories {
			if a.Affects(r) && a.applies(f) {
				free = false
				break
			}
		}
		if free {
			return r, true
		}
	}
	return zfsmod.Version{}, false
}

// advisories: every row checked in the OpenZFS (and SPL) history;
// docs/advisories.md gives the fix commits, the tags that first carry
// them and the code that brought each bug in (rows R1–R22 there). Bugs of
// 32-bit builds (#3973, whose fix is inside #ifdef _ILP32), of Lustre's
// DMU consumer only (#9987) or of module unload only (#9047) are left out:
// arcadvise is for 64-bit Linux hosts that use ZFS file systems.
var advisories = []Advisory{
	{Summary: "deadlock: arc_reclaim_thread waits on an ARC prune task that is itself waiting for ARC memory",
		Issues: "#3822, #3834", Introduced: v(0, 6, 5), Fixed: vs(v(0, 6, 5, 2), v(0, 7, 0)),
		Condition: "memory pressure with metadata over arc_meta_limit", Evidence: "f4943dcbe198 (0.6.5.2), ef5b2e1048ee (0.7.0); R1"},
	{Summary: "direct reclaim recurses into ZFS from SPL slab-grow and taskq threads: deadlock",
		Issues: "#3808, #3867, spl#515 (PR #4111)", Introduced: v(0, 6, 5), Fixed: vs(v(0, 6, 5, 4), v(0, 7, 0)),
		Condition: "kernels 3.9–3.17", Evidence: "spl ce00a203743e, zfs 5f4004efc0ff (0.6.5.4); R2"},
	{Summary: "arc_c collapses under memory pressure (a racy shrink; arc_adapt can panic); __slab_free livelock in the shrinker",
		Issues: "#3904, #4161, #3936, spl#487", Introduced: v(0, 6, 5), Fixed: vs(v(0, 6, 5, 5), v(0, 7, 0)),
		Evidence: "6f7acfc9c97f, spl 2f4b62e0673c (0.6.5.5); R3"},
	{Summary: "arc_prune_task use-after-free on umount; on kernel 4.6 and later metadata of non-root memory cgroups is never pruned, and arc_prune/arc_reclaim spin",
		Issues: "#4687, #4690, #4726", Introduced: v(0, 6, 5), Fixed: vs(v(0, 6, 5, 8), v(0, 7, 0)),
		Evidence: "9f5f758d7741, db3f5edcf1b7 (0.6.5.8); R4"},
	{Summary: "the default c_min is only 32 MiB, so under pressure the ARC can shrink to 32 MiB",
		Issues: "PR #6659", Introduced: v(0, 6, 5), Fixed: vs(v(0, 7, 2), v(0, 8, 0)),
		Evidence: "266b181e7594 (0.7.2), 4ce3c45a5e30 (0.8.0); the 0.6.5 branch never got it; R5"},
	{Summary: "free memory is read from the wrong kernel counters, so every pressure decision of the ARC is wrong",
		Issues: "#6528, #7170", Introduced: v(0, 6, 5), Fixed: vs(v(0, 7, 7), v(0, 8, 0)),
		Condition: "kernel 4.8 or later", Evidence: "338523dd6ec6 (0.7.7), e9a77290081b (0.8.0); never on 0.6.5; R6"},
	{Summary: "the reap thread lowers the ARC target to its size or c_min instead of by what was asked",
		Issues: "#8864", Introduced: v(0, 8, 0), Fixed: vs(v(0, 8, 2), v(2, 0, 0)),
		Evidence: "812c36fc711b (0.8.2), d9cd66e45f28 (2.0.0); R7"},
	{Summary: "runtime writes to zfs_arc_max and zfs_arc_min take effect only when the adjust thread next wakes",
		Issues: "#9487 (PR #9489)", Introduced: v(0, 8, 0), Fixed: vs(v(0, 8, 3), v(2, 0, 0)),
		Condition: "values written to /sys at runtime", Evidence: "e05c965d5bac (0.8.3), e35704647e84 (2.0.0); R8"},
	{Summary: "the shrinker lowers c without evicting or waiting: the ARC collapses to c_min and reads and writes block for seconds to minutes",
		Issues: "#10496, #10600", Introduced: v(0, 8, 0), Fixed: vs(v(2, 0, 0)),
		Evidence: "67c0f0dedc5c, 3442c2a02d1b (2.0.0), no 0.8 backport; R10"},
	{Summary: "inactive anonymous pages count as free, so the ARC squeezes the workload into swap",
		Issues: "#10575", Introduced: v(0, 6, 5), Fixed: vs(v(2, 0, 0)),
		Condition: "swap and an anonymous-memory-heavy workload", Evidence: "8fbf432ae274 (2.0.0); R10"},
	{Summary: "deadlock when an L2ARC device is removed or replaced under I/O",
		Issues: "#12054", Introduced: v(0, 8, 3), Fixed: vs(v(2, 0, 5), v(2, 1, 0)),
		Condition: "an L2ARC device removed under I/O", Needs: L2ARC, Evidence: "87d93731e7f6 (2.0.5), 3de7aeb68ac1 (2.1.0); from 0.8.3 by code reading; R11"},
	{Summary: "arc_prune runs up to one thread per CPU and can spin them all at 100% CPU",
		Issues: "#9966, #12896", Introduced: v(0, 6, 5), Fixed: vs(v(2, 1, 3), v(2, 2, 0)),
		Condition: "metadata-heavy use, many mounted datasets", Evidence: "786abf53211d (2.1.3), 462217d1c24a (2.2.0); R12"},
	{Summary: "the ARC target collapses to c_min: metadata is never evicted while c keeps being lowered",
		Issues: "#14054 (PR #14093)", Introduced: v(2, 0, 0), Fixed: vs(v(2, 1, 7), v(2, 2, 0)),
		Condition: "zfs_arc_meta_limit_percent=100", Needs: MetaLimit100, Evidence: "1d2b0563f731 (2.1.7), dc56c673e3b0 (2.2.0); probably from 0.7.0; R13"},
	{Summary: "the shrinker ignores reclaim without __GFP_FS and sets arc_no_grow only after waiting for eviction",
		Issues: "PR #16197", Introduced: v(2, 0, 0), Fixed: vs(v(2, 2, 9), v(2, 3, 0)),
		Evidence: "67ea51710a59 (2.2.9), 55427add3caa (2.3.0); R14"},
	{Summary: "zfs_arc_shrinker_limit (10000 pages) caps what the kernel may reclaim from the ARC at each call: OOM kills and heavy swapping, worst on MGLRU kernels",
		Issues: "#16313, #16909", Introduced: v(2, 0, 0), Fixed: vs(v(2, 3, 0)), Workaround: zfsmod.ShrinkerLimit + "=0",
		Evidence: "bbe8512a93b0, c2d9494f99d2 (2.3.0); never on 2.2 (2.2.11 still 10000); R15"},
	{Summary: "prunes a tenth of the dnodes whenever three quarters of the metadata target is unevictable: load spikes",
		Issues: "#16401", Introduced: v(2, 2, 0), Fixed: vs(v(2, 2, 9), v(2, 3, 0)),
		Condition: "millions of dnodes", Evidence: "10208765ead2 (2.2.9), 5b9f3b7664b5 (2.3.0); R16"},
	{Summary: "evicts too many bytes from MFU metadata",
		Issues: "#16521, #16546", Introduced: v(2, 2, 0), Fixed: vs(v(2, 2, 7), v(2, 3, 0)),
		Evidence: "098789216023 (2.2.7), d40d40913d33 (2.3.0); R17"},
	{Summary: "dnodes held by files of non-root memory cgroups are never freed: the dnode cache grows past arc_dnode_limit",
		Issues: "#17487, #17542", Introduced: v(2, 2, 7), Fixed: vs(v(2, 2, 9), v(2, 3, 4), v(2, 4, 0)),
		Condition: "files used from non-root memory cgroups (containers; on cgroup v2 most services)", Evidence: "2910b5f5ca5b (2.2.9), 4808641e71bb (2.3.4), a7a144e65585 (2.4.0); R18, R19"},
	{Summary: "deadlock between arc_read and l2arc_evict when an L2ARC device is removed",
		Issues: "#17071", Introduced: v(2, 3, 0), Fixed: vs(v(2, 3, 1), v(2, 4, 0)),
		Condition: "an L2ARC device removed under I/O", Needs: L2ARC, Evidence: "637f91821141 (2.3.1), ab3db6d15d16 (2.4.0); R20"},
	{Summary: "overflow in arc_evict_adj(): the eviction balance leaves its range",
		Issues: "#17210 (PR #17255)", Introduced: v(2, 2, 0), Fixed: vs(v(2, 2, 8), v(2, 3, 3), v(2, 4, 0)),
		Evidence: "be72364ad64a (2.2.8), 9b446fbb605e (2.3.3), b1ccab17213b (2.4.0); R21, R22"},
}

func v(parts ...int) zfsmod.Version           { return zfsmod.V(parts...) }
func vs(f ...zfsmod.Version) []zfsmod.Version { return f }
