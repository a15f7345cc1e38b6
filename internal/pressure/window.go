package pressure

import (
	"fmt"
	"time"

	"github.com/arcadvise/arcadvise/internal/host"
)

// Counter follows one monotonic kernel counter over a window.
type Counter struct {
	First uint64 // value at the first tick that had the counter
	Last  uint64 // value at the last tick that had the counter
	// Delta is the increase over the window: the sum of the tick-to-tick
	// increases. A fall is a reset (see the package doc): it adds nothing
	// and the lower value becomes the new baseline.
	Delta uint64
	// PerMinute is Delta divided by the window length in minutes; 0 for a
	// window of zero length.
	PerMinute float64
	Resets    int // ticks at which the value fell

	n int // ticks that had the counter
}

// add folds the next value of the counter in.
func (c *Counter) add(v uint64) {
	switch {
	case c.n == 0:
		c.First = v
	case v >= c.Last:
		c.Delta += v - c.Last
	default:
		c.Resets++
	}
	c.Last = v
	c.n++
}

func (c *Counter) rate(span time.Duration) {
	c.PerMinute = perMinute(c.Delta, span)
}

// Window summarises a series of host snapshots: a pure fold, with no I/O.
// The sampler (internal/sample) paces the readings and feeds them to Add;
// the verdict on the window is WindowPressure's. The zero Window is empty and
// ready for Add. It keeps a fixed amount of state whatever the number of
// snapshots, unless it keeps its series (KeepSeries).
//
// # Counter resets
//
// Every counter the window tracks only grows while the kernel and the ZFS
// module stay up. When a reading is lower than the one before (the zfs
// module was reloaded, or a counter wrapped), the window does not subtract:
// the lower reading becomes the new baseline, that step adds nothing to the
// delta, and Counter.Resets counts it. The same rule applies to the PSI
// stall totals. Events between the last reading before a reset and the
// reset itself are therefore not counted.
type Window struct {
	Start, End time.Time // times of the first and last snapshot
	// Interval is the sampling interval: the one the sampler waited
	// between live readings, or for a replay the mean spacing of the
	// snapshots.
	Interval time.Duration
	Ticks    int // snapshots folded in

	// arcstats memory_throttle_count, memory_direct_count,
	// memory_indirect_count.
	Throttle, Direct, Indirect Counter

	// NoGrowTime estimates how long arc_no_grow was set: each interval
	// between two snapshots counts in full when the flag was set at both
	// ends, half when it was set at one end only.
	NoGrowTime  time.Duration
	NoGrowTicks int // snapshots at which arc_no_grow was set

	// The ARC target c: its first, last, lowest and highest value.
	CFirst, CLast, CLowest, CHighest uint64
	CDrops                           int    // snapshots at which c was lower than at the one before
	CDropBytes                       uint64 // sum of those falls
	CMaxDrop                         uint64 // largest single fall
	CPulledDown                      bool   // c fell at least once
	// arcstats c_min and c_max at the last snapshot.
	CMin, CMax uint64

	// Lowest memory_available_bytes (OpenZFS 0.7.3+; HasMemAvail says
	// whether any snapshot had it) and when it was seen.
	MinMemAvailable   int64
	MinMemAvailableAt time.Time
	HasMemAvail       bool

	// PSI memory stall time over the window, from the kernel's cumulative
	// "total=" microseconds (not from the avg10/60/300 averages), and as a
	// percentage of the window length. HasPSI: at least two snapshots had
	// PSI. HasPSIFull: at least two had the "full" line.
	PSISomeStall, PSIFullStall time.Duration
	PSISomePct, PSIFullPct     float64
	HasPSI, HasPSIFull         bool
	PSISomeResets              int
	PSIFullResets              int

	// /proc/vmstat: allocstall (the sum of the allocstall_* zones),
	// pgscan_direct, pgscan_kswapd, oom_kill. HasVM: at least two
	// snapshots had /proc/vmstat. A counter the kernel does not have
	// (oom_kill before 4.13) stays zero.
	AllocStall, PgscanDirect, PgscanKswapd, OOMKill Counter
	HasVM                                           bool

	// arcstats mru_ghost_hits + mfu_ghost_hits (reads of data the ARC had
	// evicted, which a larger ARC would have served) and hits + misses (all
	// ARC reads), for the what-if.
	GhostHits, Reads Counter

	// PeakNonARC is the largest NonARCUsed over the snapshots: memory in
	// use that is neither the ARC nor hugepages.
	PeakNonARC   uint64
	PeakNonARCAt time.Time

	// Lowest and highest ARC size.
	ArcSizeMin, ArcSizeMax uint64

	// Series holds every snapshot's point, in order, when KeepSeries was
	// called before the first Add.
	Series []Point

	// Ended says why the window ended before its time, when the sampler
	// knows (the module went away); WindowPressure reports it.
	Ended string

	keepSeries       bool
	vmTicks          int
	prevNoGrow       bool
	prevAt           time.Time
	psiSome, psiFull Counter
}

