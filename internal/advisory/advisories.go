package advisory

import (
	"fmt"
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
	PCPercent                // zfs_arc_pc_percent above 0 (its default is 0)
)

// RefKind says what an upstream number is on GitHub.
type RefKind int

const (
	// KindUnchecked: the thread was not found, so its type is not
	// asserted (the number is printed bare).
	KindUnchecked RefKind = iota
	KindIssue
	KindPR
)

func (k RefKind) String() string {
	switch k {
	case KindIssue:
		return "issue"
	case KindPR:
		return "PR"
	}
	return "unchecked"
}

// Ref is an upstream reference: an issue or a pull request of openzfs/zfs
// (Repo "zfs") or of the old openzfs/spl (Repo "spl"). Each one is checked
// against internal/advisory/testdata/references.tsv, which records where its
// type was seen.
type Ref struct {
	Repo string
	Num  int
	Kind RefKind
}

// String is "issue #3822", "PR #4111", "spl PR #515", or "#3834" when the
// type is unchecked.
func (r Ref) String() string {
	s := "#" + strconv.Itoa(r.Num)
	if r.Kind != KindUnchecked {
		s = r.Kind.String() + " " + s
	}
	if r.Repo != "zfs" {
		s = r.Repo + " " + s
	}
	return s
}

// KernelRange is the kernel releases a bug needs: From (major, minor) and
// later, before Before; a zero bound is open.
type KernelRange struct {
	From, Before [2]int
}

func (k KernelRange) any() bool { return k == KernelRange{} }

func (k KernelRange) String() string {
	f := func(v [2]int) string { return fmt.Sprintf("%d.%d", v[0], v[1]) }
	switch {
	case k.From != [2]int{} && k.Before != [2]int{}:
		return "kernel " + f(k.From) + " up to (not including) " + f(k.Before)
	case k.From != [2]int{}:
		return "kernel " + f(k.From) + " or later"
	case k.Before != [2]int{}:
		return "kernel older than " + f(k.Before)
	}
	return ""
}

func (k KernelRange) holds(mm [2]int) bool {
	less := func(a, b [2]int) bool { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] }
	if k.From != [2]int{} && less(mm, k.From) {
		return false
	}
	return k.Before == [2]int{} || less(mm, k.Before)
}

// Advisory is a known ARC reclaim or sizing bug of 64-bit Linux, checked
// against the OpenZFS source (docs/advisories.md gives the commits).
type Advisory struct {
	Summary string
	Refs    []Ref
	// Introduced is the first release with the bug. IntroducedOn lists,
	// for a branch whose releases got it later than Introduced says, the
	// first affected release of that branch (2.2.3 for a bug that came to
	// 2.1 in 2.1.15 and to 2.2 in 2.2.3).
	Introduced   zfsmod.Version
	IntroducedOn []zfsmod.Version
	// Fixed is the first fixed release on each branch that got the fix,
	// oldest branch first; the last is the fix on the main line, which
	// every later branch carries. Empty: no release has a fix.
	Fixed []zfsmod.Version
	// Master is the fix that is on master only, in no release up to the
	// newest checked one (LastChecked), or "".
	Master string
	// Workaround is a module parameter setting that avoids the bug
	// without an upgrade ("zfs_arc_shrinker_limit=0"), or "".
	Workaround string
	// Condition says in words what else the bug needs ("" for nothing);
	// Needs and Kernel are the parts of it arcadvise checks.
	Condition string
	Needs     Need
	Kernel    KernelRange
	// Evidence: the fix commits, as in docs/advisories.md.
	Evidence string
}

