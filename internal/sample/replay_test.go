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

// TestReplayCaptures replays the real OpenZFS 2.1.11 timelines in testdata
// (see testdata/README.md).
func TestReplayCaptures(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name  string
		check func(t *testing.T, w *Window)
	}{
		{"pressure", func(t *testing.T, w *Window) {
			// 11-arc-filled → 21 → 22 → 23: stress-ng pulled c from c_max
			// to 135 MiB; kswapd and direct reclaim both reached the ARC.
			want := map[string]uint64{
				"Direct.Delta":   9,
				"Indirect.Delta": 991,
				"Throttle.Delta": 0,
				"CFirst":         2051639296,
				"CLast":          141376349,
				"CMin":           141376349,
				"CMax":           2051639296,
				"CDropBytes":     2051639296 - 141376349,
				"CMaxDrop":       2051639296 - 141376349,
				"ArcCMin":        128227456,
				"ArcCMax":        2051639296,
				"ArcSizeMin":     145602416,
				"ArcSizeMax":     2089128752,
				// vmstat 11 → 22: allocstall_normal 3 + allocstall_movable 8.
				"AllocStall.Delta":   11,
				"PgscanDirect.Delta": 484,
				"PgscanKswapd.Delta": 18856,
				"OOMKill.Delta":      0,
			}
			got := map[string]uint64{
				"Direct.Delta": w.Direct.Delta, "Indirect.Delta": w.Indirect.Delta,
				"Throttle.Delta": w.Throttle.Delta, "CFirst": w.CFirst, "CLast": w.CLast,
				"CMin": w.CMin, "CMax": w.CMax, "CDropBytes": w.CDropBytes, "CMaxDrop": w.CMaxDrop,
				"ArcCMin": w.ArcCMin, "ArcCMax": w.ArcCMax,
				"ArcSizeMin": w.ArcSizeMin, "ArcSizeMax": w.ArcSizeMax,
				"AllocStall.Delta": w.AllocStall.Delta, "PgscanDirect.Delta": w.PgscanDirect.Delta,
				"PgscanKswapd.Delta": w.PgscanKswapd.Delta, "OOMKill.Delta": w.OOMKill.Delta,
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %d, want %d", k, got[k], v)
				}
			}
			if w.Direct.Delta == 0 || w.Indirect.Delta == 0 || !w.CPulledDown || w.CMin >= w.CFirst {
				t.Errorf("pressure not seen: direct %d indirect %d pulled down %v c %d→min %d",
					w.Direct.Delta, w.Indirect.Delta, w.CPulledDown, w.CFirst, w.CMin)
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
			if !w.HasPSI || !w.HasPSIFull || w.PSISomeStall != 671101*time.Microsecond || w.PSIFullStall != 233927*time.Microsecond {
				t.Errorf("PSI stall some %s full %s (has %v %v)", w.PSISomeStall, w.PSIFullStall, w.HasPSI, w.HasPSIFull)
			}
			span := 70042 * time.Millisecond
			if w.Len() != span || w.Ticks != 4 || w.Interval != span/3 {
				t.Errorf("window %s with %d ticks every %s, want %s, 4, %s", w.Len(), w.Ticks, w.Interval, span, span/3)
			}
			if got, want := w.PSISomePct, 100*0.671101/70.042; !approx(got, want) {
				t.Errorf("PSISomePct = %g, want %g", got, want)
			}
			if got, want := w.Indirect.PerMinute, 991/(70.042/60); !approx(got, want) {
				t.Errorf("Indirect.PerMinute = %g, want %g", got, want)
			}
			// Non-ARC memory peaked at 22 (stress-ng's 3400M resident):
			// MemTotal 4007108 kB − MemAvailable 83352 kB − size 145602416.
			if want := uint64(4007108-83352)*1024 - 145602416; w.PeakNonARC != want ||
				!w.PeakNonARCAt.Equal(mustTime(t, "2026-11-25T20:19:20.614Z")) {
				t.Errorf("PeakNonARC = %d (%.0f MiB) at %s, want %d at 20:19:20.614",
					w.PeakNonARC, float64(w.PeakNonARC)/mib, w.PeakNonARCAt.Format(time.RFC3339Nano), want)
			}
		}},
		{"rest", func(t *testing.T, w *Window) {
			for name, c := range map[string]Counter{
				"Direct": w.Direct, "Indirect": w.Indirect, "Throttle": w.Throttle,
				"AllocStall": w.AllocStall, "PgscanDirect": w.PgscanDirect,
				"PgscanKswapd": w.PgscanKswapd, "OOMKill": w.OOMKill,
			} {
				if c.Delta != 0 || c.PerMinute != 0 || c.Resets != 0 {
					t.Errorf("%s = %+v, want no change", name, c)
				}
			}
			if w.CPulledDown || w.CDrops != 0 || w.CDropBytes != 0 || w.CMin != w.CFirst {
				t.Errorf("c pulled down at rest: drops %d (%d bytes), first %d min %d", w.CDrops, w.CDropBytes, w.CFirst, w.CMin)
			}
			if w.NoGrowTime != 0 || w.NoGrowTicks != 0 {
				t.Errorf("arc_no_grow set for %s (%d ticks)", w.NoGrowTime, w.NoGrowTicks)
			}
			if !w.HasPSI || w.PSISomeStall != 0 || w.PSIFullStall != 0 {
				t.Errorf("PSI stall at rest: some %s full %s (has %v)", w.PSISomeStall, w.PSIFullStall, w.HasPSI)
			}
			// The re-read fills the ARC up to its 768 MiB cap: c grows.
			if w.CFirst != 128227456 || w.CLast != 805306368 || w.MinMemAvailable <= 0 {
				t.Errorf("c %d → %d, min memory_available_bytes %d", w.CFirst, w.CLast, w.MinMemAvailable)
			}
			if w.Ticks != 3 || !w.HasVM || !w.HasMemAvail {
				t.Errorf("ticks %d, has vm %v, has mem avail %v", w.Ticks, w.HasVM, w.HasMemAvail)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp, ok, err := OpenReplay(replayDir(t, tt.name))
			if err != nil || !ok {
				t.Fatalf("OpenReplay: ok %v, %v", ok, err)
			}
			w, err := Collect(t.Context(), rp, Options{Interval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, &w)
			if w.Series != nil {
				t.Errorf("Series kept without KeepSeries: %d ticks", len(w.Series))
			}
		})
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
			rp, _, err := OpenReplay(replayDir(t, "pressure"))
			if err != nil {
				t.Fatal(err)
			}
			var progress []Progress
			w, err := Collect(t.Context(), rp, Options{Duration: tt.dur, KeepSeries: true,
				Progress: func(p Progress) { progress = append(progress, p) }})
			if err != nil {
				t.Fatal(err)
			}
			if w.Ticks != tt.wantTicks || len(w.Series) != tt.wantTicks || len(progress) != tt.wantTicks {
				t.Fatalf("ticks %d, series %d, progress calls %d; want %d", w.Ticks, len(w.Series), len(progress), tt.wantTicks)
			}
			for i, tick := range w.Series {
				if !tick.At.Equal(rp.Snapshots()[i].At) {
					t.Errorf("tick %d at %s, want %s", i, tick.At, rp.Snapshots()[i].At)
				}
			}
			last := progress[len(progress)-1]
			if last.Elapsed != w.Len() || last.Direct != w.Direct.Delta || last.Indirect != w.Indirect.Delta || last.C != w.CLast {
				t.Errorf("last progress %+v does not match the window", last)
			}
		})
	}
}

