package policy

import (
	"fmt"
	"strconv"

	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/meminfo"
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

// termFreeFloor names the free floor's term: the what-if takes the floor's
// source from it.
const termFreeFloor = "free floor"

// freeFloor is the free memory a cap must leave at the workload's peak:
// the line below which kswapd wakes and reclaims, calling the ARC's
// shrinker. That is the fight: the workload's allocations then wait on
// reclaim (PSI), and below the min watermarks reclaim themselves. The line
// is the zones' low watermarks lifted by the watermark boost: after an
// external fragmentation event the kernel raises every watermark of a zone
// by up to high × vm.watermark_boost_factor/10000 (1.5 × high by default,
// none with the factor at 0) until kswapd has reclaimed the boost
// (boost_watermark() and wmark_pages(), mm/page_alloc.c and
// include/linux/mmzone.h, Linux 5.0 on), so the floor is low + high ×
// factor/10000, summed over the zones of /proc/zoneinfo, both without the
// boost in force at the reading (meminfo.Watermarks), the factor read from
// proc/sys/vm/watermark_boost_factor (its default, 15000, when the root does
// not have it). The lane measured the fight beginning there (README, "The
// arithmetic"): on its 4 GiB guests with the default factor the largest
// clean cap left the line at 231 MiB free at the workload's peak, and with
// the factor at 0 it lay 144 MiB higher (1392 and 1536 MiB, the settled runs
// taken together), about the 148 MiB the boost no longer takes.
//
// arc_sys_free is not the floor. Below it (MemFree + Inactive(file) <
// arc_sys_free) the ARC gives memory back by itself: arc_reap_cb_check()
// sees arc_available_memory() < 0 and the reap thread lowers c and evicts
// (module/zfs/arc.c, module/os/linux/zfs/arc_os.c), which stalls nobody.
// Where arc_sys_free lies above this floor (8 GiB and more with the
// default watermarks) the ARC holds less than the cap at the workload's
// peak, and the lane's largest clean cap lay above the one that kept
// arc_sys_free free. Without /proc/zoneinfo the floor is arc_sys_free.
func freeFloor(h *host.Snapshot, sysFree uint64, sysFreeSrc string) (uint64, string) {
	if !h.HasZones {
		return sysFree, sysFreeSrc + "; no /proc/zoneinfo for the kernel's watermarks"
	}
	z := h.Zones
	factor, from := uint64(meminfo.DefaultBoostFactor), "vm.watermark_boost_factor 15000, its default: the root does not have the sysctl"
	if h.System != nil && h.HasBoostFactor {
		factor, from = h.BoostFactor, fmt.Sprintf("vm.watermark_boost_factor %d", h.BoostFactor)
	}
	now := ""
	if z.Boost > 0 {
		now = ", without the boost of " + size.Format(z.Boost) + " in force at the reading"
	}
	tail := fmt.Sprintf("; below arc_sys_free %s the ARC gives back by itself", size.Format(sysFree))
	if factor == 0 {
		return z.Low, fmt.Sprintf("where kswapd wakes and reclaims from the ARC: the low watermarks %s (/proc/zoneinfo%s), no watermark boost (%s)%s",
			size.Format(z.Low), now, from, tail)
	}
	boost := meminfo.MaxBoost(z.High, factor)
	times := strconv.FormatFloat(float64(factor)/10000, 'f', -1, 64) // "1.5" by default
	return z.Low + boost, fmt.Sprintf("where kswapd wakes and reclaims from the ARC: the low watermarks %s + a watermark boost of %s × high %s (/proc/zoneinfo%s; boost_watermark(), %s)%s",
		size.Format(z.Low), times, size.Format(z.High), now, from, tail)
}
