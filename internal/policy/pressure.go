package policy

import (
	"fmt"
	"strconv"
	"time"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/meminfo"
	"github.com/arcadvise/arcadvise/internal/size"
)

// Level grades reclaim pressure on the ARC.
type Level int

const (
	None Level = iota
	Low
	Moderate
	High
)

var levelNames = [...]string{"none", "low", "moderate", "high"}

func (l Level) String() string { return levelNames[l] }

// MarshalText makes a Level a JSON string.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// What the ARC's reclaim counters mean, the same since boot and in a window
// (zfs-internals.md §1.6).
const (
	meaningThrottle = "write transactions delayed because free memory was short"
	meaningDirect   = "direct reclaim reached the ARC: a task stalled waiting for memory"
	meaningIndirect = "kswapd asked the ARC to shrink (background reclaim)"
)

// Signal is one piece of evidence, with its value and where it came from.
type Signal struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Source  string `json:"source"`
	Level   Level  `json:"level"`
	Meaning string `json:"meaning"`
}

// Pressure is the verdict and the signals behind it.
type Pressure struct {
	Level   Level    `json:"level"`
	Basis   string   `json:"basis"` // "counters since boot" or "sampled window"
	Signals []Signal `json:"signals"`
	// Findings are conclusions beyond the level, such as a declared
	// reservation the workload outgrew during a sampled window.
	Findings []string `json:"findings,omitempty"`
}

func (p *Pressure) add(s Signal) {
	p.Signals = append(p.Signals, s)
	if s.Level > p.Level {
		p.Level = s.Level
	}
}

// BootPressure grades pressure from the counters arcstats keeps since the
// module loaded and the kernel's PSI averages. The meaning of each counter
// is from zfs-internals.md §1.6 and §3.2: memory_direct_count counts ARC
// shrinker scans from direct reclaim (a task stalled for memory),
// memory_indirect_count those from kswapd, memory_throttle_count write
// transactions delayed for memory.
func BootPressure(st *arcstats.Stats, psi meminfo.PSI, hasPSI bool, cStartsAtMax bool) Pressure {
	p := Pressure{Basis: "counters since boot"}
	uptime := time.Duration(st.Header.SnapTime - st.Header.CrTime)
	perHour := func(n uint64) string {
		if uptime < time.Minute {
			return strconv.FormatUint(n, 10)
		}
		return fmt.Sprintf("%d (%.1f/h over %s)", n, float64(n)/uptime.Hours(), roundDur(uptime))
	}
	src := func(field string) string { return "arcstats " + field }

	if n, ok := st.Uint("memory_throttle_count"); ok {
		s := Signal{Name: "memory_throttle_count", Value: perHour(n), Source: src("memory_throttle_count"),
			Meaning: meaningThrottle}
		if n > 0 {
			s.Level = High
		}
		p.add(s)
	}
	if n, ok := st.Uint("memory_direct_count"); ok {
		s := Signal{Name: "memory_direct_count", Value: perHour(n), Source: src("memory_direct_count"),
			Meaning: meaningDirect}
		switch {
		case n > 0 && uptime >= time.Minute && float64(n)/uptime.Hours() >= 60:
			s.Level = High
		case n > 0:
			s.Level = Moderate
		}
		p.add(s)
	}
	if n, ok := st.Uint("memory_indirect_count"); ok {
		s := Signal{Name: "memory_indirect_count", Value: perHour(n), Source: src("memory_indirect_count"),
			Meaning: meaningIndirect}
		if n > 0 {
			s.Level = Low
		}
		p.add(s)
	}
	if n, ok := st.Uint("arc_no_grow"); ok {
		s := Signal{Name: "arc_no_grow", Value: strconv.FormatUint(n, 10), Source: src("arc_no_grow"),
			Meaning: "1: the ARC may not grow now, free memory is below its margin"}
		if n != 0 {
			s.Level = Moderate
		}
		p.add(s)
	}
	if n, ok := st.Uint("arc_need_free"); ok {
		s := Signal{Name: "arc_need_free", Value: size.Format(n), Source: src("arc_need_free"),
			Meaning: "bytes the ARC still has to free for the kernel (refreshed only at evictions, can be stale)"}
		if n > 0 {
			s.Level = Moderate
		}
		p.add(s)
	}
	if n, ok := st.Int("memory_available_bytes"); ok {
		s := Signal{Name: "memory_available_bytes", Value: size.FormatSigned(n), Source: src("memory_available_bytes"),
			Meaning: "free memory above arc_sys_free as the ARC sees it; negative means the ARC is being reclaimed now"}
		if n < 0 {
			s.Level = High
		}
		p.add(s)
	}
	c, okC := st.Uint("c")
	cMax, okMax := st.Uint("c_max")
	cMin, okMin := st.Uint("c_min")
	if okC && okMax && okMin && cMax > 0 {
		direct, _ := st.Uint("memory_direct_count")
		indirect, _ := st.Uint("memory_indirect_count")
		s := Signal{Name: "c", Value: fmt.Sprintf("%s of c_max %s (c_min %s)", size.Format(c), size.Format(cMax), size.Format(cMin)),
			Source: src("c, c_max, c_min")}
		reclaimed := direct+indirect > 0
		switch {
		case c*2 <= cMax && c <= cMin+cMin/10 && cMax > 2*cMin && reclaimed:
			s.Level, s.Meaning = High, "the ARC target collapsed to its floor c_min after reclaim"
		case c*2 <= cMax && (reclaimed || cStartsAtMax):
			s.Level, s.Meaning = Moderate, "the ARC target was pulled down to half of c_max or less"
		case c < cMax && !cStartsAtMax:
			s.Meaning = "below c_max; from 2.0 c starts at c_min and grows with use, so alone this is not pressure"
		case c < cMax:
			s.Meaning = "below c_max"
		default:
			s.Meaning = "at c_max: the ARC grew to its cap"
		}
		p.add(s)
	}
	if hasPSI {
		p.add(psiSignal(psi))
	}
	return p
}

func psiSignal(psi meminfo.PSI) Signal {
	s := Signal{Name: "memory PSI", Source: "/proc/pressure/memory",
		Value:   fmt.Sprintf("some avg10=%.2f avg60=%.2f avg300=%.2f", psi.SomeAvg10, psi.SomeAvg60, psi.SomeAvg300),
		Meaning: "share of time tasks stalled on memory (percent)"}
	if psi.HasFull {
		s.Value += fmt.Sprintf("; full avg10=%.2f avg60=%.2f avg300=%.2f", psi.FullAvg10, psi.FullAvg60, psi.FullAvg300)
	}
	switch {
	case psi.FullAvg60 >= 1 || psi.SomeAvg60 >= 10:
		s.Level = High
	case psi.SomeAvg300 >= 1 || psi.SomeAvg60 >= 1:
		s.Level = Moderate
	case psi.SomeAvg10+psi.SomeAvg60+psi.SomeAvg300 > 0:
		s.Level = Low
	}
	return s
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute)
	case d >= time.Minute:
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}
