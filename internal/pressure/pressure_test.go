package pressure

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/meminfo"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

func TestBootPressureRealCaptures(t *testing.T) {
	tests := []struct {
		fixture    string
		startAtMax bool
		want       Level
		signals    []string // signals that must be at least Low
	}{
		// ZoL 0.6.4, 140 days up, 5.1 M direct reclaims: high.
		// 5.2 M direct reclaims since boot, but nothing else shows pressure
		// now (no PSI on that kernel, c near c_max, arc_no_grow 0): the
		// counter alone is graded moderate (corroborate).
		{"arcstats/telegraf-zol-0.6.4.txt", true, Moderate, []string{"memory_direct_count", "memory_indirect_count"}},
		// ZoL 0.6.5, 542 direct and 3006 indirect, c ≪ c_max.
		{"arcstats/node_exporter-zol-0.6.5.txt", true, Moderate, []string{"memory_direct_count", "c"}},
		// ZoL 0.7.x: ARC collapsed to its floor after 1.1 M direct reclaims.
		{"arcstats/arcbeat-zol-0.7.x-pressure.txt", true, High, []string{"memory_direct_count", "c"}},
		// 2.1, healthy, c = c_max.
		{"arcstats/mackerel-zfs-2.1.txt", false, None, nil},
		{"arcstats/riemann-tools-zfs-2.1.txt", false, None, nil},
		// 2.3, 21 k direct and 3.2 M indirect, c at half of c_max.
		{"arcstats/telegraf-issue17578-zfs2.2plus.txt", false, Moderate, []string{"memory_direct_count", "memory_indirect_count", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			f, err := os.Open(testutil.Fixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := arcstats.Parse(f)
			if err != nil {
				t.Fatal(err)
			}
			p := BootPressure(st, meminfo.PSI{}, false, tt.startAtMax)
			if p.Level < tt.want || (tt.want == None && p.Level != None) {
				t.Fatalf("level %s, want %s; signals %+v", p.Level, tt.want, p.Signals)
			}
			for _, name := range tt.signals {
				var ok bool
				for _, s := range p.Signals {
					if s.Name == name && s.Level >= Low {
						ok = true
					}
				}
				if !ok {
					t.Errorf("signal %s not raised: %+v", name, p.Signals)
				}
			}
		})
	}
}

// Our lab's real 2.1.11 snapshots (testdata/snapshots at the repository
// root): with the ARC filled and no workload nothing is raised; 45 s into
// stress-ng the ARC is being reclaimed.
func TestBootPressureLab(t *testing.T) {
	for _, tt := range []struct {
		snap string
		want Level
	}{
		{"zfs-2.1.11-arc-filled", None},
		{"zfs-2.1.11-pressure", High},
		{"zfs-2.1.11-capped", None},
	} {
		t.Run(tt.snap, func(t *testing.T) {
			root := filepath.Join(testutil.RepoRoot(t), "testdata", "snapshots", tt.snap)
			st, err := arcstats.Read(testutil.OpenRoot(t, root))
			if err != nil {
				t.Fatal(err)
			}
			psi, ok, err := meminfo.ReadPSI(testutil.OpenRoot(t, root))
			if err != nil || !ok {
				t.Fatalf("psi: %v %v", ok, err)
			}
			p := BootPressure(st, psi, true, false)
			if p.Level != tt.want {
				t.Fatalf("level %s, want %s: %+v", p.Level, tt.want, p.Signals)
			}
			last := p.Signals[len(p.Signals)-1]
			if last.Name != "memory PSI" || !strings.Contains(last.Text, "some avg10=") || last.Value != psi.SomeAvg60 || last.Unit != Percent || last.RatePerMinute != nil {
				t.Errorf("PSI signal %+v", last)
			}
		})
	}
}

func TestPSILevels(t *testing.T) {
	for _, tt := range []struct {
		psi  meminfo.PSI
		want Level
	}{
		{meminfo.PSI{}, None},
		{meminfo.PSI{SomeAvg300: 0.13}, Low},
		{meminfo.PSI{SomeAvg60: 2}, Moderate},
		{meminfo.PSI{SomeAvg60: 12}, High},
		{meminfo.PSI{FullAvg60: 1.5, HasFull: true}, High},
	} {
		if got := psiSignal(tt.psi).Level; got != tt.want {
			t.Errorf("psi %+v: %s, want %s", tt.psi, got, tt.want)
		}
	}
}

// TestDirectOneRule: the same memory_direct_count events give the same
// level since boot and in a window of any length (README, "Pressure
// verdict"): 9 in 70 s, in 2m55s and in 30 s are all high, 1 in 30 s too,
// 1 in 2 minutes is moderate.
func TestDirectOneRule(t *testing.T) {
	for _, tt := range []struct {
		n    uint64
		span time.Duration
		want Level
	}{
		{0, time.Hour, None},
		{9, 70 * time.Second, High},
		{9, 175 * time.Second, High},
		{9, 30 * time.Second, High},
		{1, 30 * time.Second, High},
		{1, 2 * time.Minute, Moderate},
		{59, time.Hour, Moderate},
		{60, time.Hour, High},
	} {
		if got := directLevel(tt.n, tt.span); got != tt.want {
			t.Errorf("%d in %s: %s, want %s", tt.n, tt.span, got, tt.want)
		}
	}
}

// TestDirectNeedsAWitness: memory_direct_count alone (drop_caches counts
// too) is graded moderate; with PSI stall, or the ARC held down, it is high.
func TestDirectNeedsAWitness(t *testing.T) {
	rows := func(extra map[string]int64) *arcstats.Stats {
		r := map[string]int64{"size": 1 << 30, "c": 4 << 30, "c_min": 1 << 28, "c_max": 4 << 30,
			"memory_direct_count": 120000, "memory_indirect_count": 0, "memory_throttle_count": 0, "arc_no_grow": 0}
		for k, v := range extra {
			r[k] = v
		}
		return testutil.Kstat(t, r)
	}
	alone := BootPressure(rows(nil), meminfo.PSI{}, true, false)
	if alone.Level != Moderate || alone.Signals[1].Level != Moderate || !strings.Contains(alone.Signals[1].Meaning, "drop_caches") {
		t.Errorf("alone: %s %+v", alone.Level, alone.Signals[1])
	}
	withPSI := BootPressure(rows(nil), meminfo.PSI{SomeAvg10: 0.5, SomeAvg60: 0.3}, true, false)
	if withPSI.Level != High {
		t.Errorf("with PSI stall: %s", withPSI.Level)
	}
	held := BootPressure(rows(map[string]int64{"arc_no_grow": 1}), meminfo.PSI{}, false, false)
	if held.Level != High {
		t.Errorf("with arc_no_grow: %s", held.Level)
	}
}

// TestPerMinute: the one rate, shown and graded alike, over at least a
// minute (README, "Pressure verdict"): 4 events in 55 s are 4 a minute,
// not 4.3; 120 in two minutes are 60.
func TestPerMinute(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		span time.Duration
		want float64
	}{{4, 55 * time.Second, 4}, {120, 2 * time.Minute, 60}, {9, 0, 0}, {1, 30 * time.Second, 1}} {
		if got := perMinute(tc.n, tc.span); got != tc.want {
			t.Errorf("perMinute(%d, %s) = %g, want %g", tc.n, tc.span, got, tc.want)
		}
		if r := rate(tc.n, tc.span); (r == nil) != (tc.span == 0) || r != nil && *r != tc.want {
			t.Errorf("rate(%d, %s) = %v", tc.n, tc.span, r)
		}
	}
	// 1 direct reclaim in 30 s: 1 a minute, high, the same number shown.
	if directLevel(1, 30*time.Second) != High {
		t.Error("1 in 30 s is 1 a minute: high")
	}
}
