package policy

import "github.com/arcadvise/arcadvise/internal/host"

// AvailableFormula says how AvailableWithARC is computed, for the report.
const AvailableFormula = "MemAvailable + (ARC size − c_min)"

// AvailableWithARC is the memory a workload can really get: MemAvailable
// plus the ARC above c_min, which the ARC gives back under pressure but
// which no MemAvailable counts: ARC buffers are not page cache, and no
// OpenZFS release reports them to the kernel as available (openzfs/zfs#10255,
// "ARC not accounted as MemAvailable in /proc/meminfo", open; the top
// "where did my RAM go" question; zfs-internals.md §4.1 in the shared
// research). The ARC never shrinks below c_min, so only the part above it
// counts, as htop, btop, netdata and earlyoom add it (htop-dev/htop#1002,
// netdata/netdata#12843, rfjakob/earlyoom#191); an ARC below c_min adds
// nothing. Saturates instead of wrapping.
func AvailableWithARC(h *host.Snapshot) uint64 {
	avail := h.Mem.MemAvailable
	size, _ := h.Arc.Uint("size")
	cMin, _ := h.Arc.Uint("c_min")
	if size <= cMin {
		return avail
	}
	above := size - cMin
	if avail > ^uint64(0)-above {
		return ^uint64(0)
	}
	return avail + above
}
