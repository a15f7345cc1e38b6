package report

import (
	"time"

	"github.com/arcadvise/arcadvise/internal/pressure"
)

// Window is the sampled window in the JSON document: when, how often, each
// signal's totals and rates, and optionally the time series.
type Window struct {
	Start           time.Time          `json:"start"`
	End             time.Time          `json:"end"`
	Seconds         float64            `json:"seconds"`
	IntervalSeconds float64            `json:"interval_seconds"`
	Ticks           int                `json:"ticks"`
	Counters        map[string]Counter `json:"counters"`
	NoGrowSeconds   float64            `json:"arc_no_grow_seconds"`
	C               WindowC            `json:"c"`
	ArcSizeMin      uint64             `json:"arc_size_min_bytes"`
	ArcSizeMax      uint64             `json:"arc_size_max_bytes"`
	MinMemAvailable *int64             `json:"min_memory_available_bytes"`
	PSI             *WindowPSI         `json:"psi"`
	PeakNonARC      uint64             `json:"peak_non_arc_bytes"`
	PeakNonARCAt    time.Time          `json:"peak_non_arc_at"`
	Series          []pressure.Point   `json:"series,omitempty"`
}

// Counter is one counter over the window.
type Counter struct {
	First     uint64  `json:"first"`
	Last      uint64  `json:"last"`
	Delta     uint64  `json:"delta"`
	PerMinute float64 `json:"per_minute"`
	Resets    int     `json:"resets"`
}

// WindowC is how the ARC target moved.
type WindowC struct {
	First        uint64 `json:"first_bytes"`
	Last         uint64 `json:"last_bytes"`
	Lowest       uint64 `json:"lowest_bytes"`
	Highest      uint64 `json:"highest_bytes"`
	Drops        int    `json:"drops"`
	DropBytes    uint64 `json:"drop_bytes"`
	MaxDropBytes uint64 `json:"max_drop_bytes"`
	PulledDown   bool   `json:"pulled_down"`
	CMin         uint64 `json:"c_min_bytes"`
	CMax         uint64 `json:"c_max_bytes"`
}

// WindowPSI is memory stall time over the window, from the total
// microseconds.
type WindowPSI struct {
	SomeStallSeconds float64  `json:"some_stall_seconds"`
	SomePercent      float64  `json:"some_percent"`
	FullStallSeconds *float64 `json:"full_stall_seconds"`
	FullPercent      *float64 `json:"full_percent"`
}

func counter(c pressure.Counter) Counter {
	return Counter{First: c.First, Last: c.Last, Delta: c.Delta, PerMinute: c.PerMinute, Resets: c.Resets}
}

// newWindow converts a sampled window for the JSON document.
func newWindow(w *pressure.Window) *Window {
	out := &Window{
		Start: w.Start.UTC(), End: w.End.UTC(), Seconds: w.Len().Seconds(),
		IntervalSeconds: w.Interval.Seconds(), Ticks: w.Ticks,
		Counters: map[string]Counter{
			"memory_throttle_count": counter(w.Throttle),
			"memory_direct_count":   counter(w.Direct),
			"memory_indirect_count": counter(w.Indirect),
		},
		NoGrowSeconds: w.NoGrowTime.Seconds(),
		C: WindowC{First: w.CFirst, Last: w.CLast, Lowest: w.CLowest, Highest: w.CHighest, Drops: w.CDrops,
			DropBytes: w.CDropBytes, MaxDropBytes: w.CMaxDrop, PulledDown: w.CPulledDown, CMin: w.CMin, CMax: w.CMax},
		ArcSizeMin: w.ArcSizeMin, ArcSizeMax: w.ArcSizeMax,
		PeakNonARC: w.PeakNonARC, PeakNonARCAt: w.PeakNonARCAt.UTC(),
	}
	if w.HasMemAvail {
		v := w.MinMemAvailable
		out.MinMemAvailable = &v
	}
	if w.HasPSI {
		out.PSI = &WindowPSI{SomeStallSeconds: w.PSISomeStall.Seconds(), SomePercent: w.PSISomePct}
		if w.HasPSIFull {
			s, p := w.PSIFullStall.Seconds(), w.PSIFullPct
			out.PSI.FullStallSeconds, out.PSI.FullPercent = &s, &p
		}
	}
	if w.HasVM {
		out.Counters["allocstall"] = counter(w.AllocStall)
		out.Counters["pgscan_direct"] = counter(w.PgscanDirect)
		out.Counters["pgscan_kswapd"] = counter(w.PgscanKswapd)
		out.Counters["oom_kill"] = counter(w.OOMKill)
	}
	out.Series = w.Series
	return out
}