// References renders the references: "issue #17210, PR #17255".
func (a Advisory) References() string {
	parts := make([]string, len(a.Refs))
	for i, r := range a.Refs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// Released reports whether some release fixes the bug.
func (a Advisory) Released() bool { return len(a.Fixed) > 0 }

// Affects reports whether release v carries the bug.
func (a Advisory) Affects(v zfsmod.Version) bool {
	if !v.Known() || !v.AtLeast(a.Introduced) {
		return false
	}
	b := branch(v)
	for _, in := range a.IntroducedOn {
		if branch(in).Compare(b) == 0 && !v.AtLeast(in) {
			return false
		}
	}
	if len(a.Fixed) == 0 {
		return true
	}
	for _, f := range a.Fixed {
		if branch(f).Compare(b) == 0 {
			return !v.AtLeast(f)
		}
	}
	// No fix on v's branch: it has the fix when it branched off after the
	// main line got it.
	return b.Compare(branch(a.Fixed[len(a.Fixed)-1])) < 0
}

// Range renders the affected releases among those checked, consecutive
// ones merged: "2.1.15–2.1.16, 2.2.3–2.2.7, 2.3.0–2.3.1"; a run that
// reaches the newest checked release reads "2.2.0 and later".
func (a Advisory) Range() string {
	var parts []string
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		switch {
		case end == len(Releases)-1:
			parts = append(parts, Releases[start].String()+" and later")
		case end == start:
			parts = append(parts, Releases[start].String())
		default:
			parts = append(parts, Releases[start].String()+"–"+Releases[end].String())
		}
		start = -1
	}
	for i, r := range Releases {
		if a.Affects(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i - 1)
	}
	flush(len(Releases) - 1)
	if len(parts) == 0 {
		return "no release up to " + LastChecked().String()
	}
	return strings.Join(parts, ", ")
}

// FixedIn renders the fixed releases: "2.2.9 (2.2.x), 2.3.0", or that no
// release has a fix.
func (a Advisory) FixedIn() string {
	if len(a.Fixed) == 0 {
		s := "no release up to " + LastChecked().String()
		if a.Master != "" {
			s += " (master has " + a.Master + ")"
		}
		return s
	}
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
	Kernel string            // the kernel release, "" when not read
}

// FactsOf reads the facts from a snapshot of the host.
func FactsOf(s *host.Snapshot) Facts {
	f := Facts{Params: map[string]string{}, Kernel: s.Kernel}
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

// kernelVersion is the major and minor number of a kernel release
// ("6.1.0-57-amd64" → 6, 1).
func kernelVersion(rel string) ([2]int, bool) {
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return [2]int{}, false
	}
	minor := parts[1]
	if i := strings.IndexFunc(minor, func(c rune) bool { return c < '0' || c > '9' }); i >= 0 {
		minor = minor[:i]
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return [2]int{}, false
	}
	return [2]int{ma, mi}, true
}

// check reports whether the advisory's condition can hold on the host and,
// when a part of it that arcadvise checks could not be read here, what was
// not checked.
func (a Advisory) check(f Facts) (applies bool, unchecked []string) {
	param := func(name string, holds func(v uint64) bool) bool {
		s, ok := f.Params[name]
		if !ok {
			unchecked = append(unchecked, name+" was not read from /sys/module/zfs/parameters")
			return true
		}
		v, err := strconv.ParseUint(s, 10, 64)
		return err != nil || holds(v)
	}
	applies = true
	switch a.Needs {
	case L2ARC:
		applies = f.L2ARC
	case MetaLimit100:
		applies = param(zfsmod.MetaLimitPercent, func(v uint64) bool { return v == 100 })
	case PCPercent:
		applies = param(zfsmod.PCPercent, func(v uint64) bool { return v > 0 })
	}
	if !a.Kernel.any() && applies {
		if mm, ok := kernelVersion(f.Kernel); ok {
			applies = a.Kernel.holds(mm)
		} else {
			unchecked = append(unchecked, "the kernel release was not read from /proc/sys/kernel/osrelease")
		}
	}
	if !applies {
		unchecked = nil
	}
	return applies, unchecked
}