func TestOpenReplayNotAReplay(t *testing.T) {
	for _, root := range []string{filepath.Join(replayDir(t, "pressure"), "11-arc-filled"), t.TempDir(), "testdata/no-such-dir"} {
		rp, ok, err := OpenReplay(root)
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
	for _, rel := range []string{ArcstatsPath, MeminfoPath, PSIPath, VMStatPath} {
		files[rel] = readTestdata(t, snap+"/"+rel)
	}
	return files
}

func TestReplayErrors(t *testing.T) {
	snap := snapshotFiles(t, "pressure/11-arc-filled")
	tests := []struct {
		name     string
		manifest string
		files    map[string]string // relative to the replay root
		openErr  string            // regexp; "" means OpenReplay succeeds
		nextErr  string            // regexp matched by the first failing Next
		is       error
	}{
		{
			name:     "missing snapshot dir",
			manifest: "arcadvise replay 1\n0s a\n1s b\n",
			files:    map[string]string{"a/x": ""},
			openErr:  `arcadvise-replay: snapshot b: no such file or directory$`,
			is:       fs.ErrNotExist,
		},
		{
			name:     "snapshot is a file",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    map[string]string{"a": ""},
			openErr:  `arcadvise-replay: snapshot a is not a directory$`,
		},
		{
			name:     "bad manifest",
			manifest: "arcadvise replay 1\n0s a\nsoon b\n",
			files:    map[string]string{"a/x": "", "b/x": ""},
			openErr:  `arcadvise-replay:3: "soon" is neither a duration`,
		},
		{
			name:     "no arcstats",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    map[string]string{"a/proc/meminfo": snap[MeminfoPath]},
			nextErr:  `^replay snapshot a: .*a/proc/spl/kstat/zfs/arcstats: zfs module not loaded: file does not exist; is the zfs module loaded\?`,
			is:       arcstats.ErrNotLoaded,
		},
		{
			name:     "no meminfo",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    map[string]string{"a/" + ArcstatsPath: snap[ArcstatsPath]},
			nextErr:  `a/proc/meminfo: no such file or directory$`,
			is:       fs.ErrNotExist,
		},
		{
			name:     "malformed meminfo",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    map[string]string{"a/" + ArcstatsPath: snap[ArcstatsPath], "a/proc/meminfo": "MemTotal: 4 kB\nMemFree: lots kB\n"},
			nextErr:  `a/proc/meminfo:2: malformed line "MemFree: lots kB"`,
		},
		{
			name:     "malformed arcstats",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    map[string]string{"a/" + ArcstatsPath: strings.Replace(snap[ArcstatsPath], "c_max                           4    2051639296", "c_max                           4    lots", 1), "a/proc/meminfo": snap[MeminfoPath]},
			nextErr:  `a/proc/spl/kstat/zfs/arcstats:\d+: `,
		},
		{
			name:     "arcstats without c",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    map[string]string{"a/" + ArcstatsPath: regexp.MustCompile(`(?m)^c +4 +\d+\n`).ReplaceAllString(snap[ArcstatsPath], ""), "a/proc/meminfo": snap[MeminfoPath]},
			nextErr:  `a/proc/spl/kstat/zfs/arcstats: no c field$`,
		},
		{
			name:     "malformed pressure",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    map[string]string{"a/" + ArcstatsPath: snap[ArcstatsPath], "a/proc/meminfo": snap[MeminfoPath], "a/" + PSIPath: "some avg10=x\n"},
			nextErr:  `a/proc/pressure/memory:1: malformed line`,
		},
		{
			name:     "malformed vmstat",
			manifest: "arcadvise replay 1\n0s a\n",
			files:    map[string]string{"a/" + ArcstatsPath: snap[ArcstatsPath], "a/proc/meminfo": snap[MeminfoPath], "a/" + VMStatPath: "nr_free_pages 1\nallocstall_normal -1\n"},
			nextErr:  `a/proc/vmstat:2: malformed line`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tt.files)
			writeFiles(t, root, map[string]string{ManifestName: tt.manifest})
			rp, ok, err := OpenReplay(root)
			if !ok {
				t.Fatal("OpenReplay: ok = false with a manifest")
			}
			if tt.openErr != "" {
				if err == nil || !regexp.MustCompile(tt.openErr).MatchString(err.Error()) {
					t.Fatalf("OpenReplay error %v, want match %q", err, tt.openErr)
				}
				if !strings.HasPrefix(err.Error(), filepath.Join(root, ManifestName)) {
					t.Errorf("error %q does not start with the manifest's path", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				var tick Tick
				err = rp.Next(t.Context(), &tick)
				if err == nil || !regexp.MustCompile(tt.nextErr).MatchString(err.Error()) {
					t.Fatalf("Next error %v, want match %q", err, tt.nextErr)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

// TestReplayOptionalFiles: PSI and vmstat may be absent from a snapshot; the
// window then says it has no PSI or vmstat data.
func TestReplayOptionalFiles(t *testing.T) {
	root := t.TempDir()
	for i, snap := range []string{"pressure/21-pressure-20s", "pressure/22-pressure-45s"} {
		files := snapshotFiles(t, snap)
		delete(files, PSIPath)
		delete(files, VMStatPath)
		dir := filepath.Join(root, []string{"a", "b"}[i])
		writeFiles(t, dir, files)
	}
	writeFiles(t, root, map[string]string{ManifestName: "arcadvise replay 1\n0s a\n30s b\n"})
	rp, _, err := OpenReplay(root)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Collect(t.Context(), rp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w.HasPSI || w.HasPSIFull || w.HasVM || w.PSISomeStall != 0 || w.AllocStall != (Counter{}) {
		t.Errorf("no PSI/vmstat files, but window has PSI %v (%s) vm %v (%+v)", w.HasPSI, w.PSISomeStall, w.HasVM, w.AllocStall)
	}
	if w.Direct.Delta != 9 || w.Indirect.Delta != 991 {
		t.Errorf("direct %d indirect %d, want 9 991", w.Direct.Delta, w.Indirect.Delta)
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
	rp, _, err := OpenReplay(root)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Collect(t.Context(), rp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := w.Indirect
	perMinute := got.PerMinute
	got.PerMinute = 0
	if want := (Counter{First: 991, Last: 991, Delta: 991, Resets: 1, n: 3}); got != want || !approx(perMinute, 991*3) {
		t.Errorf("Indirect = %+v, want %+v and 2973/min", w.Indirect, want)
	}
	if w.PSISomeResets != 1 || w.PSISomeStall != 671101*time.Microsecond {
		t.Errorf("PSI some: %d resets, stall %s", w.PSISomeResets, w.PSISomeStall)
	}
}

func TestParseManifest(t *testing.T) {
	epoch := time.Unix(0, 0).UTC()
	tests := []struct {
		name string
		in   string
		want []Snapshot
		err  string
	}{
		{
			name: "offsets without start",
			in:   "arcadvise replay 1\n0s a\n1.5s b/c\n",
			want: []Snapshot{{epoch, "a"}, {epoch.Add(1500 * time.Millisecond), "b/c"}},
		},
		{
			name: "start, comments, tabs, CRLF, spaces in dir",
			in:   "arcadvise replay 1\r\n# c\r\n\r\nstart 2026-11-25T20:18:27.834Z\r\n0s\tsnap 0\r\n  1m10.042s   ./x//y/  \r\n",
			want: []Snapshot{
				{mustTime(t, "2026-11-25T20:18:27.834Z"), "snap 0"},
				{mustTime(t, "2026-11-25T20:19:37.876Z"), "x/y"},
			},
		},
		{
			name: "absolute times mixed with offsets",
			in:   "arcadvise replay 1\nstart 2026-01-01T00:00:00Z\n2026-01-01T01:00:00+01:00 a\n1ns b\n2026-01-01T00:00:01.5Z c\n",
			want: []Snapshot{
				{mustTime(t, "2026-01-01T00:00:00Z"), "a"},
				{mustTime(t, "2026-01-01T00:00:00.000000001Z"), "b"},
				{mustTime(t, "2026-01-01T00:00:01.5Z"), "c"},
			},
		},
		{name: "empty", in: "", err: `^arcadvise-replay: empty file, want the line "arcadvise replay 1" first$`},
		{name: "wrong header", in: "arcadvise replay 2\n0s a\n", err: `^arcadvise-replay:1: first line is "arcadvise replay 2", want "arcadvise replay 1"$`},
		{name: "no snapshots", in: "arcadvise replay 1\n# nothing\n", err: `^arcadvise-replay: no snapshots listed`},
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseManifest(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !regexp.MustCompile(tt.err).MatchString(err.Error()) {
					t.Fatalf("error %v, want match %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d snapshots %v, want %v", len(got), got, tt.want)
			}
			for i := range got {
				if !got[i].At.Equal(tt.want[i].At) || got[i].Dir != tt.want[i].Dir {
					t.Errorf("snapshot %d = %v %q, want %v %q", i, got[i].At, got[i].Dir, tt.want[i].At, tt.want[i].Dir)
				}
			}
		})
	}
}

// TestReplayTestdataManifests: the manifests of testdata agree with the
// timestamp file of each snapshot.
func TestReplayTestdataManifests(t *testing.T) {
	for _, name := range []string{"pressure", "rest"} {
		rp, _, err := OpenReplay(replayDir(t, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range rp.Snapshots() {
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
	rp, ok, err := OpenReplay(out)
	if err != nil || !ok {
		t.Fatalf("OpenReplay of the recording: ok %v, %v", ok, err)
	}
	w, err := Collect(t.Context(), rp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Ticks != 3 || w.CLast != 141376349 || w.Direct.Last != 9 || !w.HasPSI || !w.HasVM || w.Len() < 150*time.Millisecond {
		t.Errorf("replayed recording: %d ticks over %s, c %d, direct %d, psi %v, vm %v", w.Ticks, w.Len(), w.CLast, w.Direct.Last, w.HasPSI, w.HasVM)
	}
}

func TestReplayEOFAndCancel(t *testing.T) {
	rp, _, err := OpenReplay(replayDir(t, "rest"))
	if err != nil {
		t.Fatal(err)
	}
	var tick Tick
	for i := range 3 {
		if err := rp.Next(t.Context(), &tick); err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
	}
	if err := rp.Next(t.Context(), &tick); err != io.EOF {
		t.Fatalf("Next after the last snapshot = %v, want io.EOF", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rp, _, _ = OpenReplay(replayDir(t, "rest"))
	if err := rp.Next(ctx, &tick); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a cancelled context = %v", err)
	}
}

// FuzzParseManifest: ParseManifest never panics, and what it accepts is a
// valid replay (strictly increasing times, local clean directories) that
// round-trips through its own rendering with absolute times.
func FuzzParseManifest(f *testing.F) {
	for _, name := range []string{"pressure", "rest"} {
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

// replayDir is one of the repository's recorded replays
// (testdata/replays/zfs-2.1.11-<name> at the repository root), shared with
// the CLI's tests.
func replayDir(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(testutil.RepoRoot(t), "testdata", "replays", "zfs-2.1.11-"+name)
}
