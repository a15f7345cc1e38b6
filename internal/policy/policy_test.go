package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/meminfo"
	"github.com/arcadvise/arcadvise/internal/pressure"
	"github.com/arcadvise/arcadvise/internal/size"
	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// host describes an ARC at rest on a host of the given memory and version.
func hostArc(t testing.TB, memTotal uint64, v zfsmod.Version) *arcstats.Stats {
	cmin := DefaultCMin(v, memTotal)
	cmax := DefaultCMax(v, memTotal)
	rows := map[string]int64{
		"size": int64(min(cmax, memTotal/2)), "c": int64(cmax), "c_min": int64(cmin), "c_max": int64(cmax),
		"memory_direct_count": 0, "memory_indirect_count": 0, "memory_throttle_count": 0,
		"arc_no_grow": 0, "arc_need_free": 0,
	}
	if v.AtLeast(zfsmod.V(0, 6, 5)) {
		rows["arc_sys_free"] = int64(DefaultSysFree(v, memTotal))
	}
	if v.AtLeast(zfsmod.V(0, 7, 3)) {
		rows["memory_all_bytes"] = int64(memTotal)
	}
	return testutil.Kstat(t, rows)
}

// atRest is the memory of a synthetic host at rest whose kernel and
// services hold what the old guess assumed, 1 GiB + MemTotal/32: the
// measured host term then equals DefaultHostBase, so these tests keep
// their arithmetic and test the other rules. free, when not 0, sets
// MemFree instead.
func atRest(memTotal, huge, free uint64, arc *arcstats.Stats) meminfo.Info {
	size, _ := arc.Uint("size")
	if free == 0 {
		free = memTotal - huge - size - DefaultHostBase(memTotal)
	}
	return meminfo.Info{MemTotal: memTotal, MemFree: free, MemAvailable: free, Hugepages: huge, HugepagesSource: "Hugetlb"}
}

func sumTerms(r Recommendation) int64 {
	var s int64
	for _, t := range r.Terms {
		s += t.Bytes
	}
	return s
}

func TestRecommendSeed(t *testing.T) {
	// The seed: a 32 GiB build host whose owner declares 20 GiB for builds.
	// Whatever the generation, the cap lands in 8–9.5 GiB, a multiple of
	// 128 MiB, and the printed terms add up to MemTotal. By hand, 2.x:
	// 32 − 20 − the host (1 + 1) GiB − arc_sys_free 1251687424 =
	// 9485730816; less the ARC overrun (2.1.11: 3/2 · (9485730816 >> 8) =
	// 55580454; 2.3.2: 16 MiB more, 72357670): 9430150362 (2.1.11) or
	// 9413373146 (2.3.2), whose 1/64 is 140 MiB: 70 × 128 MiB = 8.75 GiB
	// either way. 0.6/0.7 (arc_sys_free 512 MiB): 10200547328 less c/256
	// = 39845888: 10160701440, 75 × 128 MiB. (No zoneinfo on these hosts:
	// the floor is arc_sys_free, and no per-CPU term.)
	const memTotal = 32 * size.GiB
	for _, v := range []zfsmod.Version{zfsmod.V(0, 6, 5, 3), zfsmod.V(0, 7, 13), zfsmod.V(2, 1, 11), zfsmod.V(2, 3, 2)} {
		t.Run(v.String(), func(t *testing.T) {
			arc := hostArc(t, memTotal, v)
			in := Input{
				Host:         &host.Snapshot{Mem: atRest(memTotal, 0, 0, arc), Arc: arc, Module: zfsmod.State{Version: v}},
				Reservations: []Reservation{{Bytes: 20 * size.GiB, Source: "--reserve 20G"}},
			}
			r, err := Recommend(in)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != StatusOK || r.ArcMax < 8*size.GiB || r.ArcMax > 9*size.GiB+512*size.MiB {
				t.Fatalf("cap = %s (%s), want 8–9.5 GiB", size.Format(r.ArcMax), r.Status)
			}
			want := map[bool]uint64{true: 70 * 128 * size.MiB, false: 75 * 128 * size.MiB}[v.AtLeast(zfsmod.V(2, 0, 0))]
			overrun := map[string]uint64{"0.6.5.3": 39845888, "0.7.13": 39845888, "2.1.11": 55580454, "2.3.2": 72357670}[v.String()]
			if r.ArcMax != want || r.Granularity != 128*size.MiB || r.Overrun != overrun {
				t.Errorf("cap %d in steps of %d, overrun %d; want %d in steps of 128 MiB, %d", r.ArcMax, r.Granularity, r.Overrun, want, overrun)
			}
			if got := sumTerms(r); got != int64(memTotal) {
				t.Errorf("terms add up to %d, want MemTotal %d", got, memTotal)
			}
			if r.ArcMin != 0 || len(r.Violations) != 0 {
				t.Errorf("unexpected zfs_arc_min %d / violations %v", r.ArcMin, r.Violations)
			}
			if !strings.Contains(r.ModprobeLine(), fmt.Sprintf("options zfs zfs_arc_max=%d", r.ArcMax)) {
				t.Errorf("modprobe line %q", r.ModprobeLine())
			}
		})
	}
}

