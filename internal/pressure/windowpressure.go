package pressure

import (
	"fmt"

	"github.com/arcadvise/arcadvise/internal/host"

	"github.com/arcadvise/arcadvise/internal/size"
)

// WindowPressure grades pressure from what happened during a sampled
// window, not since boot: the deltas of the ARC's reclaim counters, how far
// and how often the target c was pulled down, how long arc_no_grow was set,
// the lowest memory_available_bytes, PSI stall time from the kernel's total
// stall microseconds, and the kernel's own reclaim counters in /proc/vmstat.
// The counters' meanings are those of BootPressure.
func WindowPressure(w *Window) Pressure {
	p := Pressure{Basis: "sampled window"}
	if w.Ended != "" {
		p.Findings = append(p.Findings, w.Ended)
	}
	span := w.Len()
	src := fmt.Sprintf("window of %s", roundDur(span))
	arcSrc := func(f string) string { return "arcstats " + f + ", " + src }

	deltas := map[string]uint64{"memory_throttle_count": w.Throttle.Delta, "memory_direct_count": w.Direct.Delta, "memory_indirect_count": w.Indirect.Delta}
	for _, c := range arcCounters {
		n := deltas[c.name]
		s := counter(c.name, n, span, arcSrc(c.name), c.meaning, "+")
		s.Level = c.level(n, span)
		p.add(s)
	}

	s := Signal{Name: "c pulled down", Source: arcSrc("c"), Value: float64(w.CDropBytes), Unit: Bytes,
		Text: fmt.Sprintf("%s, by %s in all (largest %s); lowest c %s of c_max %s, c_min %s",
			times(w.CDrops), size.Format(w.CDropBytes), size.Format(w.CMaxDrop), size.Format(w.CLowest), size.Format(w.CMax), size.Format(w.CMin)),
		Meaning: "reclaim lowered the ARC's target"}
	switch {
	case w.CPulledDown && collapsed(w.CLowest, w.CMin, w.CMax):
		s.Level, s.Meaning = High, "reclaim drove the ARC's target down to its floor c_min"
	case w.CPulledDown:
		s.Level = Moderate
	}
	p.add(s)

	s = Signal{Name: "arc_no_grow", Value: w.NoGrowTime.Seconds(), Unit: Seconds, Text: fmt.Sprintf("set for %s of %s", roundDur(w.NoGrowTime), roundDur(span)),
		Source: arcSrc("arc_no_grow"), Meaning: "time the ARC was not allowed to grow: free memory below its margin"}
	// At its cap all through the window (c never below c_max), the ARC
	// had nowhere to grow anyway: arc_no_grow only says free memory sat
	// near the margin, which a cap sized to the host leaves. Low at most.
	atCap := !w.CPulledDown && w.CMax > 0 && w.CLowest >= w.CMax
	switch {
	case span > 0 && w.NoGrowTime*2 >= span && !atCap:
		s.Level = Moderate
	case w.NoGrowTime > 0:
		s.Level = Low
		if atCap {
			s.Text += ", with c at c_max all through"
		}
	}
	p.add(s)

	if w.HasMemAvail {
		s = Signal{Name: "memory_available_bytes", Value: float64(w.MinMemAvailable), Unit: Bytes, Text: "lowest " + size.FormatSigned(w.MinMemAvailable), Source: arcSrc("memory_available_bytes"),
			Meaning: "free memory above arc_sys_free as the ARC sees it; negative means the ARC was being reclaimed"}
		if w.MinMemAvailable < 0 {
			s.Level = High
		}
		p.add(s)
	}
	if w.HasPSI {
		s = Signal{Name: "memory PSI stall", Source: "/proc/pressure/memory total, " + src, Value: w.PSISomePct, Unit: Percent,
			Text:    fmt.Sprintf("some %s (%.2f%%)", roundDur(w.PSISomeStall), w.PSISomePct),
			Meaning: "share of the window tasks stalled on memory, from the kernel's total stall microseconds; the value is some"}
		if w.HasPSIFull {
			s.Text += fmt.Sprintf(", full %s (%.2f%%)", roundDur(w.PSIFullStall), w.PSIFullPct)
		}
		s.Level = psiLevel(w.PSISomePct, w.PSIFullPct, w.PSISomeStall > 0)
		p.add(s)
	}
	if w.HasVM {
		// Each kernel reclaim counter raises its level as soon as it moved.
		for _, v := range []struct {
			name, field string
			c           Counter
			level       Level
			meaning     string
		}{
			{"oom_kill", "oom_kill", w.OOMKill, High, "processes killed by the kernel's OOM killer"},
			{"allocstall", "allocstall_*", w.AllocStall, Moderate, "allocations that entered direct reclaim"},
			{"pgscan_direct", "pgscan_direct", w.PgscanDirect, Moderate, "pages scanned by direct reclaim"},
			{"pgscan_kswapd", "pgscan_kswapd", w.PgscanKswapd, Low, "pages scanned by kswapd (background reclaim)"},
		} {
			s = counter(v.name, v.c.Delta, span, "/proc/vmstat "+v.field+", "+src, v.meaning, "+")
			if v.c.Delta > 0 {
				s.Level = v.level
			}
			p.add(s)
		}
	}
	p.corroborate()
	return p
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

// Verdict is the pressure verdict the advice shows: from the window when
// there is one, with the verdict from the counters since boot beside it;
// else from the counters since boot alone.
func Verdict(s *host.Snapshot, w *Window) (verdict Pressure, sinceBoot *Pressure) {
	boot := BootPressure(s.Arc, s.PSI, s.HasPSI, s.CStartsAtMax())
	if w == nil {
		return boot, nil
	}
	return WindowPressure(w), &boot
}