// applies reports whether the advisory's condition can hold on the host
// (a condition that could not be checked can).
func (a Advisory) applies(f Facts) bool {
	ok, _ := a.check(f)
	return ok
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
	// Unchecked names the parts of the condition arcadvise checks that it
	// could not read on this host: the row is listed in case they hold.
	Unchecked []string
}

// AdvisoriesFor returns the known bugs of version v that can apply to the
// host, oldest fix first.
func AdvisoriesFor(v zfsmod.Version, f Facts) []Finding {
	var out []Finding
	for _, a := range advisories {
		if !a.Affects(v) {
			continue
		}
		if ok, unchecked := a.check(f); ok {
			out = append(out, Finding{Advisory: a, Covered: a.covered(f), Unchecked: unchecked})
		}
	}
	return out
}

// Upgrade is the upgrade answer for a host.
type Upgrade struct {
	// To is the lowest release at or after the running one that carries
	// no known bug that can apply to the host, that a release fixes, and
	// whose workaround is not already set here: the running release when
	// it is free of them.
	To zfsmod.Version
	// Keep lists the workarounds set on this host that To relies on:
	// unset them and To carries their bugs again.
	Keep []string
	// Unfixed are the bugs no release fixes (up to LastChecked) that To
	// carries and that can apply: no upgrade avoids them.
	Unfixed []Finding
	// Beyond: the running release is newer than every release the table
	// was checked against, so what it fixes or carries is not known here.
	Beyond bool
}

// blocks reports whether a keeps release r from being the upgrade answer.
func (a Advisory) blocks(r zfsmod.Version, f Facts) bool {
	return a.Released() && a.Affects(r) && a.applies(f) && !a.covered(f)
}

// UpgradeFor is the upgrade answer for a host running v (on v's own branch
// when it has a release free of the bugs, else on the first newer branch
// that does), and whether there is one.
func UpgradeFor(v zfsmod.Version, f Facts) (Upgrade, bool) {
	if !v.Known() {
		return Upgrade{}, false
	}
	if v.Compare(LastChecked()) > 0 {
		return Upgrade{To: v, Beyond: true}, true
	}
	for _, r := range Releases {
		if !r.AtLeast(v) {
			continue
		}
		free := true
		for _, a := range advisories {
			if a.blocks(r, f) {
				free = false
				break
			}
		}
		if !free {
			continue
		}
		u := Upgrade{To: r}
		for _, a := range advisories {
			if !a.Affects(u.To) || !a.applies(f) {
				continue
			}
			switch {
			case !a.Released():
				_, unchecked := a.check(f)
				u.Unfixed = append(u.Unfixed, Finding{Advisory: a, Unchecked: unchecked})
			case a.covered(f):
				u.Keep = append(u.Keep, a.Workaround)
			}
		}
		return u, true
	}
	return Upgrade{}, false
}