func TestRecommendCases(t *testing.T) {
	v21 := zfsmod.V(2, 1, 11)
	tests := []struct {
		name      string
		memTotal  uint64
		avail     uint64
		huge      uint64
		reserve   []uint64
		arcMax    uint64
		bootMin   uint64
		check     func(t *testing.T, r Recommendation)
		wantErrIs error
	}{
		{
			// 256 − 231 − the host 9 GiB − arc_sys_free 9093251072 =
			// 8086618112; less the overrun 3/2 · (8086618112 >> 8) =
			// 47382528 is 8039235584, whose 1/64 is 120 MiB: 119 × 64 MiB
			// = 7.44 GiB, below the default c_min of 8 GiB.
			name: "cap at or below c_min lowers zfs_arc_min", memTotal: 256 * size.GiB, reserve: []uint64{231 * size.GiB},
			check: func(t *testing.T, r Recommendation) {
				if r.ArcMax != 119*64*size.MiB || r.CMinMet != 8*size.GiB {
					t.Fatalf("cap %s, c_min met %s", size.Format(r.ArcMax), size.Format(r.CMinMet))
				}
				if r.ArcMin != 119*32*size.MiB || r.ArcMin >= r.ArcMax {
					t.Fatalf("zfs_arc_min = %s, want half the cap, 3.72 GiB", size.Format(r.ArcMin))
				}
				if !strings.HasPrefix(r.ModprobeLine(), "options zfs zfs_arc_min=3992977408 zfs_arc_max=7985954816") {
					t.Errorf("line %q", r.ModprobeLine())
				}
				if len(r.Violations) != 0 {
					t.Errorf("violations %v", r.Violations)
				}
			},
		},
		{
			name: "configured zfs_arc_min above the cap also moves", memTotal: 32 * size.GiB, reserve: []uint64{20 * size.GiB}, bootMin: 12 * size.GiB,
			check: func(t *testing.T, r Recommendation) {
				if r.ArcMin == 0 || r.ArcMin >= r.ArcMax {
					t.Fatalf("zfs_arc_min %d with cap %d", r.ArcMin, r.ArcMax)
				}
			},
		},
		{
			name: "over-committed", memTotal: 4 * size.GiB, reserve: []uint64{3 * size.GiB},
			check: func(t *testing.T, r Recommendation) {
				if r.Status != StatusOvercommitted || r.ArcMax != 0 || r.ModprobeLine() != "" {
					t.Fatalf("status %s cap %d", r.Status, r.ArcMax)
				}
				// 4 GiB − 3 GiB − (1 GiB + 128 MiB) − arc_sys_free, short of the 256 MiB floor.
				want := uint64(int64(MinUsefulArc) - r.Budget)
				if r.ShortBytes != want || r.ShortBytes < 256*size.MiB {
					t.Fatalf("short %d, want %d", r.ShortBytes, want)
				}
			},
		},
		{
			name: "reservation at MemTotal is an input error", memTotal: 4 * size.GiB, reserve: []uint64{4 * size.GiB},
			wantErrIs: ErrReserveTooLarge,
		},
		{
			name: "labelled reservations are summed", memTotal: 64 * size.GiB, reserve: []uint64{12 * size.GiB, 8 * size.GiB},
			check: func(t *testing.T, r Recommendation) {
				if r.Reserve != 20*size.GiB || len(r.Reservations) != 2 {
					t.Fatalf("reserve %d", r.Reserve)
				}
				if sumTerms(r) != int64(64*size.GiB) {
					t.Fatalf("terms %d", sumTerms(r))
				}
				// 64 − 20 − the host (1 + 2) GiB − arc_sys_free 2399141888
				// (a 32 MiB watermark × 2.5 × 3 + allmem/32; no zoneinfo)
				// = 41624272896, less the overrun 3/2 · (41624272896 >> 8) =
				// 243892224: 41380380672, in steps of 512 MiB: 77.
				if r.ArcMax != 77*512*size.MiB || r.Overrun != 243892224 {
					t.Fatalf("cap %s", size.Format(r.ArcMax))
				}
				if len(r.Notes) == 0 || !strings.Contains(r.Notes[0], "above this version's default c_max") {
					t.Errorf("notes %q", r.Notes)
				}
			},
		},
		{
			name: "hugepages are taken out", memTotal: 64 * size.GiB, huge: 16 * size.GiB, reserve: []uint64{20 * size.GiB},
			check: func(t *testing.T, r Recommendation) {
				// 64 − 16 − 20 − 3 GiB − arc_sys_free 2399141888 =
				// 24444403712; overrun 3 · ((24444403712 >> 8) / 2) =
				// 143228928: 24301174784 left, in steps of 256 MiB: 90.
				if r.ArcMax != 90*256*size.MiB || r.Overrun != 143228928 || sumTerms(r) != int64(64*size.GiB) {
					t.Fatalf("cap %s overrun %d terms %d", size.Format(r.ArcMax), r.Overrun, sumTerms(r))
				}
			},
		},
		{
			name: "observed reservation when none is declared", memTotal: 16 * size.GiB, avail: 6 * size.GiB,
			check: func(t *testing.T, r Recommendation) {
				// used = 16 − 6 − ARC size (8 GiB default c_max) = 2 GiB
				if !r.ReserveObserved || r.Reserve != 2*size.GiB || r.Reservations[0].Label != "observed" {
					t.Fatalf("observed %v reserve %s", r.ReserveObserved, size.Format(r.Reserve))
				}
				if !strings.Contains(r.Reservations[0].Source, "observed, not declared") {
					t.Errorf("source %q", r.Reservations[0].Source)
				}
			},
		},
		{
			name: "admin cap below 64 MiB is a violation", memTotal: 16 * size.GiB, reserve: []uint64{size.GiB}, arcMax: 16 * size.MiB,
			check: func(t *testing.T, r Recommendation) {
				if len(r.Violations) == 0 || !strings.Contains(r.Violations[0].Rule, "at least 64 MiB") {
					t.Fatalf("violations %v", r.Violations)
				}
			},
		},
		{
			name: "admin cap keeps the sum", memTotal: 16 * size.GiB, reserve: []uint64{size.GiB}, arcMax: 14 * size.GiB,
			check: func(t *testing.T, r Recommendation) {
				if r.ArcMax != 14*size.GiB || sumTerms(r) != int64(16*size.GiB) || r.Mode != "admin (--arc-max)" {
					t.Fatalf("cap %d terms %d", r.ArcMax, sumTerms(r))
				}
				if len(r.Notes) == 0 || !strings.Contains(strings.Join(r.Notes, " "), "exceeds the budget") {
					t.Errorf("notes %q", r.Notes)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arc := hostArc(t, tt.memTotal, v21)
			in := Input{
				Host:   &host.Snapshot{Mem: atRest(tt.memTotal, tt.huge, tt.avail, arc), Arc: arc, Module: zfsmod.State{Version: v21}},
				ArcMax: tt.arcMax, BootArcMin: tt.bootMin, BootArcMinSet: tt.bootMin != 0,
			}
			for _, b := range tt.reserve {
				in.Reservations = append(in.Reservations, Reservation{Bytes: b, Source: "test"})
			}
			r, err := Recommend(in)
			if tt.wantErrIs != nil {
				if err == nil || !errors.Is(err, tt.wantErrIs) {
					t.Fatalf("err = %v, want %v", err, tt.wantErrIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

func TestGranularity(t *testing.T) {
	for _, tt := range []struct{ budget, want uint64 }{
		// The largest power of two ≤ 1/64 of the budget, within [1 MiB, 1 GiB].
		{64 * size.MiB, size.MiB},
		{100 * size.MiB, size.MiB},       // 1.56 MiB
		{800 * size.MiB, 8 * size.MiB},   // 12.5 MiB
		{2560 * size.MiB, 32 * size.MiB}, // 40 MiB
		{8*size.GiB + 900*size.MiB, 128 * size.MiB},
		{64 * size.GiB, size.GiB},
		{200 * size.GiB, size.GiB},
	} {
		if got := Granularity(tt.budget); got != tt.want {
			t.Errorf("Granularity(%s) = %s, want %s", size.Format(tt.budget), size.Format(got), size.Format(tt.want))
		}
	}
}

func TestDefaults(t *testing.T) {
	// The table of zfs-internals.md §2.2.
	v22, v23, v065 := zfsmod.V(2, 2, 0), zfsmod.V(2, 3, 0), zfsmod.V(0, 6, 5)
	if got := DefaultCMax(v22, 64*size.GiB); got != 32*size.GiB {
		t.Errorf("2.2 c_max = %s", size.Format(got))
	}
	if got := DefaultCMax(v23, 64*size.GiB); got != 63*size.GiB {
		t.Errorf("2.3 c_max = %s", size.Format(got))
	}
	if got := DefaultCMin(v065, 64*size.GiB); got != 32*size.MiB {
		t.Errorf("0.6.5 c_min = %s", size.Format(got))
	}
	if got := DefaultCMin(v23, 64*size.GiB); got != 2*size.GiB {
		t.Errorf("2.3 c_min = %s", size.Format(got))
	}
	// arc_sys_free: about 2.23 GiB on a 64 GiB 2.x box; 1 GiB on 0.8.
	if got := DefaultSysFree(zfsmod.V(2, 1, 0), 64*size.GiB); got < 2*size.GiB+200*size.MiB || got > 2*size.GiB+260*size.MiB {
		t.Errorf("2.1 arc_sys_free(64 GiB) = %s", size.Format(got))
	}
	if got := DefaultSysFree(zfsmod.V(0, 8, 6), 64*size.GiB); got != size.GiB {
		t.Errorf("0.8 arc_sys_free(64 GiB) = %s", size.Format(got))
	}
}

func TestCheckArcMax(t *testing.T) {
	all := 16 * size.GiB
	for _, tt := range []struct {
		n, cmin, lower uint64
		want           int
	}{
		{8 * size.GiB, 512 * size.MiB, 0, 0},
		{32 * size.MiB, 512 * size.MiB, 0, 1},
		{16 * size.GiB, 512 * size.MiB, 0, 1},
		{256 * size.MiB, 512 * size.MiB, 0, 1},
		{256 * size.MiB, 512 * size.MiB, 128 * size.MiB, 0},
		{64 * size.MiB, 32 * size.MiB, 0, 0},
	} {
		if got := CheckArcMax(zfsmod.V(2, 1, 11), tt.n, all, tt.cmin, tt.lower); len(got) != tt.want {
			t.Errorf("CheckArcMax(%s, c_min %s, lower %s) = %v", size.Format(tt.n), size.Format(tt.cmin), size.Format(tt.lower), got)
		}
	}
}

// TestRefusedAndExcess: an admin cap the module would ignore is refused
// (no modprobe line unless forced); a window whose non-ARC peak went past
// the declaration adds an "observed excess" term, and the terms still add
// up to MemTotal.
func TestRefusedAndExcess(t *testing.T) {
	const memTotal = 8 * size.GiB
	v := zfsmod.V(2, 1, 11)
	arc := hostArc(t, memTotal, v)
	h := &host.Snapshot{Mem: atRest(memTotal, 0, 0, arc), Arc: arc, Module: zfsmod.State{Version: v}}
	r, err := Recommend(Input{Host: h, ArcMax: 16 * size.MiB})
	if err != nil || r.Status != StatusRefused || r.ModprobeLine() != "" || r.Forced {
		t.Fatalf("refused: %v %+v", err, r)
	}
	r, _ = Recommend(Input{Host: h, ArcMax: 16 * size.MiB, Force: true})
	if r.Status != StatusRefused || !r.Forced || r.ModprobeLine() != "options zfs zfs_arc_max=16777216" {
		t.Errorf("forced: %+v", r)
	}
	w := &pressure.Window{PeakNonARC: 5 * size.GiB}
	r, err = Recommend(Input{Host: h, Window: w, Reservations: []Reservation{{Bytes: 2 * size.GiB}}})
	if err != nil {
		t.Fatal(err)
	}
	excess := uint64(5*size.GiB) - (2*size.GiB + DefaultHostBase(memTotal))
	if r.WindowExcess != excess || sumTerms(r) != int64(memTotal) {
		t.Errorf("excess %d (want %d), terms sum %d", r.WindowExcess, excess, sumTerms(r))
	}
	found := false
	for _, tm := range r.Terms {
		found = found || tm.Name == "observed excess" && tm.Bytes == int64(excess)
	}
	if !found || r.Status != StatusOK || r.ArcMax >= 3*size.GiB {
		t.Errorf("terms %+v, cap %d", r.Terms, r.ArcMax)
	}
}

// TestSysFreeEstimate: 0.6.4 has no arc_sys_free (it came in 0.6.5), so
// the free floor of a 0.6.4 host is arcadvise's estimate, the 0.6.5
// formula: MAX(32 GiB/64, 512 KiB) = 512 MiB, and the term says so.
func TestSysFreeEstimate(t *testing.T) {
	const memTotal = 32 * size.GiB
	v := zfsmod.V(0, 6, 4)
	arc := testutil.Kstat(t, map[string]int64{"size": int64(4 * size.GiB), "c": int64(16 * size.GiB), "c_min": int64(4 * size.MiB), "c_max": int64(16 * size.GiB)})
	h := &host.Snapshot{Mem: atRest(memTotal, 0, 0, arc), Arc: arc, Module: zfsmod.State{Version: v}}
	r, err := Recommend(Input{Host: h, Reservations: []Reservation{{Bytes: 20 * size.GiB, Source: "test"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.FreeFloor != 512*size.MiB {
		t.Errorf("free floor %s, want 512 MiB", size.Format(r.FreeFloor))
	}
	for _, term := range r.Terms {
		if term.Name == "free floor" && (!strings.Contains(term.Source, "arcadvise's estimate") || strings.Contains(term.Source, "module's default")) {
			t.Errorf("free floor source %q", term.Source)
		}
	}
	if !r.Unsupported {
		t.Error("0.6.4 is outside the model")
	}
}
