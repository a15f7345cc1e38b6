package sample

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/pressure"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// TestReplayCaptures replays the real OpenZFS 2.1.11 and 2.3.2 timelines of
// testdata/replays (see the README.md there). The expected values were read
// off the captured files by hand.
func TestReplayCaptures(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name  string
		check func(t *testing.T, w *pressure.Window)
	}{
		{"pressure", func(t *testing.T, w *pressure.Window) {
			// 11-arc-filled → 21 → 22 → 23: stress-ng pulled c from c_max
			// to 135 MiB; kswapd and direct reclaim both reached the ARC.
			want := map[string]uint64{
				"Direct.Delta":   9,
				"Indirect.Delta": 991,
				"Throttle.Delta": 0,
				"CFirst":         2051639296,
				"CLast":          141376349,
				"CLowest":        141376349,
				"CHighest":       2051639296,
				"CDropBytes":     2051639296 - 141376349,
				"CMaxDrop":       2051639296 - 141376349,
				"CMin":           128227456,
				"CMax":           2051639296,
				"ArcSizeMin":     145602416,
				"ArcSizeMax":     2089128752,
				// vmstat 11 → 22: allocstall_normal 3 + allocstall_movable 8.
				"AllocStall.Delta":   11,
				"PgscanDirect.Delta": 484,
				"PgscanKswapd.Delta": 18856,
				"OOMKill.Delta":      0,
			}
			checkUints(t, w, want)
			if w.Direct.Delta == 0 || w.Indirect.Delta == 0 || !w.CPulledDown || w.CLowest >= w.CFirst {
				t.Errorf("pressure not seen: direct %d indirect %d pulled down %v c %d→lowest %d",
					w.Direct.Delta, w.Indirect.Delta, w.CPulledDown, w.CFirst, w.CLowest)
			}
			if w.CDrops != 1 {
				t.Errorf("CDrops = %d, want 1 (c fell between 21 and 22 only)", w.CDrops)
			}
			// arc_no_grow: 0 at 11 and 21, 1 at 22 and 23: half of
			// 21→22 (28.405 s) plus all of 22→23 (17.262 s).
			if want := 28405*time.Millisecond/2 + 17262*time.Millisecond; w.NoGrowTime != want || w.NoGrowTicks != 2 {
				t.Errorf("NoGrowTime = %s over %d ticks, want %s over 2", w.NoGrowTime, w.NoGrowTicks, want)
			}
			// memory_available_bytes was lowest at 22 (the arcstats files,
			// not the arcsum digests taken a moment later).
			if !w.HasMemAvail || w.MinMemAvailable != 26644352 || !w.MinMemAvailableAt.Equal(mustTime(t, "2026-11-25T20:19:20.614Z")) {
				t.Errorf("MinMemAvailable = %d at %s (has %v), want 26644352 at 20:19:20.614", w.MinMemAvailable, w.MinMemAvailableAt, w.HasMemAvail)
			}
			// PSI totals: 0 → 671101 µs some, 233927 µs full.
			if !w.HasPSI || !w.HasPSIFull || w.PSISomeStall != 671101*time.Microsecond || w.PSIFullStall != 233927*time.Microsecond ||
				w.PSISomeResets != 0 || w.PSIFullResets != 0 {
				t.Errorf("PSI stall some %s full %s (has %v %v, resets %d %d)",
					w.PSISomeStall, w.PSIFullStall, w.HasPSI, w.HasPSIFull, w.PSISomeResets, w.PSIFullResets)
			}
			span := 70042 * time.Millisecond
			if w.Len() != span || w.Ticks != 4 || w.Interval != span/3 || !w.Start.Equal(mustTime(t, "2026-11-25T20:18:27.834Z")) {
				t.Errorf("window %s from %s with %d ticks every %s, want %s from 20:18:27.834, 4, %s",
					w.Len(), w.Start, w.Ticks, w.Interval, span, span/3)
			}
			if got, want := w.PSISomePct, 100*0.671101/70.042; !approx(got, want) {
				t.Errorf("PSISomePct = %g, want %g", got, want)
			}
			if got, want := w.PSIFullPct, 100*0.233927/70.042; !approx(got, want) {
				t.Errorf("PSIFullPct = %g, want %g", got, want)
			}
			if got, want := w.Indirect.PerMinute, 991/(70.042/60); !approx(got, want) {
				t.Errorf("Indirect.PerMinute = %g, want %g", got, want)
			}
			// Non-ARC memory peaked at 22 (stress-ng's 3400M resident):
			// MemTotal 4007108 kB − MemFree 192392 kB − Inactive(file) 1992 kB − size 145602416
			// (− Hugetlb 0 kB).
			if want := uint64(4007108-192392-1992)*1024 - 145602416; w.PeakNonARC != want ||
				!w.PeakNonARCAt.Equal(mustTime(t, "2026-11-25T20:19:20.614Z")) {
				t.Errorf("PeakNonARC = %d (%.0f MiB) at %s, want %d at 20:19:20.614",
					w.PeakNonARC, float64(w.PeakNonARC)/mib, w.PeakNonARCAt.Format(time.RFC3339Nano), want)
			}
		}},
		{"rest", func(t *testing.T, w *pressure.Window) {
			for name, c := range map[string]pressure.Counter{
				"Direct": w.Direct, "Indirect": w.Indirect, "Throttle": w.Throttle,
				"AllocStall": w.AllocStall, "PgscanDirect": w.PgscanDirect,
				"PgscanKswapd": w.PgscanKswapd, "OOMKill": w.OOMKill,
			} {
				if c.Delta != 0 || c.PerMinute != 0 || c.Resets != 0 {
					t.Errorf("%s = %+v, want no change", name, c)
				}
			}
			if w.CPulledDown || w.CDrops != 0 || w.CDropBytes != 0 || w.CLowest != w.CFirst {
				t.Errorf("c pulled down at rest: drops %d (%d bytes), first %d lowest %d", w.CDrops, w.CDropBytes, w.CFirst, w.CLowest)
			}
			if w.NoGrowTime != 0 || w.NoGrowTicks != 0 {
				t.Errorf("arc_no_grow set for %s (%d ticks)", w.NoGrowTime, w.NoGrowTicks)
			}
			if !w.HasPSI || !w.HasPSIFull || w.PSISomeStall != 0 || w.PSIFullStall != 0 {
				t.Errorf("PSI stall at rest: some %s full %s (has %v)", w.PSISomeStall, w.PSIFullStall, w.HasPSI)
			}
			// The re-read fills the ARC up to its 768 MiB cap: c grows.
			checkUints(t, w, map[string]uint64{
				"CFirst": 128227456, "CLast": 805306368, "CLowest": 128227456, "CHighest": 805306368,
				"CMin": 128227456, "CMax": 805306368, "ArcSizeMin": 5172912, "ArcSizeMax": 800968832,
			})
			// memory_available_bytes was lowest after the re-read, at 53.
			if w.MinMemAvailable != 2919366528 || !w.MinMemAvailableAt.Equal(mustTime(t, "2026-11-25T20:23:27.291Z")) {
				t.Errorf("MinMemAvailable = %d at %s", w.MinMemAvailable, w.MinMemAvailableAt)
			}
			// Non-ARC memory peaked at 53: 4007108 kB − 2940972 kB − 800968832.
			if want := uint64(4007108-3019492-16452)*1024 - 800968832; w.PeakNonARC != want ||
				!w.PeakNonARCAt.Equal(mustTime(t, "2026-11-25T20:23:27.291Z")) {
				t.Errorf("PeakNonARC = %d at %s, want %d at 20:23:27.291", w.PeakNonARC, w.PeakNonARCAt.Format(time.RFC3339Nano), want)
			}
			if span := 34786 * time.Millisecond; w.Ticks != 3 || w.Len() != span || w.Interval != span/2 || !w.HasVM || !w.HasMemAvail {
				t.Errorf("ticks %d over %s every %s, has vm %v, has mem avail %v", w.Ticks, w.Len(), w.Interval, w.HasVM, w.HasMemAvail)
			}
		}},
		{"zfs-2.3.2-pressure", func(t *testing.T, w *pressure.Window) {
			// The same stress-ng run on 2.3.2: c falls at 22 only, by
			// less, and is back at c_max by 23.
			checkUints(t, w, map[string]uint64{
				"Direct.Delta": 2, "Indirect.Delta": 88, "Throttle.Delta": 0,
				"CFirst": 3029536768, "CLast": 3029536768, "CLowest": 2737631608, "CHighest": 3029536768,
				"CDropBytes": 3029536768 - 2737631608, "CMaxDrop": 3029536768 - 2737631608,
				"CMin": 128227456, "CMax": 3029536768,
				"ArcSizeMin": 2600375944, "ArcSizeMax": 3069637192,
				"AllocStall.Delta": 1, "PgscanDirect.Delta": 51, "PgscanKswapd.Delta": 1526, "OOMKill.Delta": 0,
			})
			if !w.CPulledDown || w.CDrops != 1 {
				t.Errorf("c pulled down %v, %d drops; want 1", w.CPulledDown, w.CDrops)
			}
			// arc_no_grow: set at 22 only: half of 21→22 (44.349 s) and
			// half of 22→23 (11.95 s).
			if want := 44349*time.Millisecond/2 + 11950*time.Millisecond/2; w.NoGrowTime != want || w.NoGrowTicks != 1 {
				t.Errorf("NoGrowTime = %s over %d ticks, want %s over 1", w.NoGrowTime, w.NoGrowTicks, want)
			}
			if !w.HasMemAvail || w.MinMemAvailable != 279221632 || !w.MinMemAvailableAt.Equal(mustTime(t, "2026-11-26T01:48:36.585Z")) {
				t.Errorf("MinMemAvailable = %d at %s, want 279221632 at 01:48:36.585", w.MinMemAvailable, w.MinMemAvailableAt)
			}
			if !w.HasPSI || !w.HasPSIFull || w.PSISomeStall != 279883*time.Microsecond || w.PSIFullStall != 56612*time.Microsecond {
				t.Errorf("PSI stall some %s full %s (has %v %v)", w.PSISomeStall, w.PSIFullStall, w.HasPSI, w.HasPSIFull)
			}
			if span := 87977 * time.Millisecond; w.Len() != span || w.Ticks != 4 || w.Interval != span/3 {
				t.Errorf("window %s with %d ticks every %s", w.Len(), w.Ticks, w.Interval)
			}
			// Non-ARC memory peaked at 22: 4007108 kB − 687036 kB − 2600375944.
			if want := uint64(4007108-764220-20064)*1024 - 2600375944; w.PeakNonARC != want ||
				!w.PeakNonARCAt.Equal(mustTime(t, "2026-11-26T01:49:20.934Z")) {
				t.Errorf("PeakNonARC = %d at %s, want %d at 01:49:20.934", w.PeakNonARC, w.PeakNonARCAt.Format(time.RFC3339Nano), want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := replayDir(t, tt.name)
			rp, ok, err := OpenReplay(testutil.OpenRoot(t, dir))
			if err != nil || !ok {
				t.Fatalf("OpenReplay: ok %v, %v", ok, err)
			}
			// A replay is not paced: the hour-long interval is not waited.
			start := time.Now()
			w, last, err := Collect(t.Context(), rp, Options{Interval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("replay waited: Collect took %s", took)
			}
			tt.check(t, w)
			if w.Series != nil {
				t.Errorf("Series kept without KeepSeries: %d ticks", len(w.Series))
			}
			// Every snapshot is read from its directory, at its
			// recorded time; the last is the one Collect returns.
			entries := rp.Entries()
			snaps := readReplay(t, dir)
			if n := len(snaps); n != len(entries) || last == nil || last.Root != snaps[n-1].Root || !last.At.Equal(snaps[n-1].At) {
				t.Fatalf("%d snapshots for %d entries; last %+v", len(snaps), len(entries), last)
			}
			for i, s := range snaps {
				if s.Root != filepath.Join(dir, entries[i].Dir) || !s.At.Equal(entries[i].At) {
					t.Errorf("snapshot %d: %s at %s, want %s at %s", i, s.Root, s.At, entries[i].Dir, entries[i].At)
				}
				// The captures have no hugepages, no /sys/module/zfs,
				// and nothing to warn about.
				if !s.HasPSI || !s.HasVM || s.Mem.Hugepages != 0 || s.Module.Version.Known() || len(s.Warnings) != 0 {
					t.Errorf("snapshot %s: psi %v vm %v hugepages %d module %+v warnings %q",
						entries[i].Dir, s.HasPSI, s.HasVM, s.Mem.Hugepages, s.Module, s.Warnings)
				}
			}
		})
	}
}

// readReplay reads every snapshot of the replay at dir with Next.
//
// Tests read a replay's snapshots this way rather than by wrapping the
// *Replay given to Collect: Collect does not pace a *Replay, and a wrapper
// would hide it.
func readReplay(t *testing.T, dir string) []*host.Snapshot {
	t.Helper()
	rp, ok, err := OpenReplay(testutil.OpenRoot(t, dir))
	if err != nil || !ok {
		t.Fatalf("OpenReplay(testutil.OpenRoot(t, %s)): ok %v, %v", dir, ok, err)
	}
	var snaps []*host.Snapshot
	for {
		s, err := rp.Next(t.Context())
		if err == io.EOF {
			return snaps
		}
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, s)
	}
}

// checkUints compares the window's fields, by name, with want.
func checkUints(t *testing.T, w *pressure.Window, want map[string]uint64) {
	t.Helper()
	got := map[string]uint64{
		"Direct.Delta": w.Direct.Delta, "Indirect.Delta": w.Indirect.Delta,
		"Throttle.Delta": w.Throttle.Delta, "CFirst": w.CFirst, "CLast": w.CLast,
		"CLowest": w.CLowest, "CHighest": w.CHighest, "CDropBytes": w.CDropBytes, "CMaxDrop": w.CMaxDrop,
		"CMin": w.CMin, "CMax": w.CMax,
		"ArcSizeMin": w.ArcSizeMin, "ArcSizeMax": w.ArcSizeMax,
		"AllocStall.Delta": w.AllocStall.Delta, "PgscanDirect.Delta": w.PgscanDirect.Delta,
		"PgscanKswapd.Delta": w.PgscanKswapd.Delta, "OOMKill.Delta": w.OOMKill.Delta,
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Fatalf("checkUints: no field %s", k)
		}
		if g != v {
			t.Errorf("%s = %d, want %d", k, g, v)
		}
	}
}

