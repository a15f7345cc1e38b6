package pressure

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/meminfo"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// arcVals are the arcstats rows a window reads.
type arcVals struct {
	Size, C, CMin, CMax        uint64
	NoGrow                     bool
	Throttle, Direct, Indirect uint64
	MemAvail                   int64
	HasMemAvail                bool
}

// tick is one host reading built for a window test: arcstats rows through
// the real parser, the rest as given.
type tick struct {
	At     time.Time
	Arc    arcVals
	Mem    meminfo.Info
	PSI    meminfo.PSI
	HasPSI bool
	VM     meminfo.VMStat
	HasVM  bool
}

func (tk *tick) snapshot(t testing.TB) *host.Snapshot {
	t.Helper()
	a := tk.Arc
	noGrow := int64(0)
	if a.NoGrow {
		noGrow = 1
	}
	rows := map[string]int64{
		"size": int64(a.Size), "c": int64(a.C), "c_min": int64(a.CMin), "c_max": int64(a.CMax),
		"arc_no_grow": noGrow, "memory_throttle_count": int64(a.Throttle),
		"memory_direct_count": int64(a.Direct), "memory_indirect_count": int64(a.Indirect),
	}
	if a.HasMemAvail {
		rows["memory_available_bytes"] = a.MemAvail
	}
	return &host.Snapshot{At: tk.At, Arc: testutil.Kstat(t, rows), Mem: tk.Mem, PSI: tk.PSI, HasPSI: tk.HasPSI, VM: tk.VM, HasVM: tk.HasVM}
}

