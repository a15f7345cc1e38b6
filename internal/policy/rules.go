package policy

import (
	"math"

	"github.com/arcadvise/arcadvise/internal/size"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// The module's own limits, from OpenZFS module/zfs/arc.c and
// module/os/linux/zfs/arc_os.c (zfs-internals.md §2 and §3).
const (
	// MinArcMax is MIN_ARC_MAX = DMU_MAX_ACCESS (include/sys/arc.h): a smaller
	// zfs_arc_max is ignored.
	MinArcMax = 64 * size.MiB
	// MinArcMin is 2 << SPA_MAXBLOCKSHIFT: a smaller zfs_arc_min is ignored,
	// and it is the floor the module itself uses for c_min.
	MinArcMin = 32 * size.MiB
	// MinUsefulArc is arcadvise's sane floor: an ARC below it thrashes its
	// own metadata, so a host that cannot give the ARC this much is
	// reported as over-committed instead of getting a token cap.
	MinUsefulArc = 256 * size.MiB
)

var (
	v0_7_2 = zfsmod.V(0, 7, 2)
	v0_7_9 = zfsmod.V(0, 7, 9)
	v2_0_0 = zfsmod.V(2, 0, 0)
	v2_1_1 = zfsmod.V(2, 1, 1)
	v2_2_9 = zfsmod.V(2, 2, 9)
	v2_3_0 = zfsmod.V(2, 3, 0)
)

// DefaultCMin is the c_min the module picks when zfs_arc_min is 0:
// MAX(allmem/32, 32 MiB) from 0.7.2 on (commit 266b181e75), a flat 32 MiB
// before.
func DefaultCMin(v zfsmod.Version, allmem uint64) uint64 {
	if v.Known() && !v.AtLeast(v0_7_2) {
		return MinArcMin
	}
	return max(allmem/32, MinArcMin)
}

// DefaultCMax is the c_max the module picks when zfs_arc_max is 0: allmem/2
// up to 2.2.x, MAX(allmem*5/8, allmem-1GiB) from 2.3.0 (arc_default_max,
// PR #15437).
func DefaultCMax(v zfsmod.Version, allmem uint64) uint64 {
	if v.Known() && v.AtLeast(v2_3_0) {
		if allmem < size.GiB {
			return DefaultCMin(v, allmem)
		}
		return max(allmem/8*5, allmem-size.GiB)
	}
	return max(allmem/2, DefaultCMin(v, allmem))
}

// DefaultSysFree is the arc_sys_free the module computes when
// zfs_arc_sys_free is 0. 0.6.5–0.8.x: MAX(allmem/64, 512 KiB). 2.0+
// (arc_set_sys_free, arc_os.c): a watermark of 4·√(allmem in KiB) KiB, the
// kernel's min_free_kbytes formula, clamped to [128 KiB, 64 MiB] (256 MiB
// on 2.2.9+ with kernel ≥ 5.7, assumed here), plus 150% for watermark
// boost, times 3, plus allmem/32. Used only when arcstats lacks the live
// arc_sys_free field (0.6.3 and 0.6.4).
func DefaultSysFree(v zfsmod.Version, allmem uint64) uint64 {
	if !v.Known() || !v.AtLeast(v2_0_0) {
		return max(allmem/64, 512*size.KiB)
	}
	wmark := uint64(math.Sqrt(float64(allmem/1024*16))) * 1024
	hi := uint64(64 * size.MiB)
	if v.AtLeast(v2_2_9) {
		hi = 256 * size.MiB
	}
	wmark = min(max(wmark, 128*size.KiB), hi)
	wmark += wmark * 150 / 100
	return wmark*3 + allmem/32
}

// Violation is a module rule a value breaks: the module would silently
// ignore it.
type Violation struct {
	Rule string `json:"rule"` // what the module requires
	Why  string `json:"why"`  // the source of the rule
}

// CheckArcMax lists the rules of arc_tuning_update() and arc_init() that a
// zfs_arc_max of n breaks, given the allmem and the c_min it will meet.
// A cap at or below c_min is a violation only when no lower zfs_arc_min
// goes with it (lowerMin == 0).
func CheckArcMax(n, allmem, cMin, lowerMin uint64) []Violation {
	var vs []Violation
	if n < MinArcMax {
		vs = append(vs, Violation{
			Rule: "zfs_arc_max must be at least 64 MiB (67108864)",
			Why:  "MIN_ARC_MAX = DMU_MAX_ACCESS in include/sys/arc.h; arc_tuning_update() ignores smaller values",
		})
	}
	if n >= allmem {
		vs = append(vs, Violation{
			Rule: "zfs_arc_max must be below total memory (" + size.Format(allmem) + ")",
			Why:  "arc_tuning_update() requires zfs_arc_max < allmem",
		})
	}
	floor := cMin
	if lowerMin != 0 {
		floor = lowerMin
	}
	if n <= floor && n >= MinArcMax {
		vs = append(vs, Violation{
			Rule: "zfs_arc_max must be above c_min (" + size.Format(floor) + ")",
			Why:  "arc_tuning_update() requires zfs_arc_max > arc_c_min; a runtime write, and a load-time one before 2.1.1, is ignored otherwise",
		})
	}
	return vs
}
