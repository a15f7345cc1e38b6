package sample

import (
	"time"
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

func perMinute(d uint64, span time.Duration) float64 {
	if span <= 0 {
		return 0
	}
	return float64(d) / span.Minutes()
}

// Window summarises the ticks of one sampling run. The zero Window is empty
// and ready for Add. It keeps a fixed amount of state whatever the number of
// ticks, unless KeepSeries is set.
type Window struct {
	Start, End time.Time // times of the first and last tick
	// Interval is the sampling interval: the one Collect waited between
	// live ticks, or for a replay (and for windows built with Add) the mean
	// spacing of the ticks.
	Interval time.Duration
	Ticks    int

	// arcstats memory_throttle_count, memory_direct_count,
	// memory_indirect_count.
	Throttle, Direct, Indirect Counter

	// NoGrowTime estimates how long arc_no_grow was set: each interval
	// between two ticks counts in full when the flag was set at both ends,
	// half when it was set at one end only.
	NoGrowTime  time.Duration
	NoGrowTicks int // ticks at which arc_no_grow was set

	// The ARC target c: its first, last, lowest and highest value. CMin
	// here is the lowest c seen, not the c_min parameter (that is ArcCMin).
	CFirst, CLast, CMin, CMax uint64
	CDrops                    int    // ticks at which c was lower than at the tick before
	CDropBytes                uint64 // sum of those falls
	CMaxDrop                  uint64 // largest single tick-to-tick fall
	CPulledDown               bool   // c fell at least once
	// c_min and c_max at the last tick.
	ArcCMin, ArcCMax uint64

	// Lowest memory_available_bytes (OpenZFS 0.7.3+; HasMemAvail says
	// whether any tick had it) and when it was seen.
	MinMemAvailable   int64
	MinMemAvailableAt time.Time
	HasMemAvail       bool

	// PSI memory stall time over the window, from the kernel's cumulative
	// "total=" microseconds (not from the avg10/60/300 averages), and as a
	// percentage of the window length. HasPSI: at least two ticks had PSI.
	// HasPSIFull: at least two ticks had the "full" line.
	PSISomeStall, PSIFullStall time.Duration
	PSISomePct, PSIFullPct     float64
	HasPSI, HasPSIFull         bool
	PSISomeResets              int
	PSIFullResets              int

	// /proc/vmstat: allocstall (the sum of the allocstall_* zones),
	// pgscan_direct, pgscan_kswapd, oom_kill. HasVM: at least two ticks had
	// /proc/vmstat. A counter the kernel does not have (oom_kill before
	// 4.13) stays zero.
	AllocStall, PgscanDirect, PgscanKswapd, OOMKill Counter
	HasVM                                           bool

	// PeakNonARC is the largest, over the ticks, of
	// MemTotal − MemAvailable − ARC size, clamped at 0: memory in use that
	// the kernel cannot reclaim and that is not the ARC (the kernel does not
	// count the ARC as available). On kernels without a MemAvailable line
	// (before 3.14) it uses the estimate of meminfo.Info.MemAvailable.
	PeakNonARC   uint64
	PeakNonARCAt time.Time

	// Lowest and highest ARC size.
	ArcSizeMin, ArcSizeMax uint64

	// Series holds every tick, in order, when Options.KeepSeries is set.
	Series []Tick

	vmTicks          int
	prevNoGrow       bool
	prevAt           time.Time
	psiSome, psiFull Counter
}

// Add folds one tick into the window. Ticks must come in time order.
func (w *Window) Add(t *Tick) {
	a := &t.Arc
	first := w.Ticks == 0
	if first {
		w.Start = t.At
		w.CFirst, w.CMin, w.CMax = a.C, a.C, a.C
		w.ArcSizeMin, w.ArcSizeMax = a.Size, a.Size
	} else {
		dt := t.At.Sub(w.prevAt)
		switch {
		case w.prevNoGrow && a.NoGrow:
			w.NoGrowTime += dt
		case w.prevNoGrow || a.NoGrow:
			w.NoGrowTime += dt / 2
		}
		if a.C < w.CLast {
			fall := w.CLast - a.C
			w.CDrops++
			w.CDropBytes += fall
			w.CMaxDrop = max(w.CMaxDrop, fall)
			w.CPulledDown = true
		}
		w.CMin = min(w.CMin, a.C)
		w.CMax = max(w.CMax, a.C)
		w.ArcSizeMin = min(w.ArcSizeMin, a.Size)
		w.ArcSizeMax = max(w.ArcSizeMax, a.Size)
	}
	w.Ticks++
	w.End = t.At
	w.prevAt = t.At
	w.prevNoGrow = a.NoGrow
	w.CLast = a.C
	w.ArcCMin, w.ArcCMax = a.CMin, a.CMax
	if a.NoGrow {
		w.NoGrowTicks++
	}

	w.Throttle.add(a.Throttle)
	w.Direct.add(a.Direct)
	w.Indirect.add(a.Indirect)

	if a.HasMemAvail && (!w.HasMemAvail || a.MemAvail < w.MinMemAvailable) {
		w.MinMemAvailable, w.MinMemAvailableAt = a.MemAvail, t.At
		w.HasMemAvail = true
	}

	if t.HasPSI {
		w.psiSome.add(t.PSI.SomeTotal)
		if t.PSI.HasFull {
			w.psiFull.add(t.PSI.FullTotal)
		}
	}
	w.HasPSI = w.psiSome.n >= 2
	w.HasPSIFull = w.psiFull.n >= 2
	w.PSISomeStall = time.Duration(w.psiSome.Delta) * time.Microsecond
	w.PSIFullStall = time.Duration(w.psiFull.Delta) * time.Microsecond
	w.PSISomeResets, w.PSIFullResets = w.psiSome.Resets, w.psiFull.Resets

	if t.HasVM {
		v := &t.VM
		w.vmTicks++
		if v.HasAllocStall {
			w.AllocStall.add(v.AllocStall)
		}
		if v.HasPgscanDirect {
			w.PgscanDirect.add(v.PgscanDirect)
		}
		if v.HasPgscanKswapd {
			w.PgscanKswapd.add(v.PgscanKswapd)
		}
		if v.HasOOMKill {
			w.OOMKill.add(v.OOMKill)
		}
	}
	w.HasVM = w.vmTicks >= 2

	if used, ok := nonARC(t); ok && (w.PeakNonARCAt.IsZero() || used > w.PeakNonARC) {
		w.PeakNonARC, w.PeakNonARCAt = used, t.At
	}

	if w.KeepsSeries() {
		w.Series = append(w.Series, *t)
	}
	w.rates()
}

// KeepsSeries reports whether Add appends every tick to Series. A window keeps
// its series when Series is non-nil before the first Add (Collect does that
// for Options.KeepSeries).
func (w *Window) KeepsSeries() bool { return w.Series != nil }

// Len is the length of the window: End − Start.
func (w *Window) Len() time.Duration { return w.End.Sub(w.Start) }

// rates refreshes every per-minute rate and percentage from the current
// window length.
func (w *Window) rates() {
	span := w.Len()
	for _, c := range [...]*Counter{
		&w.Throttle, &w.Direct, &w.Indirect,
		&w.AllocStall, &w.PgscanDirect, &w.PgscanKswapd, &w.OOMKill,
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

// nonARC returns MemTotal − MemAvailable − ARC size, clamped at 0. ok is
// false when the tick has no meminfo.
func nonARC(t *Tick) (used uint64, ok bool) {
	m := &t.Mem
	if m.MemTotal == 0 {
		return 0, false
	}
	used = m.MemTotal - min(m.MemAvailable, m.MemTotal)
	if used <= t.Arc.Size {
		return 0, true
	}
	return used - t.Arc.Size, true
}