// Point is one snapshot of a window's series, in the JSON document.
type Point struct {
	T               time.Time `json:"t"`
	Size            uint64    `json:"size_bytes"`
	C               uint64    `json:"c_bytes"`
	CMax            uint64    `json:"c_max_bytes"`
	NoGrow          bool      `json:"arc_no_grow"`
	Direct          uint64    `json:"memory_direct_count"`
	Indirect        uint64    `json:"memory_indirect_count"`
	Throttle        uint64    `json:"memory_throttle_count"`
	MemAvailable    uint64    `json:"mem_available_bytes"`
	ArcMemAvailable *int64    `json:"memory_available_bytes"`
	PSISomeTotalUS  *uint64   `json:"psi_some_total_us"`
	PSIFullTotalUS  *uint64   `json:"psi_full_total_us"`
	AllocStall      *uint64   `json:"allocstall"`
	OOMKill         *uint64   `json:"oom_kill"`
}

// KeepSeries makes Add keep every snapshot's Point in Series, capacity n
// to start with.
func (w *Window) KeepSeries(n int) {
	w.keepSeries = true
	w.Series = make([]Point, 0, n)
}

// arcFields are the arcstats rows a window needs from every snapshot.
var arcFields = [...]string{"size", "c", "c_min", "c_max", "memory_throttle_count", "memory_direct_count", "memory_indirect_count"}

