package policy

import (
	"fmt"

	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/size"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// ARCSlab is the part of the ARC size that arcstats shows living in the
// kernel's slab, and so in /proc/meminfo's Slab too: the buffer headers
// (hdr_size), dbufs (dbuf_size), dnodes (dnode_size) and bonus buffers
// (bonus_size; 0.6.5 reports the last three together as other_size).
// Their SPL caches hold objects under spl_kmem_cache_slab_limit (16 KiB),
// which are Linux slab caches (spl-kmem-cache.c, spl-0.6.4 on; the bonus
// buffers are kmalloc'ed): before 2.2.7 and 2.3.0 all of it is counted in
// SUnreclaim, from then on the headers and dnodes are KMC_RECLAIMABLE
// (PR #16385: d4b5517ef9, 2.3.0; ca95fa3531, 2.2.7) and are counted in
// SReclaimable. ARC buffers allocated linear (those under 1.5 KiB with
// scatter ABDs) also sit in slab caches, but arcstats does not say how
// much of data_size and metadata_size they are.
// The second result is false when arcstats has none of these rows.
func ARCSlab(s *host.Snapshot) (uint64, bool) {
	var n uint64
	found := false
	for _, f := range []string{"hdr_size", "dbuf_size", "dnode_size", "bonus_size"} {
		v, ok := s.Arc.Uint(f)
		n += v
		found = found || ok
	}
	if !s.Arc.Has("dnode_size") {
		v, ok := s.Arc.Uint("other_size")
		n += v
		found = found || ok
	}
	return n, found
}

// hostTerms are the memory the budget leaves to the kernel and the host's
// own processes besides the reservation. With a declared reservation they
// are measured now:
//
//   - "host in use": NonARCUsed less the processes' memory (AnonPages +
//     Shmem): the kernel (Slab less ARCSlab, stacks, page tables, per-CPU),
//     the page cache in use and the rest;
//   - "process excess": the processes' memory above the
//     reservation, when there is any.
//
// Together with the reservation that is the kernel's share plus the larger
// of the reservation and the processes' memory now: the declared workload is
// taken to be among the processes, up to its size, so a run with the
// workload up does not count it twice, and a workload (or its services)
// holding more than declared counts in full. --host-base replaces both. The
// guess 1 GiB + MemTotal/32 remains only where nothing can be measured: as
// headroom over an observed reservation (the observation already holds the
// host; an undeclared workload can grow), and when meminfo and arcstats
// disagree so that the measurement is zero.
func hostTerms(h *host.Snapshot, in Input, observed bool, reserve uint64) []Term {
	mem := h.Mem.MemTotal
	switch {
	case in.HostBaseSet:
		return []Term{{"host base", int64(in.HostBase), "--host-base (replaces the measured host)"}}
	case observed:
		return []Term{{"host base", int64(DefaultHostBase(mem)), "a guess, 1 GiB + MemTotal/32: headroom over the observed moment, which already holds the kernel and services (--host-base to override)"}}
	}
	used := h.NonARCUsed()
	if used == 0 {
		return []Term{{"host base", int64(DefaultHostBase(mem)), "a guess, 1 GiB + MemTotal/32: the host could not be measured (MemFree + Inactive(file) + ARC size reach MemTotal: is /proc/meminfo the container's?)"}}
	}
	m := &h.Mem
	procs := min(m.AnonPages+m.Shmem, used)
	// The kernel's own memory, without the ARC's objects in Slab: the ARC
	// size already took them out of "used".
	slab := m.SUnreclaim + m.SReclaimable
	arcSlab, known := ARCSlab(h)
	arcSlab = min(arcSlab, slab)
	kernel := slab - arcSlab + m.KernelStack + m.PageTables + m.Percpu
	rest := int64(used-procs) - int64(kernel) - int64(m.ActiveFile)
	kernelNote := fmt.Sprintf("Slab less the ARC's %s of headers, dbufs, dnodes and bonus buffers; small linear ARC buffers may remain in it", size.Format(arcSlab))
	if !known {
		kernelNote = "arcstats has no hdr_size: the ARC's objects in Slab cannot be told apart and remain in it"
	}
	terms := []Term{{"host in use", int64(used - procs), fmt.Sprintf("measured: %s − AnonPages − Shmem; kernel %s (%s), active page cache %s, other %s",
		host.NonARCFormula, size.Format(kernel), kernelNote, size.Format(m.ActiveFile), size.Format(uint64(max(rest, 0))))}}
	if t, ok := pcpTerm(h); ok {
		terms = append(terms, t)
	}
	if procs > reserve {
		terms = append(terms, Term{"process excess", int64(procs - reserve),
			fmt.Sprintf("measured: processes hold %s now (AnonPages + Shmem), more than the reservation", size.Format(procs))})
	}
	return terms
}

// pcpTerm is what the per-CPU free lists may take beyond what the reading
// saw: their bound less their count now (meminfo.Watermarks). The count is
// inside "host in use" already (free pages on these lists are not in
// MemFree), and it moves from one reading to the next; the bound is what the
// lists can hold under load, out of reach of the watermark check and of the
// ARC's own free-memory test. Negative when the lists hold more now than the
// kernel keeps there under pressure (6.7 on). False without
// /proc/zoneinfo's pagesets. Measured (README, known limits): the term
// steadies the recommendation, but with the lists bounded to 4 MiB the lane's
// C* did not rise, so on its guest the bound stands in for memory the model
// does not yet name.
func pcpTerm(h *host.Snapshot) (Term, bool) {
	if !h.HasZones || !h.Zones.HasPCP {
		return Term{}, false
	}
	z := h.Zones
	return Term{"per-CPU lists", int64(z.PCPBound) - int64(z.PCPCount),
		fmt.Sprintf("/proc/zoneinfo pagesets: the per-CPU free lists may hold %s under load, %s now (in host in use); pages there are neither in MemFree nor seen by the watermarks or the ARC", size.Format(z.PCPBound), size.Format(z.PCPCount))}, true
}

// arcOverrun is how far the ARC's size may run above its target c before
// an allocation waits for eviction (arc_is_overflowing and
// arc_wait_for_eviction in module/zfs/arc.c), for c the cap: memory the
// ARC holds beyond the cap while the workload allocates. With
// shift = zfs_arc_overflow_shift (8, not a parameter):
//
//   - up to 2.1.0: MAX(SPA_MAXBLOCKSIZE, c >> 8), SPA_MAXBLOCKSIZE 16 MiB;
//   - 2.1.1 to 2.2.8: 3/2 · MAX(16 MiB, c >> 8) (45305a067f: half of it
//     before eviction is signalled, one more with the reserve);
//   - 2.2.9 and from 2.3.0: zfs_max_recordsize + 3 · ((c >> 8) / 2)
//     (55427add3c, #16197, backported to 2.2.9; zfs_max_recordsize 16 MiB
//     by default).
//
// An unknown version takes the 2.3 rule. It returns the bytes and the
// term's source.
func arcOverrun(h *host.Snapshot, c uint64) (uint64, string) {
	const maxBlock = 16 * size.MiB
	over := c >> 8
	v := h.Module.Version
	switch {
	case v.Known() && !v.AtLeast(v2_1_1):
		n := max(maxBlock, over)
		return n, fmt.Sprintf("the ARC may run MAX(16 MiB, c/256) = %s over its cap before allocations wait (arc.c, up to 2.1.0)", size.Format(n))
	case v.Known() && !v.AtLeast(v2_2_9):
		n := max(maxBlock, over) / 2 * 3
		return n, fmt.Sprintf("the ARC may run 3/2 · MAX(16 MiB, c/256) = %s over its cap before allocations wait (arc.c, 2.1.1 to 2.2.8)", size.Format(n))
	}
	rs, from := uint64(maxBlock), "16 MiB"
	if p := h.Module.Param(zfsmod.MaxRecordsize); p.Present {
		rs, from = p.Value, "the recordsize limit "+size.Format(p.Value)
	}
	n := rs + over/2*3
	return n, fmt.Sprintf("the ARC may run %s + 3/2 · c/256 = %s over its cap before allocations wait (arc.c, 2.2.9 and 2.3 on)", from, size.Format(n))
}

// growthMargin is what a cap must leave free above the floor for the ARC to
// reach it. The ARC stops growing (arc_no_grow) when arc_available_memory()
// — free memory above arc_sys_free — is below arc_c >> shift
// (arc_reap_cb_check, or arc_reclaim_thread before 0.8, in
// module/zfs/arc.c), so of what is left, cap + cap >> shift must fit: the
// margin is left/(2^shift + 1), left/33 for the shift of 5 every release
// has. The recommendation and the what-if both take it from here.
func growthMargin(left int64, shift uint) int64 {
	if left <= 0 {
		return 0
	}
	return left / (int64(1)<<min(shift, maxNoGrowShift) + 1)
}

// maxNoGrowShift bounds the shift so that 2^shift + 1 fits an int64; past
// it the margin is 0 for any real host anyway.
const maxNoGrowShift = 61

// DefaultNoGrowShift is arc_no_grow_shift, a constant 5 in module/zfs/arc.c
// of every release from 0.6.5 to 2.4.4.
const DefaultNoGrowShift = 5

// noGrowShift is the shift the running module uses: zfs_arc_no_grow_shift
// when the module has the parameter (master after 2.4.4, 414ce4b5fc), else
// the constant 5; either way at most zfs_arc_shrink_shift − 1 when that is
// set (arc_tuning_update in module/zfs/arc.c). It returns the source for the
// growth-margin term.
func noGrowShift(h *host.Snapshot) (uint, string) {
	shift := uint64(DefaultNoGrowShift)
	from := "arc_no_grow_shift, 5 in arc.c"
	if p := h.Module.Param(zfsmod.NoGrowShift); p.Present {
		shift, from = p.Value, fmt.Sprintf("zfs_arc_no_grow_shift = %d, /sys/module/zfs/parameters", p.Value)
	}
	if p := h.Module.Param(zfsmod.ShrinkShift); p.Present && p.Value != 0 && p.Value-1 < shift {
		shift, from = p.Value-1, fmt.Sprintf("zfs_arc_shrink_shift = %d caps the no-grow shift at %d", p.Value, p.Value-1)
	}
	s := uint(min(shift, maxNoGrowShift))
	if s == DefaultNoGrowShift && from == "arc_no_grow_shift, 5 in arc.c" {
		return s, "cap/32: the ARC stops growing with less than c/32 free above the floor (arc_no_grow in arc.c)"
	}
	d := uint64(1) << s
	return s, fmt.Sprintf("cap/%d: the ARC stops growing with less than c/%d free above the floor (%s)", d, d, from)
}

// freeFloor is the free memory the host keeps: the larger of arc_sys_free
// (the ARC shrinks itself when MemFree + Inactive(file) fall below it, and
// stops growing near it; zfs-internals.md §3.2) and the kernel's high
// watermarks (/proc/zoneinfo: below low kswapd wakes and reclaims up to
// high, and below min the allocating task reclaims itself). Either way, a
// cap that leaves less free than this has the workload fight the ARC.
func freeFloor(h *host.Snapshot, sysFree uint64, sysFreeSrc string) (uint64, string) {
	if !h.HasZones {
		return sysFree, sysFreeSrc + "; no /proc/zoneinfo for the kernel's watermarks"
	}
	wm := "kernel high watermarks " + size.Format(h.Zones.High) + " (/proc/zoneinfo; min " + size.Format(h.Zones.Min) + ", vm.min_free_kbytes)"
	if h.Zones.High > sysFree {
		return h.Zones.High, wm + ", above " + sysFreeSrc
	}
	return sysFree, sysFreeSrc + ", above the " + wm
}
