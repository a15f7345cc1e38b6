package policy

import "github.com/arcadvise/arcadvise/internal/zfsmod"

// Advisory is a known ARC reclaim or sizing bug of a range of releases.
type Advisory struct {
	From, To zfsmod.Version // affected, inclusive
	Summary  string
	Issues   string // upstream issue numbers
	FixedIn  string // first release with the fix
}

// Affects reports whether v is in the advisory's range.
func (a Advisory) Affects(v zfsmod.Version) bool {
	return v.Known() && v.AtLeast(a.From) && v.Compare(a.To) <= 0
}

// Range renders the affected range, "0.6.5–0.6.5.3".
func (a Advisory) Range() string {
	if a.From.Compare(a.To) == 0 {
		return a.From.String()
	}
	return a.From.String() + "–" + a.To.String()
}

// advisories is the table of zfs-internals.md §5 ("Known ARC-reclaim /
// memory-pressure bugs"), every row verified there from the fix commit's
// message in openzfs/zfs, with the first tagged release containing it.
// Bugs limited to FreeBSD, 32-bit or debug builds are left out, except the
// 0.6.5 NULL dereference in the reclaim path, which is the seed's own crash.
var advisories = []Advisory{
	{zfsmod.V(0, 6, 5, 0), zfsmod.V(0, 6, 5, 1), "deadlock: arc_reclaim_thread blocks on a prune task waiting for ARC memory", "#3808, #3822, #3834", "0.6.5.2"},
	{zfsmod.V(0, 6, 5, 0), zfsmod.V(0, 6, 5, 3), "direct reclaim recurses into ZFS (deadlock on kernels 3.9–3.17, SPL memalloc_noio); NULL dereference in arc_kmem_reap_now on the reclaim path", "spl#515, #4111, #3973", "0.6.5.4"},
	{zfsmod.V(0, 6, 5, 0), zfsmod.V(0, 6, 5, 4), "arc_c collapses under memory pressure (racy shrink); __slab_free livelock in the shrinker", "#3904, #4161, #3936", "0.6.5.5"},
	{zfsmod.V(0, 6, 5, 0), zfsmod.V(0, 6, 5, 7), "arc_prune_task use-after-free on umount; runaway arc_prune/arc_reclaim with unbounded metadata on kernel ≥ 4.6", "#4687, #4690, #4726", "0.6.5.8"},
	{zfsmod.V(0, 7, 0), zfsmod.V(0, 7, 1), "the ARC can collapse to a 32 MiB c_min", "#6659", "0.7.2"},
	{zfsmod.V(0, 7, 0), zfsmod.V(0, 7, 6), "arc_free_memory() reads the wrong vmstat counters, so pressure decisions are wrong on kernels ≥ 3.14/4.8", "#6528, #7170", "0.7.7"},
	{zfsmod.V(0, 8, 0), zfsmod.V(0, 8, 1), "the reap thread drives the ARC target down to c_min; hdr_recl crash on a destroyed zthr", "#8864, #9047", "0.8.2"},
	{zfsmod.V(0, 8, 0), zfsmod.V(0, 8, 2), "runtime zfs_arc_max/zfs_arc_min writes are not applied, leading to OOMs", "#9487, #9489", "0.8.3"},
	{zfsmod.V(0, 8, 0), zfsmod.V(0, 8, 3), "deadlock in arc_read re-entering reclaim", "#9987", "0.8.4"},
	{zfsmod.V(0, 6, 5), zfsmod.V(0, 8, 6), "the shrinker lowers c without waiting for eviction: ARC collapse to c_min and I/O blocked for seconds to minutes under pressure; inactive anon pages counted as free", "#10496, #10600, #10575", "2.0.0"},
	{zfsmod.V(2, 0, 0), zfsmod.V(2, 0, 4), "deadlock removing L2ARC devices under I/O", "#12054", "2.0.5"},
	{zfsmod.V(0, 6, 5), zfsmod.V(2, 1, 2), "arc_prune spins at 100% CPU, up to one thread per CPU", "#9966, #12896", "2.1.3"},
	{zfsmod.V(2, 1, 0), zfsmod.V(2, 1, 6), "ARC target collapse when zfs_arc_meta_limit_percent=100", "#14054, #14093", "2.1.7"},
	{zfsmod.V(2, 0, 0), zfsmod.V(2, 2, 8), "the shrinker ignores reclaim from !__GFP_FS contexts and sets arc_no_grow too late", "#16197", "2.2.9 (2.3.0)"},
	{zfsmod.V(2, 0, 0), zfsmod.V(2, 2, 11), "zfs_arc_shrinker_limit (10000 pages) makes the ARC ignore kernel reclaim: OOM kills and swapping, worst on MGLRU kernels; set zfs_arc_shrinker_limit=0 on 2.2", "#16313, #16909", "2.3.0"},
	{zfsmod.V(2, 2, 0), zfsmod.V(2, 2, 8), "load spikes from dnode pruning when metadata is unevictable", "#16401", "2.2.9"},
	{zfsmod.V(2, 2, 0), zfsmod.V(2, 2, 6), "evicts too many bytes from MFU metadata", "#16521, #16546", "2.2.7"},
	{zfsmod.V(2, 2, 7), zfsmod.V(2, 2, 8), "dnode cache exceeds arc_dnode_limit and does not shrink under pressure for files used from non-root memcgs (containers)", "#17487, #17542", "2.2.9"},
	{zfsmod.V(2, 3, 0), zfsmod.V(2, 3, 3), "dnode cache exceeds arc_dnode_limit and does not shrink under pressure for files used from non-root memcgs (containers)", "#17487, #17542", "2.3.4"},
	{zfsmod.V(2, 3, 0), zfsmod.V(2, 3, 0), "possible deadlock in arc_read against l2arc_evict (L2ARC device removal)", "#17071", "2.3.1"},
	{zfsmod.V(2, 2, 0), zfsmod.V(2, 2, 7), "overflow in arc_evict_adj()", "#17255", "2.2.8"},
	{zfsmod.V(2, 3, 0), zfsmod.V(2, 3, 2), "overflow in arc_evict_adj()", "#17255", "2.3.3"},
}

// AdvisoriesFor returns the known bugs of version v, oldest fix first.
func AdvisoriesFor(v zfsmod.Version) []Advisory {
	var out []Advisory
	for _, a := range advisories {
		if a.Affects(v) {
			out = append(out, a)
		}
	}
	return out
}