// Add folds one snapshot into the window. Snapshots must come in time
// order. It fails, and leaves the window as it was, when arcstats lacks a
// row the window needs.
func (w *Window) Add(s *host.Snapshot) error {
	var v [len(arcFields)]uint64
	for i, f := range arcFields {
		var ok bool
		if v[i], ok = s.Arc.Uint(f); !ok {
			return fmt.Errorf("arcstats has no %s row", f)
		}
	}
	size, c, cMin, cMax, throttle, direct, indirect := v[0], v[1], v[2], v[3], v[4], v[5], v[6]
	noGrowV, _ := s.Arc.Uint("arc_no_grow")
	noGrow := noGrowV != 0
	memAvail, hasMemAvail := s.Arc.Int("memory_available_bytes")

	if w.Ticks == 0 {
		w.Start = s.At
		w.CFirst, w.CLowest, w.CHighest = c, c, c
		w.ArcSizeMin, w.ArcSizeMax = size, size
	} else {
		dt := s.At.Sub(w.prevAt)
		switch {
		case w.prevNoGrow && noGrow:
			w.NoGrowTime += dt
		case w.prevNoGrow || noGrow:
			w.NoGrowTime += dt / 2
		}
		if c < w.CLast {
			fall := w.CLast - c
			w.CDrops++
			w.CDropBytes += fall
			w.CMaxDrop = max(w.CMaxDrop, fall)
			w.CPulledDown = true
		}
		w.CLowest = min(w.CLowest, c)
		w.CHighest = max(w.CHighest, c)
		w.ArcSizeMin = min(w.ArcSizeMin, size)
		w.ArcSizeMax = max(w.ArcSizeMax, size)
	}
	w.Ticks++
	w.End = s.At
	w.prevAt = s.At
	w.prevNoGrow = noGrow
	w.CLast = c
	w.CMin, w.CMax = cMin, cMax
	if noGrow {
		w.NoGrowTicks++
	}

	w.Throttle.add(throttle)
	w.Direct.add(direct)
	w.Indirect.add(indirect)
	mru, ok1 := s.Arc.Uint("mru_ghost_hits")
	mfu, ok2 := s.Arc.Uint("mfu_ghost_hits")
	if ok1 && ok2 {
		w.GhostHits.add(mru + mfu)
	}
	hits, ok1 := s.Arc.Uint("hits")
	misses, ok2 := s.Arc.Uint("misses")
	if ok1 && ok2 {
		w.Reads.add(hits + misses)
	}

	if hasMemAvail && (!w.HasMemAvail || memAvail < w.MinMemAvailable) {
		w.MinMemAvailable, w.MinMemAvailableAt = memAvail, s.At
		w.HasMemAvail = true
	}

	if s.HasPSI {
		w.psiSome.add(s.PSI.SomeTotal)
		if s.PSI.HasFull {
			w.psiFull.add(s.PSI.FullTotal)
		}
	}
	w.HasPSI = w.psiSome.n >= 2
	w.HasPSIFull = w.psiFull.n >= 2
	w.PSISomeStall = time.Duration(w.psiSome.Delta) * time.Microsecond
	w.PSIFullStall = time.Duration(w.psiFull.Delta) * time.Microsecond
	w.PSISomeResets, w.PSIFullResets = w.psiSome.Resets, w.psiFull.Resets

	if s.HasVM {
		vm := &s.VM
		w.vmTicks++
		if vm.HasAllocStall {
			w.AllocStall.add(vm.AllocStall)
		}
		if vm.HasPgscanDirect {
			w.PgscanDirect.add(vm.PgscanDirect)
		}
		if vm.HasPgscanKswapd {
			w.PgscanKswapd.add(vm.PgscanKswapd)
		}
		if vm.HasOOMKill {
			w.OOMKill.add(vm.OOMKill)
		}
	}
	w.HasVM = w.vmTicks >= 2

	if used := s.NonARCUsed(); w.PeakNonARCAt.IsZero() || used > w.PeakNonARC {
		w.PeakNonARC, w.PeakNonARCAt = used, s.At
	}

	if w.keepSeries {
		w.Series = append(w.Series, pointOf(s, size, c, cMax, noGrow, direct, indirect, throttle))
	}
	w.rates()
	return nil
}

func pointOf(s *host.Snapshot, size, c, cMax uint64, noGrow bool, direct, indirect, throttle uint64) Point {
	pt := Point{T: s.At.UTC(), Size: size, C: c, CMax: cMax, NoGrow: noGrow,
		Direct: direct, Indirect: indirect, Throttle: throttle, MemAvailable: s.Mem.MemAvailable}
	if v, ok := s.Arc.Int("memory_available_bytes"); ok {
		pt.ArcMemAvailable = &v
	}
	if s.HasPSI {
		some := s.PSI.SomeTotal
		pt.PSISomeTotalUS = &some
		if s.PSI.HasFull {
			full := s.PSI.FullTotal
			pt.PSIFullTotalUS = &full
		}
	}
	if s.HasVM {
		a, o := s.VM.AllocStall, s.VM.OOMKill
		pt.AllocStall, pt.OOMKill = &a, &o
	}
	return pt
}

// Len is the length of the window: End − Start.
func (w *Window) Len() time.Duration { return w.End.Sub(w.Start) }

// rates refreshes every per-minute rate and percentage from the current
// window length.
func (w *Window) rates() {
	span := w.Len()
	for _, c := range [...]*Counter{
		&w.Throttle, &w.Direct, &w.Indirect,
		&w.AllocStall, &w.PgscanDirect, &w.PgscanKswapd, &w.OOMKill, &w.GhostHits, &w.Reads,
	} {
		c.rate(span)
	}
	w.PSISomePct, w.PSIFullPct = 0, 0
	if span > 0 {
		w.PSISomePct = 100 * float64(w.PSISomeStall) / float64(span)
		w.PSIFullPct = 100 * float64(w.PSIFullStall) / float64(span)
	}
	if w.Ticks >= 2 {
		w.Interval = span / time.Duration(w.Ticks-1)
	}
}
