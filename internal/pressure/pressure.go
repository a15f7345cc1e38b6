package pressure

import (
	"fmt"
	"strconv"
	"strings"
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

// Unit is what a signal's value counts.
type Unit string

const (
	Count   Unit = "count"   // events
	Bytes   Unit = "bytes"   // memory
	Seconds Unit = "seconds" // time
	Percent Unit = "percent" // share of time
	Flag    Unit = "flag"    // 0 or 1
)

// Signal is one piece of evidence: its number, its unit, its rate for a
// counter, the same as text for people, and where it came from.
type Signal struct {
	Name  string  `json:"name"`
	Level Level   `json:"level"`
	Value float64 `json:"value"`
	Unit  Unit    `json:"unit"`
	// RatePerMinute is a counter's increase per minute over its span (since
	// the module loaded, or the window); null for other signals.
	RatePerMinute *float64 `json:"rate_per_minute"`
	Text          string   `json:"text"`
	Source        string   `json:"source"`
	Meaning       string   `json:"meaning"`
}

// The one rule for the reclaim counters, since boot and in a window alike
// (README, "Pressure verdict"). Rates are per minute, over the span but at
// least a minute, so that a short window cannot inflate a handful of events.
const (
	// DirectHighPerMinute: direct reclaim reaching the ARC this often or
	// more is high; any at all is moderate.
	DirectHighPerMinute = 1.0
)

// perMinute is the one rate of a counter, shown (rate_per_minute, the
// text) and graded alike: n per minute over span, the span counted as at
// least a minute; 0 for an empty span.
func perMinute(n uint64, span time.Duration) float64 {
	if span <= 0 {
		return 0
	}
	return float64(n) / max(span, time.Minute).Minutes()
}

// rate is perMinute for a signal: nil for an empty span.
func rate(n uint64, span time.Duration) *float64 {
	if span <= 0 {
		return nil
	}
	r := perMinute(n, span)
	return &r
}

// directLevel grades memory_direct_count: none, moderate for any, high at
// DirectHighPerMinute or more.
func directLevel(n uint64, span time.Duration) Level {
	switch {
	case n == 0:
		return None
	case perMinute(n, span) >= DirectHighPerMinute:
		return High
	}
	return Moderate
}

// arcCounters are the ARC's reclaim counters, each with its one rule,
// since boot and in a window alike: writes throttled for memory are high
// at once, direct reclaim moderate (high from DirectHighPerMinute), kswapd
// asking the ARC to shrink low.
var arcCounters = []struct {
	name, meaning string
	level         func(n uint64, span time.Duration) Level
}{
	{"memory_throttle_count", meaningThrottle, func(n uint64, _ time.Duration) Level { return anyIs(n, High) }},
	{"memory_direct_count", meaningDirect, directLevel},
	{"memory_indirect_count", meaningIndirect, func(n uint64, _ time.Duration) Level { return anyIs(n, Low) }},
}

// anyIs is level when n is not 0.
func anyIs(n uint64, level Level) Level {
	if n == 0 {
		return None
	}
	return level
}

// collapsed is the one rule for an ARC target driven to its floor: c at
// c_min (+10%) while c_max is more than twice c_min (else c_min is near the
// cap anyway, and c there says little).
func collapsed(c, cMin, cMax uint64) bool {
	return cMin > 0 && c <= cMin+cMin/10 && cMax > 2*cMin
}

// psiLevel is the one PSI rule, since boot (the kernel's averages) and in a
// window (the share of the window from the total stall time): high when
// tasks stalled 10% of the time (some) or all of them 1% (full), moderate
// from 1% some, low for any stall.
func psiLevel(some, full float64, stalled bool) Level {
	switch {
	case full >= 1 || some >= 10:
		return High
	case some >= 1:
		return Moderate
	case stalled:
		return Low
	}
	return None
}

// counter is the signal of a reclaim counter: n events over span.
func counter(name string, n uint64, span time.Duration, src, meaning string, sign string) Signal {
	s := Signal{Name: name, Value: float64(n), Unit: Count, RatePerMinute: rate(n, span), Source: src, Meaning: meaning,
		Text: sign + strconv.FormatUint(n, 10)}
	if s.RatePerMinute != nil {
		s.Text += fmt.Sprintf(" (%.1f/min over %s)", *s.RatePerMinute, roundDur(span))
	}
	return s
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

// corroborate keeps memory_direct_count from raising the verdict to high on
// its own. The module counts a direct-reclaim call whenever its shrinker
// runs outside kswapd (current_is_kswapd() in arc_shrinker_scan), and
// `echo 3 > /proc/sys/vm/drop_caches` runs the shrinkers from the writing
// task (drop_slab), so an admin dropping caches looks like a stalled
// allocation. High needs a second witness: memory PSI stall, the kernel's
// own direct-reclaim counters (allocstall, pgscan_direct), the ARC target
// pulled down or held (c, arc_no_grow, memory_available_bytes), or writes
// throttled. Without one the counter is graded moderate, and says why.
func (p *Pressure) corroborate() {
	di := -1
	witness := false
	for i, s := range p.Signals {
		switch {
		case s.Name == "memory_direct_count":
			di = i
		case s.Name == "memory_indirect_count" || s.Name == "pgscan_kswapd":
			// kswapd's work says memory was short, not that a task stalled.
		case strings.HasPrefix(s.Name, "memory PSI"):
			witness = witness || s.Level >= Low
		default:
			witness = witness || s.Level >= Moderate
		}
	}
	if di < 0 || witness || p.Signals[di].Level != High {
		return
	}
	p.Signals[di].Level = Moderate
	p.Signals[di].Meaning += "; graded moderate: nothing else shows pressure, and drop_caches or other shrinks from a task count here too"
	p.Level = None
	for _, s := range p.Signals {
		p.Level = max(p.Level, s.Level)
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
	// The counters count since the module loaded: the kstat's creation.
	uptime := time.Duration(st.Header.SnapTime - st.Header.CrTime)
	src := func(field string) string { return "arcstats " + field }

	for _, c := range arcCounters {
		if n, ok := st.Uint(c.name); ok {
			s := counter(c.name, n, uptime, src(c.name), c.meaning, "")
			s.Level = c.level(n, uptime)
			p.add(s)
		}
	}
	if n, ok := st.Uint("arc_no_grow"); ok {
		s := Signal{Name: "arc_no_grow", Value: float64(n), Unit: Flag, Text: strconv.FormatUint(n, 10), Source: src("arc_no_grow"),
			Meaning: "1: the ARC may not grow now, free memory is below its margin"}
		if n != 0 {
			s.Level = Moderate
		}
		p.add(s)
	}
	if n, ok := st.Uint("arc_need_free"); ok {
		s := Signal{Name: "arc_need_free", Value: float64(n), Unit: Bytes, Text: size.Format(n), Source: src("arc_need_free"),
			Meaning: "bytes the ARC still has to free for the kernel (refreshed only at evictions, can be stale)"}
		if n > 0 {
			s.Level = Moderate
		}
		p.add(s)
	}
	if n, ok := st.Int("memory_available_bytes"); ok {
		s := Signal{Name: "memory_available_bytes", Value: float64(n), Unit: Bytes, Text: size.FormatSigned(n), Source: src("memory_available_bytes"),
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
		s := Signal{Name: "c", Value: float64(c), Unit: Bytes, Text: fmt.Sprintf("%s of c_max %s (c_min %s)", size.Format(c), size.Format(cMax), size.Format(cMin)),
			Source: src("c, c_max, c_min")}
		reclaimed := direct+indirect > 0
		switch {
		case c*2 <= cMax && collapsed(c, cMin, cMax) && reclaimed:
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
	p.corroborate()
	return p
}

func psiSignal(psi meminfo.PSI) Signal {
	s := Signal{Name: "memory PSI", Source: "/proc/pressure/memory", Value: psi.SomeAvg60, Unit: Percent,
		Text:    fmt.Sprintf("some avg10=%.2f avg60=%.2f avg300=%.2f", psi.SomeAvg10, psi.SomeAvg60, psi.SomeAvg300),
		Meaning: "share of time tasks stalled on memory over the last 10, 60 and 300 s (percent); the value is some avg60"}
	if psi.HasFull {
		s.Text += fmt.Sprintf("; full avg10=%.2f avg60=%.2f avg300=%.2f", psi.FullAvg10, psi.FullAvg60, psi.FullAvg300)
	}
	// The last minute decides high; the last five minutes count for
	// moderate too (a stall that has just passed).
	s.Level = psiLevel(psi.SomeAvg60, psi.FullAvg60, psi.SomeAvg10+psi.SomeAvg60+psi.SomeAvg300 > 0)
	if psi.SomeAvg300 >= 1 {
		s.Level = max(s.Level, Moderate)
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