func approx(a, b float64) bool {
	d := a - b
	return d < 1e-9*max(1, b) && -d < 1e-9*max(1, b)
}

// TestReplayDuration: a --sample duration shorter than the recording stops
// at the first snapshot at or after it; KeepSeries keeps the ticks seen.
func TestReplayDuration(t *testing.T) {
	tests := []struct {
		dur       time.Duration
		wantTicks int
	}{
		{0, 4},
		{time.Second, 2},
		{24375 * time.Millisecond, 2},
		{24376 * time.Millisecond, 3},
		{time.Hour, 4},
	}
	for _, tt := range tests {
		t.Run(tt.dur.String(), func(t *testing.T) {
			rp, _, err := OpenReplay(testutil.OpenRoot(t, replayDir(t, "pressure")))
			if err != nil {
				t.Fatal(err)
			}
			var progress []Progress
			// A replay is not paced: the hour-long interval is not waited.
			start := time.Now()
			w, last, err := Collect(t.Context(), rp, Options{Interval: time.Hour, Duration: tt.dur, KeepSeries: true,
				Progress: func(p Progress) { progress = append(progress, p) }})
			if err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("replay waited: Collect took %s", took)
			}
			if w.Ticks != tt.wantTicks || len(w.Series) != tt.wantTicks || len(progress) != tt.wantTicks {
				t.Fatalf("ticks %d, series %d, progress calls %d; want %d", w.Ticks, len(w.Series), len(progress), tt.wantTicks)
			}
			snaps := readReplay(t, replayDir(t, "pressure"))[:tt.wantTicks]
			checkSeries(t, w, snaps)
			for i, p := range w.Series {
				if !p.T.Equal(rp.Entries()[i].At) {
					t.Errorf("tick %d at %s, want %s", i, p.T, rp.Entries()[i].At)
				}
			}
			// The interval is the snapshots' mean spacing, not Options.Interval.
			if lastSnap := snaps[len(snaps)-1]; last == nil || last.Root != lastSnap.Root || !last.At.Equal(lastSnap.At) ||
				w.Interval != w.Len()/time.Duration(w.Ticks-1) {
				t.Errorf("last snapshot %+v, want %s; interval %s", last, lastSnap.Root, w.Interval)
			}
			lp := progress[len(progress)-1]
			if lp.Elapsed != w.Len() || lp.Total != tt.dur || lp.Left != max(tt.dur-w.Len(), 0) || lp.Ticks != w.Ticks ||
				lp.Direct != w.Direct.Delta || lp.Indirect != w.Indirect.Delta || lp.C != w.CLast || lp.Size != last.ArcSize() {
				t.Errorf("last progress %+v does not match the window", lp)
			}
		})
	}
}

