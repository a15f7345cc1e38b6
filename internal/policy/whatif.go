package policy

import (
	"time"

	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/pressure"
	"github.com/arcadvise/arcadvise/internal/size"
)

// WhatIf is what a sampled window says about other caps. The window saw the
// host's non-ARC memory (the workload, the kernel, services) peak at
// PeakNonARC; the largest cap that would have left the fight line free at
// that peak is
//
//	predicted C* = MemTotal − hugepages − PeakNonARC − fight line − ARC overrun
//
// The fight line is the recommendation's free floor (freeFloor): the
// kernel's low watermarks lifted by the watermark boost that
// vm.watermark_boost_factor allows, where
// kswapd wakes and calls the ARC's shrinker (memory_indirect_count), or
// arc_sys_free without /proc/zoneinfo. Above it and below arc_sys_free the
// ARC gives memory back on its own (the reap thread), which stalls nobody.
// The ARC overrun is the recommendation's too (arcOverrun). The prediction
// is the recommendation's sum with the window's peak in place of the
// reservation and the host: where the window saw the workload whole, the
// two differ by the host terms' error and the rounding.
//
// A cap above the prediction would have had the ARC and the workload fight
// at the peak (kswapd or the allocating task reclaiming); a cap at or
// below it would not. The recommendation keeps the free floor instead: it
// is the cap the ARC never has to shrink from at all. It is a prediction
// from one window: a workload that needs more than the window saw needs
// its own --reserve. The lane's frontier scenario checks it against the
// measured C* (docs/real-kernel.md).
type WhatIf struct {
	PeakNonARC   uint64    `json:"peak_non_arc_bytes"`
	PeakNonARCAt time.Time `json:"peak_non_arc_at"`
	// PeakAtEnd: the peak is the window's last reading, so the memory
	// outside the ARC may still have been growing when the window ended
	// (a workload still taking its memory): the prediction is then an
	// upper bound.
	PeakAtEnd bool `json:"peak_at_end,omitempty"`
	// FightLine is the free memory below which the workload would have
	// fought the ARC: the recommendation's free floor, with its source.
	FightLine       uint64 `json:"fight_line_bytes"`
	FightLineSource string `json:"fight_line_source"`
	// PredictedCStar is 0 when the peak and the floor leave no room.
	PredictedCStar uint64      `json:"predicted_c_star_bytes"`
	Caps           []WhatIfCap `json:"caps"`
	// Ghost-list hits over the window (arcstats mru_ghost_hits +
	// mfu_ghost_hits): reads of data the ARC had just evicted, which a
	// larger ARC would have served from memory; Reads is hits + misses.
	GhostHits          uint64  `json:"ghost_hits"`
	GhostHitsPerMinute float64 `json:"ghost_hits_per_minute"`
	Reads              uint64  `json:"reads"`
	// CLowest is the smallest ARC target c the window saw: a cap below it
	// would have evicted data the ARC held all through the window.
	CLowest uint64 `json:"c_lowest_bytes"`
}

// WhatIfCap is the prediction for one cap.
type WhatIfCap struct {
	Cap   uint64 `json:"cap_bytes"`
	Label string `json:"label"`
	// Fights: at the window's peak the free memory would have fallen
	// below the free floor with the ARC at this cap.
	Fights bool `json:"stall_expected"`
	// Margin is predicted C* − cap: the free memory to spare (negative:
	// what the ARC would have had to give back).
	Margin int64 `json:"margin_bytes"`
}

// NewWhatIf predicts from window w, which ended with snapshot s, for the
// caps around recommendation r: r's cap and one and two granularity steps
// either side, and the c_max in force. It returns nil for a window without
// a peak (no snapshot).
func NewWhatIf(w *pressure.Window, s *host.Snapshot, r *Recommendation) *WhatIf {
	if w == nil || w.Ticks == 0 || s == nil {
		return nil
	}
	wi := &WhatIf{PeakNonARC: w.PeakNonARC, PeakNonARCAt: w.PeakNonARCAt.UTC(), PeakAtEnd: w.Ticks > 1 && w.PeakNonARCAt.Equal(w.End),
		GhostHits: w.GhostHits.Delta, GhostHitsPerMinute: w.GhostHits.PerMinute, Reads: w.Reads.Delta, CLowest: w.CLowest}
	wi.FightLine, wi.FightLineSource = r.FreeFloor, "the "+termFreeFloor
	for _, t := range r.Terms {
		if t.Name == termFreeFloor {
			wi.FightLineSource += ": " + t.Source
		}
	}
	room := int64(s.Mem.MemTotal) - int64(s.Mem.Hugepages) - int64(w.PeakNonARC) - int64(wi.FightLine)
	if room > 0 {
		n, _ := arcOverrun(s, uint64(room))
		room -= int64(n)
	}
	wi.PredictedCStar = uint64(max(room, 0))
	step := r.Granularity
	if step == 0 {
		step = 256 * size.MiB
	}
	add := func(c uint64, label string) {
		for _, x := range wi.Caps {
			if x.Cap == c {
				return
			}
		}
		wi.Caps = append(wi.Caps, WhatIfCap{Cap: c, Label: label, Fights: int64(c) > room, Margin: room - int64(c)})
	}
	if r.ArcMax > 0 {
		for _, k := range []int64{-2, -1, 0, 1, 2} {
			c := int64(r.ArcMax) + k*int64(step)
			if c < int64(MinArcMax) {
				continue
			}
			label := "recommended"
			switch {
			case k < 0:
				label = "smaller"
			case k > 0:
				label = "larger"
			}
			add(uint64(c), label)
		}
	}
	if w.CMax > 0 {
		add(w.CMax, "c_max now")
	}
	return wi
}