func fold(t testing.TB, ticks []tick) *Window {
	t.Helper()
	var w Window
	for i := range ticks {
		if err := w.Add(ticks[i].snapshot(t)); err != nil {
			t.Fatal(err)
		}
	}
	return &w
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// timelineTicks turns testdata/20-pressure-timeline.tsv (sampled about once
// a second during the stress-ng run on OpenZFS 2.1.11) into ticks. The file
// has no PSI totals and no vmstat, so those stay absent. MemTotal is the
// guest's (4007108 kB, from its meminfo).
func timelineTicks(t testing.TB) []tick {
	t.Helper()
	f, err := os.Open("testdata/20-pressure-timeline.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	base := mustTime(t, "2026-11-25T20:18:30Z")
	var ticks []tick
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if n == 1 {
			continue
		}
		col := strings.Split(sc.Text(), "\t")
		if len(col) != 12 {
			t.Fatalf("timeline line %d: %d columns", n, len(col))
		}
		num := func(i int) uint64 {
			v, err := strconv.ParseUint(col[i], 10, 64)
			if err != nil {
				t.Fatalf("timeline line %d column %d: %v", n, i+1, err)
			}
			return v
		}
		secs, err := strconv.ParseFloat(col[0], 64)
		if err != nil {
			t.Fatal(err)
		}
		ticks = append(ticks, tick{
			At: base.Add(time.Duration(math.Round(secs*1000)) * time.Millisecond),
			Arc: arcVals{C: num(1), Size: num(2), CMax: num(3), NoGrow: num(4) == 1,
				Throttle: num(5), Direct: num(6), Indirect: num(7)},
			Mem: meminfo.Info{MemTotal: 4007108 * 1024, MemAvailable: num(8) * 1024,
				HasMemAvailable: true, MemFree: num(9) * 1024},
		})
	}
	return ticks
}

// TestWindowTimeline folds the real once-a-second pressure timeline into a
// window. The expected values were computed from the TSV with awk.
func TestWindowTimeline(t *testing.T) {
	w := fold(t, timelineTicks(t))
	span := 79100 * time.Millisecond // 0.1 s → 79.2 s
	ints := []struct {
		name      string
		got, want uint64
	}{
		{"Ticks", uint64(w.Ticks), 46},
		{"Direct.Delta", w.Direct.Delta, 9},
		{"Indirect.Delta", w.Indirect.Delta, 991},
		{"Throttle.Delta", w.Throttle.Delta, 0},
		{"CDrops", uint64(w.CDrops), 11},
		{"CDropBytes", w.CDropBytes, 2051639296 - 141376349},
		{"CMaxDrop", w.CMaxDrop, 1843482196 - 1550979616}, // 28.6 s → 30.9 s
		{"CFirst", w.CFirst, 2051639296},
		{"CLowest", w.CLowest, 141376349},
		{"CHighest", w.CHighest, 2051639296},
		{"CMax", w.CMax, 2051639296},
		{"CLast", w.CLast, 945582429},
		{"NoGrowTicks", uint64(w.NoGrowTicks), 27},
		{"ArcSizeMin", w.ArcSizeMin, 93241312},
		{"ArcSizeMax", w.ArcSizeMax, 2082301776},
		// At 47.1 s: (4007108 − MemFree) kB − size (the timeline has no
		// Inactive(file) column: it counts as 0).
		{"PeakNonARC", w.PeakNonARC, (4007108-190240)*1024 - 159237552},
	}
	for _, c := range ints {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if !w.CPulledDown {
		t.Error("CPulledDown = false")
	}
	if w.Len() != span || w.Interval != span/45 {
		t.Errorf("Len %s Interval %s, want %s and %s", w.Len(), w.Interval, span, span/45)
	}
	// arc_no_grow from 26.8 s to 71.5 s (44.7 s) plus half of the two
	// intervals where it changed: (26.8−24.3)/2 + (73.0−71.5)/2.
	if want := 44700*time.Millisecond + 1250*time.Millisecond + 750*time.Millisecond; w.NoGrowTime != want {
		t.Errorf("NoGrowTime = %s, want %s", w.NoGrowTime, want)
	}
	if want := mustTime(t, "2026-11-25T20:18:30Z").Add(47100 * time.Millisecond); !w.PeakNonARCAt.Equal(want) {
		t.Errorf("PeakNonARCAt = %s, want %s", w.PeakNonARCAt, want)
	}
	if got, want := w.Indirect.PerMinute, 991/span.Minutes(); !approx(got, want) {
		t.Errorf("Indirect.PerMinute = %g, want %g", got, want)
	}
	if w.HasPSI || w.HasVM || w.HasMemAvail || w.PSISomePct != 0 {
		t.Errorf("no PSI, vmstat or memory_available_bytes in the timeline: has psi %v vm %v memavail %v", w.HasPSI, w.HasVM, w.HasMemAvail)
	}
}

func TestCounter(t *testing.T) {
	tests := []struct {
		name   string
		values []uint64
		want   Counter // without PerMinute and n
	}{
		{"one value", []uint64{5}, Counter{First: 5, Last: 5}},
		{"steady", []uint64{5, 5, 5}, Counter{First: 5, Last: 5}},
		{"growing", []uint64{0, 3, 3, 10}, Counter{First: 0, Last: 10, Delta: 10}},
		// A module reload: 991 → 0 is a reset, not a delta of 2^64−991.
		{"reset to zero", []uint64{900, 991, 0, 4}, Counter{First: 900, Last: 4, Delta: 91 + 4, Resets: 1}},
		{"reset to a lower value", []uint64{100, 50, 60}, Counter{First: 100, Last: 60, Delta: 10, Resets: 1}},
		{"two resets", []uint64{10, 1, 0, 2}, Counter{First: 10, Last: 2, Delta: 2, Resets: 2}},
		{"near the top", []uint64{math.MaxUint64 - 1, math.MaxUint64}, Counter{First: math.MaxUint64 - 1, Last: math.MaxUint64, Delta: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Counter
			for _, v := range tt.values {
				c.add(v)
			}
			c.rate(2 * time.Minute)
			if want := float64(tt.want.Delta) / 2; c.PerMinute != want {
				t.Errorf("PerMinute = %g, want %g", c.PerMinute, want)
			}
			c.PerMinute, c.n = 0, 0
			if c != tt.want {
				t.Errorf("got %+v, want %+v", c, tt.want)
			}
		})
	}
}

// TestWindowEdges covers the window bookkeeping the captures do not reach.
func TestWindowEdges(t *testing.T) {
	at := mustTime(t, "2026-01-01T00:00:00Z")
	mk := func(sec int, mod func(*tick)) tick {
		tk := tick{At: at.Add(time.Duration(sec) * time.Second),
			Arc: arcVals{Size: 1 << 30, C: 2 << 30, CMin: 1 << 28, CMax: 4 << 30},
			Mem: meminfo.Info{MemTotal: 8 << 30, MemFree: 6 << 30, MemAvailable: 6 << 30, HasMemAvailable: true}}
		if mod != nil {
			mod(&tk)
		}
		return tk
	}
	tests := []struct {
		name  string
		ticks []tick
		check func(t *testing.T, w *Window)
	}{
		{"no ticks", nil, func(t *testing.T, w *Window) {
			if w.Ticks != 0 || w.Len() != 0 || w.HasPSI || w.HasVM || !w.PeakNonARCAt.IsZero() {
				t.Errorf("empty window: %+v", w)
			}
		}},
		{"one tick", []tick{mk(0, nil)}, func(t *testing.T, w *Window) {
			if w.Ticks != 1 || w.Len() != 0 || w.Direct.PerMinute != 0 || w.PSISomePct != 0 || w.Interval != 0 {
				t.Errorf("one tick: %+v", w)
			}
			if w.PeakNonARC != 1<<30 {
				t.Errorf("PeakNonARC = %d, want 1 GiB (8 − 6 − 1)", w.PeakNonARC)
			}
		}},
		{"ARC bigger than used memory clamps at 0", []tick{
			mk(0, func(tk *tick) { tk.Arc.Size = 3 << 30 }),
			mk(1, func(tk *tick) { tk.Mem.MemFree = 9 << 30 }),
		}, func(t *testing.T, w *Window) {
			if w.PeakNonARC != 0 || !w.PeakNonARCAt.Equal(at) {
				t.Errorf("PeakNonARC = %d at %s, want 0 at the first tick", w.PeakNonARC, w.PeakNonARCAt)
			}
		}},
		{"hugepages are not the workload's", []tick{
			mk(0, func(tk *tick) { tk.Mem.Hugepages = 512 << 20 }),
			mk(1, func(tk *tick) { tk.Mem.Hugepages = 512 << 20; tk.Mem.MemFree = 5 << 30 }),
		}, func(t *testing.T, w *Window) {
			// 8 − 5 − ARC 1 − hugepages 0.5 GiB, the same formula as the instant advice.
			if w.PeakNonARC != 3<<29 || !w.PeakNonARCAt.Equal(at.Add(time.Second)) {
				t.Errorf("PeakNonARC = %d at %s, want 1.5 GiB at the second tick", w.PeakNonARC, w.PeakNonARCAt)
			}
		}},
		{"c rises and falls", []tick{
			mk(0, nil),
			mk(1, func(tk *tick) { tk.Arc.C = 3 << 30 }),
			mk(2, func(tk *tick) { tk.Arc.C = 1 << 30 }),
			mk(3, func(tk *tick) { tk.Arc.C = 1<<30 - 5 }),
			mk(4, func(tk *tick) { tk.Arc.C = 4 << 30 }),
		}, func(t *testing.T, w *Window) {
			if w.CDrops != 2 || w.CDropBytes != 2<<30+5 || w.CMaxDrop != 2<<30 || w.CLowest != 1<<30-5 ||
				w.CHighest != 4<<30 || w.CFirst != 2<<30 || w.CLast != 4<<30 || !w.CPulledDown ||
				w.CMin != 1<<28 || w.CMax != 4<<30 {
				t.Errorf("c: drops %d bytes %d max drop %d lowest %d highest %d first %d last %d c_min %d c_max %d",
					w.CDrops, w.CDropBytes, w.CMaxDrop, w.CLowest, w.CHighest, w.CFirst, w.CLast, w.CMin, w.CMax)
			}
		}},
		{"PSI appears late, full line missing", []tick{
			mk(0, nil),
			mk(10, func(tk *tick) { tk.HasPSI, tk.PSI = true, meminfo.PSI{SomeTotal: 1_000_000} }),
			mk(20, func(tk *tick) { tk.HasPSI, tk.PSI = true, meminfo.PSI{SomeTotal: 3_000_000} }),
		}, func(t *testing.T, w *Window) {
			if !w.HasPSI || w.HasPSIFull || w.PSISomeStall != 2*time.Second || !approx(w.PSISomePct, 10) || w.PSIFullPct != 0 {
				t.Errorf("PSI: has %v full %v stall %s (%g%%)", w.HasPSI, w.HasPSIFull, w.PSISomeStall, w.PSISomePct)
			}
		}},
		{"PSI on one tick only", []tick{
			mk(0, func(tk *tick) { tk.HasPSI, tk.PSI = true, meminfo.PSI{SomeTotal: 1, HasFull: true} }),
			mk(10, nil),
		}, func(t *testing.T, w *Window) {
			if w.HasPSI || w.HasPSIFull {
				t.Errorf("HasPSI %v HasPSIFull %v from one tick", w.HasPSI, w.HasPSIFull)
			}
		}},
		{"vmstat without oom_kill", []tick{
			mk(0, func(tk *tick) {
				tk.HasVM, tk.VM = true, meminfo.VMStat{AllocStall: 1, HasAllocStall: true, PgscanDirect: 7, HasPgscanDirect: true}
			}),
			mk(60, func(tk *tick) {
				tk.HasVM, tk.VM = true, meminfo.VMStat{AllocStall: 4, HasAllocStall: true, PgscanDirect: 17, HasPgscanDirect: true}
			}),
		}, func(t *testing.T, w *Window) {
			if !w.HasVM || w.AllocStall.Delta != 3 || w.AllocStall.PerMinute != 3 || w.PgscanDirect.Delta != 10 ||
				w.OOMKill != (Counter{}) || w.PgscanKswapd != (Counter{}) {
				t.Errorf("vmstat: has %v allocstall %+v pgscan direct %+v oom %+v", w.HasVM, w.AllocStall, w.PgscanDirect, w.OOMKill)
			}
		}},
		{"memory_available_bytes goes negative", []tick{
			mk(0, func(tk *tick) { tk.Arc.MemAvail, tk.Arc.HasMemAvail = 5, true }),
			mk(1, func(tk *tick) { tk.Arc.MemAvail, tk.Arc.HasMemAvail = -7, true }),
			mk(2, func(tk *tick) { tk.Arc.MemAvail, tk.Arc.HasMemAvail = -3, true }),
		}, func(t *testing.T, w *Window) {
			if !w.HasMemAvail || w.MinMemAvailable != -7 || !w.MinMemAvailableAt.Equal(at.Add(time.Second)) {
				t.Errorf("MinMemAvailable = %d at %s", w.MinMemAvailable, w.MinMemAvailableAt)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, fold(t, tt.ticks))
		})
	}
}

// TestWindowMissingRow: a snapshot without a row the window needs is
// refused and leaves the window as it was.
func TestWindowMissingRow(t *testing.T) {
	var w Window
	s := &host.Snapshot{Arc: testutil.Kstat(t, map[string]int64{"size": 1, "c": 1, "c_min": 1, "c_max": 1})}
	if err := w.Add(s); err == nil || err.Error() != "arcstats has no memory_throttle_count row" || w.Ticks != 0 {
		t.Fatalf("Add = %v, ticks %d", err, w.Ticks)
	}
}

// TestWindowSeries: KeepSeries keeps one point per snapshot with what the
// snapshot had.
func TestWindowSeries(t *testing.T) {
	at := mustTime(t, "2026-01-01T00:00:00Z")
	var w Window
	w.KeepSeries(2)
	for i, tk := range []tick{
		{At: at, Arc: arcVals{Size: 5, C: 6, CMax: 7, Direct: 1, MemAvail: -3, HasMemAvail: true},
			Mem: meminfo.Info{MemTotal: 100, MemAvailable: 50}},
		{At: at.Add(time.Second), Arc: arcVals{Size: 8, C: 9, CMax: 7, NoGrow: true, Indirect: 2},
			Mem: meminfo.Info{MemTotal: 100, MemAvailable: 40}, HasPSI: true, PSI: meminfo.PSI{SomeTotal: 11, FullTotal: 12, HasFull: true},
			HasVM: true, VM: meminfo.VMStat{AllocStall: 13, OOMKill: 14}},
	} {
		if err := w.Add(tk.snapshot(t)); err != nil {
			t.Fatal(i, err)
		}
	}
	if len(w.Series) != 2 {
		t.Fatalf("series has %d points", len(w.Series))
	}
	p0, p1 := w.Series[0], w.Series[1]
	if p0.Size != 5 || p0.C != 6 || p0.CMax != 7 || p0.Direct != 1 || p0.MemAvailable != 50 || p0.ArcMemAvailable == nil || *p0.ArcMemAvailable != -3 ||
		p0.PSISomeTotalUS != nil || p0.AllocStall != nil || !p0.T.Equal(at) {
		t.Errorf("point 0 = %+v", p0)
	}
	if !p1.NoGrow || p1.Indirect != 2 || p1.ArcMemAvailable != nil || p1.PSISomeTotalUS == nil || *p1.PSISomeTotalUS != 11 ||
		p1.PSIFullTotalUS == nil || *p1.PSIFullTotalUS != 12 || p1.AllocStall == nil || *p1.AllocStall != 13 || p1.OOMKill == nil || *p1.OOMKill != 14 {
		t.Errorf("point 1 = %+v", p1)
	}
}

// TestNoGrowAtCap: arc_no_grow for most of a window is moderate pressure,
// unless c stayed at c_max all through: the ARC had nowhere to grow, and
// free memory near the margin is what a cap sized to the host leaves (the
// lane's capped windows on 2.3.2). Then it is low.
func TestNoGrowAtCap(t *testing.T) {
	at := mustTime(t, "2026-01-01T00:00:00Z")
	base := Window{Start: at, End: at.Add(55 * time.Second), NoGrowTime: 33 * time.Second, CMax: 1476395008, CLowest: 1476395008, Ticks: 6}
	level := func(w Window) (Level, string) {
		for _, s := range WindowPressure(&w).Signals {
			if s.Name == "arc_no_grow" {
				return s.Level, s.Text
			}
		}
		t.Fatal("no arc_no_grow signal")
		return None, ""
	}
	if l, text := level(base); l != Low || !strings.HasSuffix(text, "with c at c_max all through") {
		t.Errorf("at its cap: %s %q, want low", l, text)
	}
	pulled := base
	pulled.CLowest, pulled.CPulledDown = 1<<30, true
	if l, _ := level(pulled); l != Moderate {
		t.Errorf("c pulled below c_max: %s, want moderate", l)
	}
}