func TestOpenReplayNotAReplay(t *testing.T) {
	for _, root := range []string{filepath.Join(replayDir(t, "pressure"), "11-arc-filled"), t.TempDir()} {
		rp, ok, err := OpenReplay(testutil.OpenRoot(t, root))
		if rp != nil || ok || err != nil {
			t.Errorf("OpenReplay(%s) = %v, %v, %v; want nil, false, nil", root, rp, ok, err)
		}
	}
}

func writeFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	dir, rest, _ := strings.Cut(name, "/")
	b, err := os.ReadFile(filepath.Join(replayDir(t, dir), filepath.FromSlash(rest)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// snapshotFiles returns the /proc files of one captured snapshot, for
// building replays in a temporary directory.
func snapshotFiles(t testing.TB, snap string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, rel := range []string{arcPath, memPath, psiPath, vmPath} {
		files[rel] = readTestdata(t, snap+"/"+rel)
	}
	return files
}

func TestReplayErrors(t *testing.T) {
	snap := snapshotFiles(t, "pressure/11-arc-filled")
	arcMem := map[string]string{"a/" + arcPath: snap[arcPath], "a/" + memPath: snap[memPath]}
	with := func(files map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range arcMem {
			m[k] = v
		}
		for k, v := range files {
			m[k] = v
		}
		return m
	}
	// In messages, ROOT stands for the replay's root.
	tests := []struct {
		name     string
		manifest string
		files    map[string]string // relative to the replay root
		openErr  string            // the whole message; "" means OpenReplay succeeds
		nextErr  string            // the whole message of the first Next
		is       error
	}{
		{
			name:     "missing snapshot dir",
			manifest: "arcadvise replay 1\n0s a\n1s b\n",
			files:    map[string]string{"a/x": ""},
			openErr:  `ROOT/arcadvise-replay: snapshot b: no such file or directory`,
			is:       fs.ErrNotExist,
		},
		{
			name:     "snapshot is a file",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    map[string]string{"a": ""},
			openErr:  `ROOT/arcadvise-replay: snapshot a is not a directory`,
		},
		{
			name:     "bad manifest",
			manifest: "arcadvise replay 1\n0s a\nsoon b\n",
			files:    map[string]string{"a/x": "", "b/x": ""},
			openErr:  `ROOT/arcadvise-replay:3: "soon" is neither a duration (24.5s) nor an RFC 3339 time`,
		},
		{
			name:     "no arcstats",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    map[string]string{"a/" + memPath: snap[memPath]},
			nextErr:  `replay snapshot a: ROOT/a/proc/spl/kstat/zfs/arcstats: zfs module not loaded: file does not exist`,
			is:       arcstats.ErrNotLoaded,
		},
		{
			name:     "no meminfo",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    map[string]string{"a/" + arcPath: snap[arcPath]},
			nextErr:  `replay snapshot a: ROOT/a/proc/meminfo: no such file or directory`,
			is:       fs.ErrNotExist,
		},
		{
			name:     "malformed meminfo",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    with(map[string]string{"a/" + memPath: "MemTotal: 4 kB\nMemFree: lots kB\n"}),
			nextErr:  `replay snapshot a: ROOT/a/proc/meminfo:2: malformed line "MemFree: lots kB": value is not an unsigned decimal 64-bit integer`,
		},
		{
			name:     "meminfo without MemTotal",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    with(map[string]string{"a/" + memPath: "MemFree: 4 kB\n"}),
			nextErr:  `replay snapshot a: ROOT/a/proc/meminfo: no MemTotal line: not a Linux /proc/meminfo`,
		},
		{
			name:     "malformed arcstats",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    with(map[string]string{"a/" + arcPath: strings.Replace(snap[arcPath], "c_max                           4    2051639296", "c_max                           4    lots", 1)}),
			nextErr:  `replay snapshot a: ROOT/a/proc/spl/kstat/zfs/arcstats:36: c_max: invalid uint64 value "lots" (type 4)`,
		},
		{
			name:     "malformed pressure",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    with(map[string]string{"a/" + psiPath: "some avg10=x\n"}),
			nextErr:  `replay snapshot a: ROOT/a/proc/pressure/memory:1: malformed line "some avg10=x": avg10 "x" is not a percentage`,
		},
		{
			name:     "malformed vmstat",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    with(map[string]string{"a/" + vmPath: "nr_free_pages 1\nallocstall_normal -1\n"}),
			nextErr:  `replay snapshot a: ROOT/a/proc/vmstat:2: malformed line "allocstall_normal -1": value is not an unsigned decimal 64-bit integer`,
		},
		{
			name:     "malformed module parameter",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    with(map[string]string{"a/" + arcMaxPath: "lots\n"}),
			nextErr:  `replay snapshot a: ROOT/a/sys/module/zfs/parameters/zfs_arc_max:1: malformed value "lots": want a decimal number`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tt.files)
			writeFiles(t, root, map[string]string{ManifestName: tt.manifest})
			rp, ok, err := OpenReplay(testutil.OpenRoot(t, root))
			if !ok {
				t.Fatal("OpenReplay: ok = false with a manifest")
			}
			want := strings.ReplaceAll(tt.openErr, "ROOT", root)
			if tt.openErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				var s *host.Snapshot
				s, err = rp.Next(t.Context())
				if s != nil {
					t.Errorf("snapshot %+v with an error", s)
				}
				want = strings.ReplaceAll(tt.nextErr, "ROOT", root)
			} else if rp != nil {
				t.Errorf("replay %+v with an error", rp)
			}
			if err == nil || err.Error() != want {
				t.Fatalf("error %v\nwant  %s", err, want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

// TestReplayRowMissing: a snapshot whose arcstats lacks a row the window
// needs is read, but ends the window with an error naming the sample.
func TestReplayRowMissing(t *testing.T) {
	root := t.TempDir()
	for dir, snap := range map[string]string{"a": "pressure/21-pressure-20s", "b": "pressure/22-pressure-45s"} {
		files := snapshotFiles(t, snap)
		if dir == "b" {
			files[arcPath] = regexp.MustCompile(`(?m)^c +4 +\d+\n`).ReplaceAllString(files[arcPath], "")
		}
		writeFiles(t, filepath.Join(root, dir), files)
	}
	writeFiles(t, root, map[string]string{ManifestName: "arcadvise replay 1\n0s a\n30s b\n"})
	rp, _, err := OpenReplay(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	w, last, err := Collect(t.Context(), rp, Options{})
	if err == nil || err.Error() != "sample 2: arcstats has no c row" {
		t.Fatalf("error %v, want sample 2: arcstats has no c row", err)
	}
	if w.Ticks != 1 || last == nil || last.Root != filepath.Join(root, "a") {
		t.Errorf("%d ticks, last snapshot %+v; want 1, a", w.Ticks, last)
	}
}

// TestReplayOptionalFiles: PSI and vmstat may be absent from a snapshot; the
// window then says it has no PSI or vmstat data.
func TestReplayOptionalFiles(t *testing.T) {
	root := t.TempDir()
	for i, snap := range []string{"pressure/21-pressure-20s", "pressure/22-pressure-45s"} {
		files := snapshotFiles(t, snap)
		delete(files, psiPath)
		delete(files, vmPath)
		dir := filepath.Join(root, []string{"a", "b"}[i])
		writeFiles(t, dir, files)
	}
	writeFiles(t, root, map[string]string{ManifestName: "arcadvise replay 1\n0s a\n30s b\n"})
	rp, _, err := OpenReplay(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	w, last, err := Collect(t.Context(), rp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w.HasPSI || w.HasPSIFull || w.HasVM || w.PSISomeStall != 0 || w.AllocStall != (pressure.Counter{}) || last.HasPSI || last.HasVM {
		t.Errorf("no PSI/vmstat files, but window has PSI %v (%s) vm %v (%+v)", w.HasPSI, w.PSISomeStall, w.HasVM, w.AllocStall)
	}
	if w.Direct.Delta != 9 || w.Indirect.Delta != 991 || w.Len() != 30*time.Second {
		t.Errorf("direct %d indirect %d over %s, want 9 991 over 30s", w.Direct.Delta, w.Indirect.Delta, w.Len())
	}
}

// TestReplayCounterReset: a zfs module reload between two snapshots resets
// the arcstats counters; the window counts only increases.
func TestReplayCounterReset(t *testing.T) {
	root := t.TempDir()
	// 22 (direct 9, indirect 991) → rest/51 (module reloaded: 0, 0) → 22 again.
	for dir, snap := range map[string]string{"a": "pressure/22-pressure-45s", "b": "rest/51-after-modprobe", "c": "pressure/22-pressure-45s"} {
		writeFiles(t, filepath.Join(root, dir), snapshotFiles(t, snap))
	}
	writeFiles(t, root, map[string]string{ManifestName: "arcadvise replay 1\n0s a\n10s b\n20s c\n"})
	rp, _, err := OpenReplay(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := Collect(t.Context(), rp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		got         pressure.Counter
		first, last uint64
	}{"Indirect": {w.Indirect, 991, 991}, "Direct": {w.Direct, 9, 9}} {
		// The 20 s window counts as a minute (README, "Pressure
		// verdict"): the delta is the rate.
		if c.got.First != c.first || c.got.Last != c.last || c.got.Delta != c.last || c.got.Resets != 1 ||
			!approx(c.got.PerMinute, float64(c.last)) {
			t.Errorf("%s = %+v, want first %d, last %d, delta %d, 1 reset, %d/min", name, c.got, c.first, c.last, c.last, c.last)
		}
	}
	if w.PSISomeResets != 1 || w.PSISomeStall != 671101*time.Microsecond || w.PSIFullResets != 1 || w.PSIFullStall != 233927*time.Microsecond {
		t.Errorf("PSI some: %d resets, stall %s; full: %d resets, stall %s", w.PSISomeResets, w.PSISomeStall, w.PSIFullResets, w.PSIFullStall)
	}
}

func TestParseManifest(t *testing.T) {
	epoch := time.Unix(0, 0).UTC()
	tests := []struct {
		name string
		in   string
		want []Entry
		err  string
	}{
		{
			name: "offsets without start",
			in:   "arcadvise replay 1\n0s a\n1.5s b/c\n",
			want: []Entry{{epoch, "a"}, {epoch.Add(1500 * time.Millisecond), "b/c"}},
		},
		{
			name: "start, comments, tabs, CRLF, spaces in dir",
			in:   "arcadvise replay 1\r\n# c\r\n\r\nstart 2026-11-25T20:18:27.834Z\r\n0s\tsnap 0\r\n  1m10.042s   ./x//y/  \r\n",
			want: []Entry{
				{mustTime(t, "2026-11-25T20:18:27.834Z"), "snap 0"},
				{mustTime(t, "2026-11-25T20:19:37.876Z"), "x/y"},
			},
		},
		{
			name: "absolute times mixed with offsets",
			in:   "arcadvise replay 1\nstart 2026-01-01T00:00:00Z\n2026-01-01T01:00:00+01:00 a\n1ns b\n2026-01-01T00:00:01.5Z c\n",
			want: []Entry{
				{mustTime(t, "2026-01-01T00:00:00Z"), "a"},
				{mustTime(t, "2026-01-01T00:00:00.000000001Z"), "b"},
				{mustTime(t, "2026-01-01T00:00:01.5Z"), "c"},
			},
		},
		{name: "empty", in: "", err: `^arcadvise-replay: empty file, want the line "arcadvise replay 1" first$`},
		{name: "wrong header", in: "arcadvise replay 2\n0s a\n", err: `^arcadvise-replay:1: first line is "arcadvise replay 2", want "arcadvise replay 1"$`},
		{name: "no snapshots", in: "arcadvise replay 1\n# nothing\n", err: `^arcadvise-replay: no snapshots listed \(hint: add lines like "0s snap-000"\)$`},
		{name: "no dir", in: "arcadvise replay 1\n0s\n", err: `^arcadvise-replay:2: no directory after "0s"$`},
		{name: "bad time", in: "arcadvise replay 1\n0s a\n5 b\n", err: `^arcadvise-replay:3: "5" is neither a duration \(24.5s\) nor an RFC 3339 time$`},
		{name: "not increasing", in: "arcadvise replay 1\n1s a\n1s b\n", err: `^arcadvise-replay:3: b: time 1970-01-01T00:00:01Z is not after the previous snapshot's 1970-01-01T00:00:01Z$`},
		{name: "going back", in: "arcadvise replay 1\n2s a\n1s b\n", err: `^arcadvise-replay:3: b: time .* is not after`},
		{name: "outside root", in: "arcadvise replay 1\n0s ../a\n", err: `^arcadvise-replay:2: directory "../a" is not a path inside the replay$`},
		{name: "absolute dir", in: "arcadvise replay 1\n0s /proc\n", err: `^arcadvise-replay:2: directory "/proc" is not a path inside the replay$`},
		{name: "leading space after cleaning", in: "arcadvise replay 1\n0s ./ a\n", err: `^arcadvise-replay:2: directory " a" starts or ends with white space$`},
		{name: "trailing space after cleaning", in: "arcadvise replay 1\n0s . /\n", err: `^arcadvise-replay:2: directory ". " starts or ends with white space$`},
		{name: "root itself", in: "arcadvise replay 1\n0s .\n", err: `^arcadvise-replay:2: directory "." is not a path inside the replay$`},
		{name: "start twice", in: "arcadvise replay 1\nstart 2026-01-01T00:00:00Z\nstart 2026-01-01T00:00:00Z\n", err: `^arcadvise-replay:3: second start line$`},
		{name: "start late", in: "arcadvise replay 1\n0s a\nstart 2026-01-01T00:00:00Z\n", err: `^arcadvise-replay:3: start line after the first snapshot$`},
		{name: "bad start", in: "arcadvise replay 1\nstart yesterday\n", err: `^arcadvise-replay:2: start: "yesterday" is not an RFC 3339 time$`},
		{name: "long line", in: "arcadvise replay 1\n0s " + strings.Repeat("a", 70000) + "\n", err: `^arcadvise-replay:2: bufio.Scanner: token too long$`},
		{name: "long value truncated", in: "arcadvise replay 1\n" + strings.Repeat("9", 50) + " a\n", err: `^arcadvise-replay:2: "9{40}\.\.\." is neither a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseManifest(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !regexp.MustCompile(tt.err).MatchString(err.Error()) || got != nil {
					t.Fatalf("entries %v, error %v; want none and a match of %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries %v, want %v", len(got), got, tt.want)
			}
			for i := range got {
				if !got[i].At.Equal(tt.want[i].At) || got[i].Dir != tt.want[i].Dir {
					t.Errorf("entry %d = %v %q, want %v %q", i, got[i].At, got[i].Dir, tt.want[i].At, tt.want[i].Dir)
				}
			}
		})
	}
}

// replays are the recorded replays of testdata/replays.
var replays = []string{"pressure", "rest", "zfs-2.3.2-pressure"}

// TestReplayTestdataManifests: the manifests of testdata/replays agree with
// the timestamp file of each snapshot.
func TestReplayTestdataManifests(t *testing.T) {
	for _, name := range replays {
		rp, _, err := OpenReplay(testutil.OpenRoot(t, replayDir(t, name)))
		if err != nil {
			t.Fatal(err)
		}
		if len(rp.Entries()) < 3 {
			t.Errorf("%s: %d entries", name, len(rp.Entries()))
		}
		for _, s := range rp.Entries() {
			line, _, _ := strings.Cut(readTestdata(t, name+"/"+s.Dir+"/timestamp"), "\n")
			if at := mustTime(t, line); !at.Equal(s.At) {
				t.Errorf("%s/%s: manifest time %s, timestamp file %s", name, s.Dir, s.At.Format(time.RFC3339Nano), line)
			}
		}
	}
}

// TestRecordScriptInDocs runs the recording script of docs/replay.md against
// a captured root and replays what it recorded.
func TestRecordScriptInDocs(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh to run the script of docs/replay.md: %v", err)
	}
	doc, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "docs", "replay.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```sh\n(#!/bin/sh\n.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/replay.md: no ```sh block starting with #!/bin/sh")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "record.sh")
	if err := os.WriteFile(script, m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := filepath.Abs(filepath.Join(replayDir(t, "pressure"), "22-pressure-45s"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "rec")
	cmd := exec.CommandContext(t.Context(), sh, script, out, "3", "0.1")
	cmd.Env = append(os.Environ(), "ROOT="+src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("record.sh: %v\n%s", err, b)
	}
	rp, ok, err := OpenReplay(testutil.OpenRoot(t, out))
	if err != nil || !ok {
		t.Fatalf("OpenReplay of the recording: ok %v, %v", ok, err)
	}
	w, last, err := Collect(t.Context(), rp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Ticks != 3 || w.CLast != 141376349 || w.Direct.Last != 9 || !w.HasPSI || !w.HasVM || w.Len() < 150*time.Millisecond {
		t.Errorf("replayed recording: %d ticks over %s, c %d, direct %d, psi %v, vm %v", w.Ticks, w.Len(), w.CLast, w.Direct.Last, w.HasPSI, w.HasVM)
	}
	if want := filepath.Join(out, "snap-002"); last == nil || last.Root != want || !last.At.Equal(w.End) {
		t.Errorf("last snapshot %+v, want %s", last, want)
	}
}

func TestReplayEOFAndCancel(t *testing.T) {
	dir := replayDir(t, "rest")
	rp, _, err := OpenReplay(testutil.OpenRoot(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range rp.Entries() {
		s, err := rp.Next(t.Context())
		if err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
		if s.Root != filepath.Join(dir, e.Dir) || !s.At.Equal(e.At) {
			t.Errorf("Next %d: %s at %s, want %s at %s", i, s.Root, s.At, e.Dir, e.At)
		}
	}
	for range 2 {
		if s, err := rp.Next(t.Context()); s != nil || err != io.EOF {
			t.Fatalf("Next after the last snapshot = %v, %v; want io.EOF", s, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rp, _, _ = OpenReplay(testutil.OpenRoot(t, dir))
	if s, err := rp.Next(ctx); s != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a cancelled context = %v, %v", s, err)
	}
	// The cancelled call did not use up the first snapshot.
	if s, err := rp.Next(t.Context()); err != nil || s.Root != filepath.Join(dir, rp.Entries()[0].Dir) {
		t.Fatalf("Next after the cancelled call = %v, %v; want the first snapshot", s, err)
	}
}

// FuzzParseManifest: ParseManifest never panics, and what it accepts is a
// valid replay (strictly increasing times, local clean directories) that
// round-trips through its own rendering with absolute times.
func FuzzParseManifest(f *testing.F) {
	for _, name := range replays {
		f.Add(readTestdata(f, name+"/"+ManifestName))
	}
	f.Fuzz(func(t *testing.T, in string) {
		snaps, err := ParseManifest(strings.NewReader(in))
		if err != nil {
			if snaps != nil {
				t.Fatalf("error %v with %d snapshots", err, len(snaps))
			}
			if !strings.HasPrefix(err.Error(), ManifestName) {
				t.Fatalf("error %q does not name the manifest", err)
			}
			return
		}
		if len(snaps) == 0 {
			t.Fatal("no error and no snapshots")
		}
		var b strings.Builder
		b.WriteString("arcadvise replay 1\n")
		for i, s := range snaps {
			if i > 0 && !s.At.After(snaps[i-1].At) {
				t.Fatalf("snapshot %d at %s, not after %s", i, s.At, snaps[i-1].At)
			}
			if !filepath.IsLocal(filepath.FromSlash(s.Dir)) || s.Dir == "." || s.Dir != strings.TrimSpace(s.Dir) || strings.HasPrefix(s.Dir, "./") {
				t.Fatalf("snapshot %d: directory %q", i, s.Dir)
			}
			if y := s.At.Year(); y < 0 || y > 9999 {
				return // RFC 3339 cannot render it
			}
			b.WriteString(s.At.Format(time.RFC3339Nano) + " " + s.Dir + "\n")
		}
		again, err := ParseManifest(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("rendered manifest does not parse: %v\n%s", err, b.String())
		}
		if len(again) != len(snaps) {
			t.Fatalf("round trip: %d snapshots, then %d", len(snaps), len(again))
		}
		for i := range again {
			if !again[i].At.Equal(snaps[i].At) || again[i].Dir != snaps[i].Dir {
				t.Fatalf("round trip: snapshot %d %v %q, then %v %q", i, snaps[i].At, snaps[i].Dir, again[i].At, again[i].Dir)
			}
		}
	})
}

// replayDir is one of the repository's recorded replays, shared with the
// CLI's tests: testdata/replays/<name> at the repository root, where a name
// without a "zfs-" prefix is one of the OpenZFS 2.1.11 replays
// (zfs-2.1.11-<name>).
func replayDir(t testing.TB, name string) string {
	t.Helper()
	if !strings.HasPrefix(name, "zfs-") {
		name = "zfs-2.1.11-" + name
	}
	return filepath.Join(testutil.RepoRoot(t), "testdata", "replays", name)
}

// TestModuleGoneMidWindow: the zfs module goes away (its arcstats vanish)
// after two readings. The window so far stands, ends at the last reading,
// and says why; it used to be discarded whole.
func TestModuleGoneMidWindow(t *testing.T) {
	root := t.TempDir()
	for dir, snap := range map[string]string{"a": "pressure/21-pressure-20s", "b": "pressure/22-pressure-45s", "c": "pressure/23-pressure-end"} {
		files := snapshotFiles(t, snap)
		if dir == "c" {
			delete(files, arcPath)
		}
		writeFiles(t, filepath.Join(root, dir), files)
	}
	writeFiles(t, root, map[string]string{ManifestName: "arcadvise replay 1\n0s a\n30s b\n60s c\n"})
	rp, _, err := OpenReplay(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	w, last, err := Collect(t.Context(), rp, Options{})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if w.Ticks != 2 || last.Root != filepath.Join(root, "b") || !strings.HasPrefix(w.Ended, "the zfs module went away after 30s of sampling") {
		t.Errorf("%d ticks, last %s, ended %q", w.Ticks, last.Root, w.Ended)
	}
	if p := pressure.WindowPressure(w); len(p.Findings) == 0 || p.Findings[0] != w.Ended {
		t.Errorf("findings %q", p.Findings)
	}
}