// advisories: every row checked in the OpenZFS (and SPL) history;
// docs/advisories.md gives the fix commits, the tags that first carry
// them and the code that brought each bug in (rows R1–R26 there). Bugs of
// 32-bit builds (#3973, whose fix is inside #ifdef _ILP32), of Lustre's
// DMU consumer only (#9987) or of module unload only (#9047) are left out:
// arcadvise is for 64-bit Linux hosts that use ZFS file systems. Each
// reference's type (issue or PR) is in testdata/references.tsv.
var advisories = []Advisory{
	{Summary: "deadlock: arc_reclaim_thread waits on an ARC prune task that is itself waiting for ARC memory",
		Refs: refs(issue(3822), unchecked(3834)), Introduced: v(0, 6, 5), Fixed: vs(v(0, 6, 5, 2), v(0, 7, 0)),
		Condition: "memory pressure with metadata over arc_meta_limit", Evidence: "f4943dcbe198 (0.6.5.2), ef5b2e1048ee (0.7.0); R1"},
	{Summary: "direct reclaim recurses into ZFS from SPL slab-grow and taskq threads: deadlock",
		Refs: refs(issue(3808), issue(3867), splPR(515), pr(4111)), Introduced: v(0, 6, 5), Fixed: vs(v(0, 6, 5, 4), v(0, 7, 0)),
		Condition: "kernels 3.9–3.17", Kernel: KernelRange{From: [2]int{3, 9}, Before: [2]int{3, 18}}, Evidence: "spl ce00a203743e, zfs 5f4004efc0ff (0.6.5.4); R2"},
	{Summary: "arc_c collapses under memory pressure (a racy shrink; arc_adapt can panic); __slab_free livelock in the shrinker",
		Refs: refs(issue(3904), issue(4161), issue(3936), splPR(487)), Introduced: v(0, 6, 5), Fixed: vs(v(0, 6, 5, 5), v(0, 7, 0)),
		Evidence: "6f7acfc9c97f, spl 2f4b62e0673c (0.6.5.5); R3"},
	{Summary: "arc_prune_task use-after-free on umount; on kernel 4.6 and later metadata of non-root memory cgroups is never pruned, and arc_prune/arc_reclaim spin",
		Refs: refs(issue(4687), pr(4690), issue(4726)), Introduced: v(0, 6, 5), Fixed: vs(v(0, 6, 5, 8), v(0, 7, 0)),
		Evidence: "9f5f758d7741, db3f5edcf1b7 (0.6.5.8); R4"},
	{Summary: "the default c_min is only 32 MiB, so under pressure the ARC can shrink to 32 MiB",
		Refs: refs(pr(6659)), Introduced: v(0, 6, 5), Fixed: vs(v(0, 7, 2), v(0, 8, 0)),
		Evidence: "266b181e7594 (0.7.2), 4ce3c45a5e30 (0.8.0); the 0.6.5 branch never got it; R5"},
	{Summary: "free memory is read from the wrong kernel counters, so every pressure decision of the ARC is wrong",
		Refs: refs(pr(6528), pr(7170)), Introduced: v(0, 6, 5), Fixed: vs(v(0, 7, 7), v(0, 8, 0)),
		Condition: "kernel 4.8 or later", Kernel: KernelRange{From: [2]int{4, 8}}, Evidence: "338523dd6ec6 (0.7.7), e9a77290081b (0.8.0); never on 0.6.5; R6"},
	{Summary: "the reap thread lowers the ARC target to its size or c_min instead of by what was asked",
		Refs: refs(pr(8864)), Introduced: v(0, 8, 0), Fixed: vs(v(0, 8, 2), v(2, 0, 0)),
		Evidence: "812c36fc711b (0.8.2), d9cd66e45f28 (2.0.0); R7"},
	{Summary: "runtime writes to zfs_arc_max and zfs_arc_min take effect only when the adjust thread next wakes",
		Refs: refs(issue(9487), pr(9489)), Introduced: v(0, 8, 0), Fixed: vs(v(0, 8, 3), v(2, 0, 0)),
		Condition: "values written to /sys at runtime", Evidence: "e05c965d5bac (0.8.3), e35704647e84 (2.0.0); R8"},
	{Summary: "the shrinker lowers c without evicting or waiting: the ARC collapses to c_min and reads and writes block for seconds to minutes",
		Refs: refs(pr(10496), pr(10600)), Introduced: v(0, 8, 0), Fixed: vs(v(2, 0, 0)),
		Evidence: "67c0f0dedc5c, 3442c2a02d1b (2.0.0), no 0.8 backport; R10"},
	{Summary: "inactive anonymous pages count as free, so the ARC squeezes the workload into swap",
		Refs: refs(pr(10575)), Introduced: v(0, 6, 5), Fixed: vs(v(2, 0, 0)),
		Condition: "swap and an anonymous-memory-heavy workload", Evidence: "8fbf432ae274 (2.0.0); R10"},
	{Summary: "deadlock when an L2ARC device is removed or replaced under I/O",
		Refs: refs(pr(12054), issue(10286)), Introduced: v(0, 8, 3), Fixed: vs(v(2, 0, 5), v(2, 1, 0)),
		Condition: "an L2ARC device removed under I/O", Needs: L2ARC, Evidence: "87d93731e7f6 (2.0.5), 3de7aeb68ac1 (2.1.0); from 0.8.3 by code reading; R11"},
	{Summary: "arc_prune runs up to one thread per CPU and can spin them all at 100% CPU",
		Refs: refs(issue(9966), pr(12896)), Introduced: v(0, 6, 5), Fixed: vs(v(2, 1, 3), v(2, 2, 0)),
		Condition: "metadata-heavy use, many mounted datasets", Evidence: "786abf53211d (2.1.3), 462217d1c24a (2.2.0); R12"},
	{Summary: "the ARC target collapses to c_min: metadata is never evicted while c keeps being lowered",
		Refs: refs(issue(14054), pr(14093)), Introduced: v(2, 0, 0), Fixed: vs(v(2, 1, 7), v(2, 2, 0)),
		Condition: "zfs_arc_meta_limit_percent=100", Needs: MetaLimit100, Evidence: "1d2b0563f731 (2.1.7), dc56c673e3b0 (2.2.0); probably from 0.7.0; R13"},
	{Summary: "the shrinker ignores reclaim without __GFP_FS and sets arc_no_grow only after waiting for eviction",
		Refs: refs(pr(16197)), Introduced: v(2, 0, 0), Fixed: vs(v(2, 2, 9), v(2, 3, 0)),
		Evidence: "67ea51710a59 (2.2.9), 55427add3caa (2.3.0); R14"},
	{Summary: "zfs_arc_shrinker_limit (10000 pages) caps what the kernel may reclaim from the ARC at each call: OOM kills and heavy swapping, worst on MGLRU kernels",
		Refs: refs(pr(16313), pr(16909)), Introduced: v(2, 0, 0), Fixed: vs(v(2, 3, 0)), Workaround: zfsmod.ShrinkerLimit + "=0",
		Evidence: "bbe8512a93b0, c2d9494f99d2 (2.3.0); never on 2.2 (2.2.11 still 10000); R15"},
	{Summary: "prunes a tenth of the dnodes whenever three quarters of the metadata target is unevictable: load spikes",
		Refs: refs(pr(16401)), Introduced: v(2, 2, 0), Fixed: vs(v(2, 2, 9), v(2, 3, 0)),
		Condition: "millions of dnodes", Evidence: "10208765ead2 (2.2.9), 5b9f3b7664b5 (2.3.0); R16"},
	{Summary: "evicts too many bytes from MFU metadata",
		Refs: refs(issue(16521), pr(16546)), Introduced: v(2, 2, 0), Fixed: vs(v(2, 2, 7), v(2, 3, 0)),
		Evidence: "098789216023 (2.2.7), d40d40913d33 (2.3.0); R17"},
	{Summary: "dnodes held by files of non-root memory cgroups are never freed: the dnode cache grows past arc_dnode_limit",
		Refs: refs(issue(17487), pr(17542)), Introduced: v(2, 2, 7), Fixed: vs(v(2, 2, 9), v(2, 3, 4), v(2, 4, 0)),
		Condition: "files used from non-root memory cgroups (containers; on cgroup v2 most services)", Evidence: "2910b5f5ca5b (2.2.9), 4808641e71bb (2.3.4), a7a144e65585 (2.4.0); R18, R19"},
	{Summary: "deadlock between arc_read and l2arc_evict when an L2ARC device is removed",
		Refs: refs(pr(17071)), Introduced: v(2, 3, 0), Fixed: vs(v(2, 3, 1), v(2, 4, 0)),
		Condition: "an L2ARC device removed under I/O", Needs: L2ARC, Evidence: "637f91821141 (2.3.1), ab3db6d15d16 (2.4.0); R20"},
	{Summary: "overflow in arc_evict_adj(): the eviction balance leaves its range",
		Refs: refs(issue(17210), pr(17255)), Introduced: v(2, 2, 0), Fixed: vs(v(2, 2, 8), v(2, 3, 3), v(2, 4, 0)),
		Evidence: "be72364ad64a (2.2.8), 9b446fbb605e (2.3.3), b1ccab17213b (2.4.0); R21, R22"},
	{Summary: "kswapd deadlocks: dbuf_evict_notify() evicts a dbuf from the reclaim thread (dbuf_evict_one → dbuf_destroy → arc_buf_destroy) and waits on a hash lock that a task waiting for memory holds",
		Refs: refs(pr(17561)), Introduced: v(0, 7, 0), Fixed: vs(v(2, 2, 9), v(2, 3, 4), v(2, 4, 0)),
		Condition: "memory pressure (kswapd reclaiming while dbufs are released)", Evidence: "3a8e23d0f8 (2.2.9), c405a7a35c (2.3.4), 0f8a1105ee (2.4.0); from d3c2ae1c08 (0.7.0); never on 2.1; R23"},
	{Summary: "zfs_arc_pc_percent scales the ARC by NR_FILE_PAGES, which counts shared memory such as QEMU guest RAM: the ARC ignores the shrinker and the OOM killer takes QEMU",
		Refs: refs(pr(17334)), Introduced: v(0, 7, 0), Fixed: vs(v(2, 2, 8), v(2, 3, 3), v(2, 4, 0)),
		Condition: "zfs_arc_pc_percent set above its default of 0", Needs: PCPercent, Evidence: "20bf8c6638 (2.2.8), db290fd48b (2.3.3), 0aa83dce99 (2.4.0); from 03b60eee78 (0.7.0); R24"},
	{Summary: "zfs_prune use-after-free at unmount: the ARC's prune callback reaches a superblock whose shrinker is being freed; the first fix (2.2.7, 2.3.0) did not close it",
		Refs: refs(issue(16324), pr(16770), pr(17121)), Introduced: v(2, 1, 15), IntroducedOn: vs(v(2, 2, 3)), Fixed: vs(v(2, 2, 8), v(2, 3, 2), v(2, 4, 0)),
		Condition: "kernel 6.7 or later (code reading), datasets unmounted under memory pressure", Kernel: KernelRange{From: [2]int{6, 7}},
		Evidence: "9631ecf8bd (2.2.8), c22f5c1c55 (2.3.2), a0e62718cf (2.4.0); first attempt 0f86fcc2a7 (2.2.7), ecd0b1528e (2.3.0); from the Linux 6.7 support (2.1.15, 2.2.3); never on 2.1; R25"},
	{Summary: "posix_fadvise(POSIX_FADV_WILLNEED) prefetch has no bound: a large hint pins memory faster than the pool drains it and can OOM the host",
		Refs: refs(issue(15776)), Introduced: v(2, 2, 0), Master: "73b202451e",
		Condition: "programs that call posix_fadvise(POSIX_FADV_WILLNEED) on ZFS files (PostgreSQL does)", Evidence: "from 320f0c6022 (2.2.0, posix_fadvise support); fixed on master only by 73b202451e, in no release up to 2.4.4; R26"},
}

func v(parts ...int) zfsmod.Version           { return zfsmod.V(parts...) }
func vs(f ...zfsmod.Version) []zfsmod.Version { return f }
func refs(r ...Ref) []Ref                     { return r }
func issue(n int) Ref                         { return Ref{Repo: "zfs", Num: n, Kind: KindIssue} }
func pr(n int) Ref                            { return Ref{Repo: "zfs", Num: n, Kind: KindPR} }
func splPR(n int) Ref                         { return Ref{Repo: "spl", Num: n, Kind: KindPR} }
func unchecked(n int) Ref                     { return Ref{Repo: "zfs", Num: n, Kind: KindUnchecked} }
