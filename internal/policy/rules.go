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
// up to 2.2.x; from 2.3.0 (arc_default_max, PR #15437) MAX(allmem*5/8,
// allmem-1GiB), and below 1 GiB of memory MAX(allmem*5/8, c_min).
func DefaultCMax(v zfsmod.Version, allmem uint64) uint64 {
	if v.Known() && v.AtLeast(v2_3_0) {
		if allmem < size.GiB {
			return max(allmem*5/8, DefaultCMin(v, allmem))
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
// boost, times 3, plus allmem/32. Recommend uses it only when arcstats
// lacks the live arc_sys_free field: on 0.6.3 and 0.6.4, which have no
// arc_sys_free at all, the 0.6.5 formula is arcadvise's estimate, not the
// module's default (sysFreeEstimate).
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
// zfs_arc_max of n breaks on version v, given the allmem and the c_min it
// will meet. A cap at or below c_min is a violation only when no lower
// zfs_arc_min goes with it (lowerMin == 0).
func CheckArcMax(v zfsmod.Version, n, allmem, cMin, lowerMin uint64) []Violation {
	var vs []Violation
	switch {
	case v.Known() && !v.AtLeast(v0_7_9) && n <= MinArcMax:
		// Up to 0.7.8 the test is zfs_arc_max > 64 MiB (docs/advisories.md).
		vs = append(vs, Violation{
			Rule: "zfs_arc_max must be above 64 MiB (67108864) on " + v.String(),
			Why:  "arc_tuning_update() up to 0.7.8 takes zfs_arc_max > 64 MiB only; 0.7.9 and later take 64 MiB itself",
		})
	case n < MinArcMax:
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

// Versions the model covers: from 0.6.5, where arcstats has arc_sys_free
// and c_min has its documented default. Older releases get the arithmetic
// for reference only (Recommendation.Unsupported).
var v0_6_5 = zfsmod.V(0, 6, 5)

// versionNotes says what the running version changes about the cap.
func versionNotes(v zfsmod.Version, r *Recommendation, allmem uint64) []string {
	var out []string
	if !v.Known() {
		return nil
	}
	if !v.AtLeast(v0_6_5) {
		r.Unsupported = true
		out = append(out, "OpenZFS "+v.String()+" is older than the releases arcadvise models (0.6.5 and later): its c_min default and arc_sys_free are not known here, so the numbers above are for reference only, and --write and --live refuse them.")
	}
	// 0.7.2–0.8.6: at load arc_tuning_update() tests zfs_arc_max against
	// the default c_min before it applies zfs_arc_min (#10157; fixed in
	// 2.0.0 by 36a6e2335c).
	if r.ArcMin != 0 && v.AtLeast(v0_7_2) && !v.AtLeast(v2_0_0) && r.ArcMax <= DefaultCMin(v, allmem) {
		r.LoadOrder = true
		text := "on " + v.String() + " the module applies zfs_arc_max before zfs_arc_min when it loads (#10157, fixed in 2.0.0): a cap not above the default c_min (" + size.Format(DefaultCMin(v, allmem)) + ") is ignored then"
		switch {
		case v.Major == 0 && v.Minor == 7:
			text += "; 0.7 takes it about a second later, when the reclaim thread reads the tunables again."
		case v.Major == 0 && v.Minor == 8 && !v.AtLeast(zfsmod.V(0, 8, 2)):
			text += "; 0.8.0 and 0.8.1 most likely take it right after, when the adjust thread first runs."
		default:
			text += ", and 0.8.2–0.8.6 may keep the default cap until the adjust thread wakes under memory pressure or a zfs_arc_* parameter is written: after each boot, write it again (arcadvise --live from a systemd unit), or upgrade to 2.0.0 or later."
		}
		text += " After the reboot, `arcadvise --check` tells whether it took (docs/advisories.md, rule a)."
		out = append(out, text)
	}
	return out
}
