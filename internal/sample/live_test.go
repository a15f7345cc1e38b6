package sample

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/meminfo"
	"github.com/arcadvise/arcadvise/internal/pressure"
	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// Paths of the files a reading takes, relative to the root.
const (
	arcPath    = arcstats.Path
	memPath    = meminfo.Path
	psiPath    = meminfo.PSIPath
	vmPath     = meminfo.VMStatPath
	verPath    = zfsmod.VersionPath
	arcMaxPath = zfsmod.ParamDir + "/" + zfsmod.ArcMax
)

// writeAtomic replaces root/rel the way the kernel's files look to a reader:
// never half-written.
func writeAtomic(t testing.TB, root, rel string, content []byte) {
	p := filepath.Join(root, filepath.FromSlash(rel))
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		t.Error(err)
		return
	}
	_, err = tmp.Write(content)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		t.Error(err)
	}
}

// stepper renders the files at writer step k from real templates (the
// 22-pressure-45s capture), replacing the values the window tracks by simple
// functions of k, so that a test can tell from a snapshot which step each
// file was at.
type stepper struct {
	arc, mem, vm string
}

const (
	stepC0      = 2 << 30
	stepCFall   = 16 << 20 // c falls by this much per step
	stepAvail0  = 64 << 20 // memory_available_bytes at step 0
	stepAvailBy = 8 << 20
	stepMemAv0  = 1 << 20 // MemAvailable in kB at step 0 (1 GiB)
	stepPSISome = 50_000  // µs of "some" stall per step
	stepPSIFull = 20_000
	memTotalKB  = 4007108
	hugetlbKB   = 65536      // Hugetlb: 64 MiB of hugepages, not in the non-ARC peak
	arcCMin     = 128227456  // c_min of the template
	arcCMax     = 2051639296 // c_max of the template
	modVersion  = "2.1.11-1+deb12u1"
	modArcMax   = 805306368
)

func stepC(k int) uint64           { return stepC0 - uint64(k)*stepCFall }
func stepSize(k int) uint64        { return stepC(k) - 1<<20 }
func stepMemAvailable(k int) int64 { return stepAvail0 - int64(k)*stepAvailBy }
func stepMemAvailKB(k int) uint64  { return stepMemAv0 - uint64(k)*1024 }

func newStepper(t testing.TB) *stepper {
	return &stepper{
		arc: readTestdata(t, "pressure/22-pressure-45s/"+arcPath),
		mem: readTestdata(t, "pressure/22-pressure-45s/"+memPath),
		vm:  readTestdata(t, "pressure/22-pressure-45s/"+vmPath),
	}
}

func setLine(t testing.TB, text, re, repl string) string {
	rx := regexp.MustCompile("(?m)" + re)
	if !rx.MatchString(text) {
		t.Fatalf("template has no line matching %s", re)
	}
	return rx.ReplaceAllString(text, repl)
}

// files renders every file of a root at step k. The module files
// (sys/module/zfs) do not depend on k.
func (s *stepper) files(t testing.TB, k int) map[string][]byte {
	arc := s.arc
	for _, f := range []struct {
		name string
		v    any
	}{
		{"c", stepC(k)},
		{"size", stepSize(k)},
		{"memory_direct_count", k},
		{"memory_indirect_count", 10 * k},
		{"memory_throttle_count", k / 4},
		{"arc_no_grow", k % 2},
		{"memory_available_bytes", stepMemAvailable(k)},
	} {
		arc = setLine(t, arc, `^(`+f.name+` +[34] +)-?\d+$`, fmt.Sprintf("${1}%d", f.v))
	}
	mem := setLine(t, s.mem, `^MemAvailable: +\d+ kB$`, fmt.Sprintf("MemAvailable:   %8d kB", stepMemAvailKB(k)))
	mem = setLine(t, mem, `^MemFree: +\d+ kB$`, fmt.Sprintf("MemFree:        %8d kB", stepMemAvailKB(k)))
	mem = setLine(t, mem, `^Hugetlb: +\d+ kB$`, fmt.Sprintf("Hugetlb:        %8d kB", hugetlbKB))
	vm := s.vm
	for _, f := range []struct {
		name string
		v    int
	}{
		{"allocstall_normal", k},
		{"allocstall_movable", 2 * k},
		{"pgscan_direct", 100 * k},
		{"pgscan_kswapd", 1000 * k},
	} {
		vm = setLine(t, vm, `^`+f.name+` \d+$`, fmt.Sprintf("%s %d", f.name, f.v))
	}
	psi := fmt.Sprintf("some avg10=1.00 avg60=0.50 avg300=0.10 total=%d\nfull avg10=0.50 avg60=0.20 avg300=0.05 total=%d\n",
		stepPSISome*k, stepPSIFull*k)
	return map[string][]byte{
		arcPath: []byte(arc), memPath: []byte(mem), psiPath: []byte(psi), vmPath: []byte(vm),
		verPath: []byte(modVersion + "\n"), arcMaxPath: fmt.Appendf(nil, "%d\n", modArcMax),
	}
}

// stepFiles are the files the writer of TestLiveCollectRewritten rewrites.
var stepFiles = []string{arcPath, memPath, psiPath, vmPath}

// liveRoot makes a root holding the files at step k.
func liveRoot(t testing.TB, s *stepper, k int) string {
	root := t.TempDir()
	for rel, b := range s.files(t, k) {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeAtomic(t, root, rel, b)
	}
	return root
}

// recorder is a Source that keeps every snapshot src gave.
type recorder struct {
	src   Source
	snaps []*host.Snapshot
}

func (r *recorder) Recorded() bool { return r.src.Recorded() }

func (r *recorder) Next(ctx context.Context) (*host.Snapshot, error) {
	s, err := r.src.Next(ctx)
	if err == nil {
		r.snaps = append(r.snaps, s)
	}
	return s, err
}

// checkSeries checks that w.Series is the points of snaps, in order.
func checkSeries(t *testing.T, w *pressure.Window, snaps []*host.Snapshot) {
	t.Helper()
	if len(w.Series) != len(snaps) {
		t.Fatalf("%d points in the series for %d snapshots", len(w.Series), len(snaps))
	}
	u := func(s *host.Snapshot, name string) uint64 {
		v, ok := s.Arc.Uint(name)
		if !ok {
			t.Fatalf("snapshot %s: no %s row", s.Root, name)
		}
		return v
	}
	for i, p := range w.Series {
		s := snaps[i]
		want := pressure.Point{
			T: s.At.UTC(), Size: u(s, "size"), C: u(s, "c"), CMax: u(s, "c_max"), NoGrow: u(s, "arc_no_grow") == 1,
			Direct: u(s, "memory_direct_count"), Indirect: u(s, "memory_indirect_count"),
			Throttle: u(s, "memory_throttle_count"), MemAvailable: s.Mem.MemAvailable,
		}
		got := p
		got.ArcMemAvailable, got.PSISomeTotalUS, got.PSIFullTotalUS, got.AllocStall, got.OOMKill = nil, nil, nil, nil, nil
		if got != want {
			t.Errorf("point %d = %+v, want %+v", i, got, want)
		}
		if v, ok := s.Arc.Int("memory_available_bytes"); ok != (p.ArcMemAvailable != nil) || ok && *p.ArcMemAvailable != v {
			t.Errorf("point %d: memory_available_bytes %v, want %d (%v)", i, p.ArcMemAvailable, v, ok)
		}
		eq := func(name string, p *uint64, has bool, v uint64) {
			if has != (p != nil) || has && *p != v {
				t.Errorf("point %d: %s %v, want %d (%v)", i, name, p, v, has)
			}
		}
		eq("psi_some_total_us", p.PSISomeTotalUS, s.HasPSI, s.PSI.SomeTotal)
		eq("psi_full_total_us", p.PSIFullTotalUS, s.HasPSI && s.PSI.HasFull, s.PSI.FullTotal)
		eq("allocstall", p.AllocStall, s.HasVM, s.VM.AllocStall)
		eq("oom_kill", p.OOMKill, s.HasVM, s.VM.OOMKill)
	}
}

type written struct {
	at time.Time // when step k was fully written
	k  int
}

// TestLiveCollectRewritten runs a real 3 s window, 250 ms interval, on a root
// whose files a writer rewrites every 200 ms, and checks the window, the
// series and the last snapshot against what the writer wrote.
func TestLiveCollectRewritten(t *testing.T) {
	s := newStepper(t)
	root := liveRoot(t, s, 0)
	pre := map[int]map[string][]byte{}
	for k := range 64 {
		pre[k] = s.files(t, k) // rendered ahead: the writer only writes
	}

	ctx, stop := context.WithCancel(t.Context())
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		log = []written{{time.Now(), 0}}
	)
	wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for k := 1; k < len(pre); k++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, rel := range stepFiles {
				writeAtomic(t, root, rel, pre[k][rel])
			}
			mu.Lock()
			log = append(log, written{time.Now(), k})
			mu.Unlock()
		}
	})
	var progress []Progress
	rec := &recorder{src: NewLive(testutil.OpenRoot(t, root))}
	begin := time.Now()
	w, last, err := Collect(ctx, rec, Options{
		Interval: 250 * time.Millisecond, Duration: 3 * time.Second, KeepSeries: true,
		Progress: func(p Progress) { progress = append(progress, p) },
	})
	end := time.Now()
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}

	if w.Ticks < 8 || w.Ticks > 13 || len(w.Series) != w.Ticks || len(progress) != w.Ticks || len(rec.snaps) != w.Ticks {
		t.Fatalf("%d ticks, %d in series, %d progress calls, %d snapshots read; want 8 to 13 (3 s / 250 ms + 1)",
			w.Ticks, len(w.Series), len(progress), len(rec.snaps))
	}
	if w.Len() < 2900*time.Millisecond || w.Len() > 3600*time.Millisecond || w.Interval != 250*time.Millisecond {
		t.Errorf("window of %s, interval %s; want about 3 s, 250 ms", w.Len(), w.Interval)
	}
	n := len(rec.snaps)
	if last != rec.snaps[n-1] {
		t.Errorf("Collect returned %p as the last snapshot, want the last one read, %p", last, rec.snaps[n-1])
	}
	// A live snapshot is stamped with the time it was taken.
	if !w.Start.Equal(rec.snaps[0].At) || !w.End.Equal(last.At) || w.Start.Before(begin) || w.End.After(end) {
		t.Errorf("window %s to %s, snapshots at %s to %s, Collect ran %s to %s",
			w.Start, w.End, rec.snaps[0].At, last.At, begin, end)
	}
	checkSeries(t, w, rec.snaps)

	// The step each file was at, snapshot by snapshot. Within a reading the
	// files are read one after the other, so they may be one step apart.
	kArc, kMem, kPSI, kVM := make([]int, n), make([]int, n), make([]int, n), make([]int, n)
	var peak uint64
	for i, sn := range rec.snaps {
		u := func(name string) uint64 {
			v, ok := sn.Arc.Uint(name)
			if !ok {
				t.Fatalf("snapshot %d: no %s row", i, name)
			}
			return v
		}
		k := int(u("memory_direct_count"))
		kArc[i] = k
		memAvail, hasMemAvail := sn.Arc.Int("memory_available_bytes")
		if u("memory_indirect_count") != uint64(10*k) || u("c") != stepC(k) || u("size") != stepSize(k) ||
			u("memory_throttle_count") != uint64(k/4) || u("arc_no_grow") != uint64(k%2) ||
			memAvail != stepMemAvailable(k) || !hasMemAvail || u("c_min") != arcCMin || u("c_max") != arcCMax {
			t.Errorf("snapshot %d: arcstats is not step %d", i, k)
		}
		if i > 0 && sn.At.Before(rec.snaps[i-1].At) {
			t.Errorf("snapshot %d at %s, before snapshot %d at %s", i, sn.At, i-1, rec.snaps[i-1].At)
		}
		if sn.Root != root || len(sn.Warnings) != 0 {
			t.Errorf("snapshot %d: root %s, warnings %q", i, sn.Root, sn.Warnings)
		}
		kMem[i] = int(stepMemAv0-sn.Mem.MemAvailable/1024) / 1024
		if sn.Mem.MemAvailable != stepMemAvailKB(kMem[i])*1024 || sn.Mem.MemTotal != memTotalKB*1024 ||
			sn.Mem.Hugepages != hugetlbKB*1024 || sn.Mem.HugepagesSource != meminfo.HugepagesFromHugetlb {
			t.Errorf("snapshot %d: meminfo MemAvailable %d MemTotal %d Hugepages %d (%s)",
				i, sn.Mem.MemAvailable, sn.Mem.MemTotal, sn.Mem.Hugepages, sn.Mem.HugepagesSource)
		}
		kPSI[i] = int(sn.PSI.SomeTotal / stepPSISome)
		if !sn.HasPSI || !sn.PSI.HasFull || sn.PSI.SomeTotal != uint64(stepPSISome*kPSI[i]) || sn.PSI.FullTotal != uint64(stepPSIFull*kPSI[i]) {
			t.Errorf("snapshot %d: PSI %+v (has %v)", i, sn.PSI, sn.HasPSI)
		}
		kVM[i] = int(sn.VM.AllocStall / 3)
		if !sn.HasVM || sn.VM.AllocStall != uint64(3*kVM[i]) || sn.VM.PgscanDirect != uint64(100*kVM[i]) ||
			sn.VM.PgscanKswapd != uint64(1000*kVM[i]) || sn.VM.OOMKill != 0 || !sn.VM.HasOOMKill {
			t.Errorf("snapshot %d: vmstat %+v (has %v)", i, sn.VM, sn.HasVM)
		}
		if v := sn.Module.Version; v.Raw != modVersion || v.Compare(zfsmod.V(2, 1, 11)) != 0 ||
			sn.Module.Param(zfsmod.ArcMax) != (zfsmod.Param{Value: modArcMax, Present: true}) || sn.Module.Param(zfsmod.ArcMin).Present {
			t.Errorf("snapshot %d: module %+v", i, sn.Module)
		}
		// Non-ARC memory leaves out the hugepages as well as the ARC, and
		// the inactive page cache (the template's, the same at every step).
		used := memTotalKB*1024 - sn.Mem.MemFree - sn.Mem.InactiveFile - stepSize(k) - hugetlbKB*1024
		peak = max(peak, used)
		if i > 0 && (kArc[i] < kArc[i-1] || kMem[i] < kMem[i-1] || kPSI[i] < kPSI[i-1] || kVM[i] < kVM[i-1]) {
			t.Errorf("snapshot %d: a file went back a step", i)
		}
	}
	first, lst := 0, n-1
	dArc := kArc[lst] - kArc[first]
	drops := 0
	for i := 1; i < n; i++ {
		if kArc[i] > kArc[i-1] {
			drops++
		}
	}

	// What the writer wrote between the first and the last tick: every step
	// completed after the first tick and before the last one, give or take
	// the one being written while a tick read.
	mu.Lock()
	steps := 0
	for _, l := range log {
		if l.at.After(w.Start) && !l.at.After(w.End) {
			steps++
		}
	}
	mu.Unlock()
	if dArc < steps-1 || dArc > steps+1 || dArc < 5 {
		t.Errorf("arcstats advanced %d steps across the window; the writer wrote %d steps then", dArc, steps)
	}

	checks := []struct {
		name      string
		got, want uint64
	}{
		{"Direct.Delta", w.Direct.Delta, uint64(dArc)},
		{"Direct.First", w.Direct.First, uint64(kArc[first])},
		{"Direct.Last", w.Direct.Last, uint64(kArc[lst])},
		{"Direct.Resets", uint64(w.Direct.Resets), 0},
		{"Indirect.Delta", w.Indirect.Delta, uint64(10 * dArc)},
		{"Throttle.Delta", w.Throttle.Delta, uint64(kArc[lst]/4 - kArc[first]/4)},
		{"CDrops", uint64(w.CDrops), uint64(drops)},
		{"CDropBytes", w.CDropBytes, uint64(dArc) * stepCFall},
		{"CFirst", w.CFirst, stepC(kArc[first])},
		{"CLast", w.CLast, stepC(kArc[lst])},
		{"CLowest", w.CLowest, stepC(kArc[lst])},
		{"CHighest", w.CHighest, stepC(kArc[first])},
		{"CMin", w.CMin, arcCMin},
		{"CMax", w.CMax, arcCMax},
		{"ArcSizeMin", w.ArcSizeMin, stepSize(kArc[lst])},
		{"ArcSizeMax", w.ArcSizeMax, stepSize(kArc[first])},
		{"PSISomeStall µs", uint64(w.PSISomeStall / time.Microsecond), uint64(stepPSISome * (kPSI[lst] - kPSI[first]))},
		{"PSIFullStall µs", uint64(w.PSIFullStall / time.Microsecond), uint64(stepPSIFull * (kPSI[lst] - kPSI[first]))},
		{"AllocStall.Delta", w.AllocStall.Delta, uint64(3 * (kVM[lst] - kVM[first]))},
		{"PgscanDirect.Delta", w.PgscanDirect.Delta, uint64(100 * (kVM[lst] - kVM[first]))},
		{"PgscanKswapd.Delta", w.PgscanKswapd.Delta, uint64(1000 * (kVM[lst] - kVM[first]))},
		{"OOMKill.Delta", w.OOMKill.Delta, 0},
		{"PeakNonARC", w.PeakNonARC, peak},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if w.MinMemAvailable != stepMemAvailable(kArc[lst]) || !w.HasMemAvail || !w.HasPSI || !w.HasPSIFull || !w.HasVM || !w.CPulledDown {
		t.Errorf("min memory_available_bytes %d (want %d, has %v), has psi %v full %v vm %v, pulled down %v",
			w.MinMemAvailable, stepMemAvailable(kArc[lst]), w.HasMemAvail, w.HasPSI, w.HasPSIFull, w.HasVM, w.CPulledDown)
	}
	// A 3 s window counts as a minute (README, "Pressure verdict").
	if got, want := w.Direct.PerMinute, float64(dArc)/max(w.Len(), time.Minute).Minutes(); !approx(got, want) {
		t.Errorf("Direct.PerMinute = %g, want %g", got, want)
	}
	// Progress reports each tick as it is folded in.
	for i, p := range progress {
		c, _ := rec.snaps[i].Arc.Uint("c")
		if p.Ticks != i+1 || p.Total != 3*time.Second || p.Elapsed != rec.snaps[i].At.Sub(w.Start) ||
			p.Left != max(p.Total-p.Elapsed, 0) || p.Size != rec.snaps[i].ArcSize() || p.C != c {
			t.Errorf("progress %d = %+v", i, p)
		}
	}
	if p := progress[n-1]; p.Direct != w.Direct.Delta || p.Indirect != w.Indirect.Delta || p.Throttle != w.Throttle.Delta {
		t.Errorf("last progress %+v does not match the window's deltas", p)
	}
	t.Logf("%d ticks over %s; arcstats steps %d→%d, writer wrote %d steps in the window", w.Ticks, w.Len(), kArc[first], kArc[lst], steps)
}

func TestLiveOptionalAndMissingFiles(t *testing.T) {
	s := newStepper(t)
	t.Run("no PSI, no vmstat, no module directory", func(t *testing.T) {
		root := liveRoot(t, s, 3)
		for _, rel := range []string{psiPath, vmPath, "sys"} {
			if err := os.RemoveAll(filepath.Join(root, rel)); err != nil {
				t.Fatal(err)
			}
		}
		sn, err := NewLive(testutil.OpenRoot(t, root)).Next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := sn.Arc.Uint("memory_direct_count"); sn.HasPSI || sn.HasVM || d != 3 || sn.Mem.MemTotal != memTotalKB*1024 ||
			sn.Module.Version.Known() || sn.Module.Param(zfsmod.ArcMax).Present {
			t.Errorf("snapshot %+v", sn)
		}
	})
	t.Run("PSI and vmstat vanish", func(t *testing.T) {
		root := liveRoot(t, s, 3)
		l := NewLive(testutil.OpenRoot(t, root))
		sn, err := l.Next(t.Context())
		if err != nil || !sn.HasPSI || !sn.HasVM {
			t.Fatalf("first snapshot: %v, %+v", err, sn)
		}
		os.Remove(filepath.Join(root, psiPath))
		os.Remove(filepath.Join(root, vmPath))
		if sn, err = l.Next(t.Context()); err != nil || sn.HasPSI || sn.HasVM || sn.PSI != (meminfo.PSI{}) || sn.VM != (meminfo.VMStat{}) {
			t.Fatalf("second snapshot: %v, %+v", err, sn)
		}
	})
	t.Run("no zfs module", func(t *testing.T) {
		root := liveRoot(t, s, 0)
		os.Remove(filepath.Join(root, arcPath))
		sn, err := NewLive(testutil.OpenRoot(t, root)).Next(t.Context())
		want := filepath.Join(root, arcPath) + ": zfs module not loaded: file does not exist"
		if sn != nil || !errors.Is(err, arcstats.ErrNotLoaded) || err.Error() != want {
			t.Fatalf("snapshot %v, error %v; want ErrNotLoaded: %s", sn, err, want)
		}
	})
	t.Run("a file turns bad, then good", func(t *testing.T) {
		root := liveRoot(t, s, 1)
		l := NewLive(testutil.OpenRoot(t, root))
		if _, err := l.Next(t.Context()); err != nil {
			t.Fatal(err)
		}
		good, _ := os.ReadFile(filepath.Join(root, memPath))
		writeAtomic(t, root, memPath, []byte("MemTotal: many kB\n"))
		want := filepath.Join(root, memPath) + `:1: malformed line "MemTotal: many kB": value is not an unsigned decimal 64-bit integer`
		// The same bad file read again fails again.
		for range 2 {
			if sn, err := l.Next(t.Context()); sn != nil || err == nil || err.Error() != want {
				t.Fatalf("snapshot %v, error %v; want %s", sn, err, want)
			}
		}
		writeAtomic(t, root, memPath, good)
		if sn, err := l.Next(t.Context()); err != nil || sn.Mem.MemTotal != memTotalKB*1024 {
			t.Fatalf("after repair: %v, %+v", err, sn)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if sn, err := NewLive(testutil.OpenRoot(t, liveRoot(t, s, 0))).Next(ctx); sn != nil || err != context.Canceled {
			t.Fatalf("Next with a cancelled context = %v, %v; want context.Canceled", sn, err)
		}
	})
}

// failAfter is a Source that fails with err after n snapshots of src.
type failAfter struct {
	src Source
	n   int
	err error
}

func (f *failAfter) Recorded() bool { return f.src.Recorded() }

func (f *failAfter) Next(ctx context.Context) (*host.Snapshot, error) {
	if f.n == 0 {
		return nil, f.err
	}
	f.n--
	return f.src.Next(ctx)
}

// sourceFunc adapts a function to Source.
type sourceFunc func() (*host.Snapshot, error)

func (f sourceFunc) Next(context.Context) (*host.Snapshot, error) { return f() }
func (f sourceFunc) Recorded() bool                               { return false }

func TestCollectEnds(t *testing.T) {
	s := newStepper(t)
	root := liveRoot(t, s, 2)
	// A root whose arcstats lacks the c row: host.Read takes it, the
	// window cannot.
	noC := t.TempDir()
	for rel, b := range s.files(t, 2) {
		if rel == arcPath {
			b = regexp.MustCompile(`(?m)^c +4 +\d+\n`).ReplaceAll(b, nil)
		}
		if err := os.MkdirAll(filepath.Join(noC, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeAtomic(t, noC, rel, b)
	}
	boom := errors.New("boom")
	live := func() Source { return NewLive(testutil.OpenRoot(t, root)) }
	tests := []struct {
		name      string
		src       func() Source
		opt       Options
		cancel    time.Duration // cancel the context after this long; < 0: before Collect
		wantTicks [2]int        // inclusive range
		wantErr   error
		errText   string // the whole message
	}{
		{"duration", live, Options{Interval: 50 * time.Millisecond, Duration: 200 * time.Millisecond}, 0, [2]int{3, 5}, nil, ""},
		{"duration not a multiple of the interval", live, Options{Interval: 80 * time.Millisecond, Duration: 200 * time.Millisecond}, 0, [2]int{3, 4}, nil, ""},
		{"ctrl-c ends an open window", live, Options{Interval: 100 * time.Millisecond}, 350 * time.Millisecond, [2]int{3, 5}, nil, ""},
		{"ctrl-c before the second tick still gives a window", live, Options{Interval: time.Hour, Duration: 2 * time.Hour}, 100 * time.Millisecond, [2]int{2, 2}, nil, ""},
		{"cancelled before the start, no interval", live, Options{}, -1, [2]int{0, 0}, ErrTooFewTicks, "need at least 2 samples to measure a window, got 0"},
		{"cancelled before the start", live, Options{Interval: time.Second}, -1, [2]int{0, 0}, ErrTooFewTicks, "need at least 2 samples to measure a window, got 0"},
		{"one snapshot", func() Source { return &failAfter{NewLive(testutil.OpenRoot(t, root)), 1, io.EOF} }, Options{}, 0, [2]int{1, 1}, ErrTooFewTicks, "need at least 2 samples to measure a window, got 1"},
		{"no snapshot", func() Source { return &failAfter{NewLive(testutil.OpenRoot(t, root)), 0, io.EOF} }, Options{Interval: time.Second}, 0, [2]int{0, 0}, ErrTooFewTicks, "need at least 2 samples to measure a window, got 0"},
		{"source error", func() Source { return &failAfter{NewLive(testutil.OpenRoot(t, root)), 3, boom} }, Options{}, 0, [2]int{3, 3}, boom, "sample 4: boom"},
		{"source error on the first tick", func() Source { return &failAfter{NewLive(testutil.OpenRoot(t, root)), 0, boom} }, Options{}, 0, [2]int{0, 0}, boom, "sample 1: boom"},
		{"wrapped EOF ends the window", func() Source {
			return &failAfter{NewLive(testutil.OpenRoot(t, root)), 2, fmt.Errorf("end: %w", io.EOF)}
		}, Options{}, 0, [2]int{2, 2}, nil, ""},
		{"snapshot the window cannot use", func() Source {
			n := 0
			return sourceFunc(func() (*host.Snapshot, error) {
				n++
				if n == 3 {
					return host.Read(testutil.OpenRoot(t, noC))
				}
				return host.Read(testutil.OpenRoot(t, root))
			})
		}, Options{}, 0, [2]int{2, 2}, nil, "sample 3: arcstats has no c row"},
		{"negative interval", live, Options{Interval: -time.Second}, 0, [2]int{-1, -1}, nil, "sampling interval -1s and duration 0s must not be negative"},
		{"negative duration", live, Options{Duration: -time.Minute}, 0, [2]int{-1, -1}, nil, "sampling interval 0s and duration -1m0s must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			switch {
			case tt.cancel < 0:
				cancel()
			case tt.cancel > 0:
				time.AfterFunc(tt.cancel, cancel)
			}
			rec := &recorder{src: tt.src()}
			start := time.Now()
			w, last, err := Collect(ctx, rec, tt.opt)
			took := time.Since(start)
			if tt.errText == "" && err != nil {
				t.Fatal(err)
			}
			if tt.errText != "" && (err == nil || err.Error() != tt.errText) {
				t.Fatalf("error %v, want %q", err, tt.errText)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			if tt.wantTicks[0] < 0 {
				// Options rejected: nothing is read.
				if w != nil || last != nil || len(rec.snaps) != 0 {
					t.Errorf("window %v, last %v, %d snapshots read; want nil, nil, 0", w, last, len(rec.snaps))
				}
				return
			}
			if w.Ticks < tt.wantTicks[0] || w.Ticks > tt.wantTicks[1] {
				t.Errorf("%d ticks, want %d to %d", w.Ticks, tt.wantTicks[0], tt.wantTicks[1])
			}
			// The last snapshot is the last one folded in.
			switch {
			case w.Ticks == 0 && last != nil:
				t.Errorf("no tick, but last snapshot %+v", last)
			case w.Ticks > 0 && (last == nil || last != rec.snaps[w.Ticks-1] || !last.At.Equal(w.End)):
				t.Errorf("last snapshot %p, want the %dth read, %p, at the window's end %s", last, w.Ticks, rec.snaps[w.Ticks-1], w.End)
			}
			if paced := tt.opt.Interval > 0; paced && w.Interval != tt.opt.Interval {
				t.Errorf("window interval %s, want the sampling interval %s", w.Interval, tt.opt.Interval)
			}
			if tt.cancel > 0 && (took < tt.cancel || took > tt.cancel+time.Second || w.Len() < tt.cancel-50*time.Millisecond) {
				t.Errorf("cancelled after %s: Collect took %s, window %s", tt.cancel, took, w.Len())
			}
			// The tick due at the duration ends the window. A live
			// snapshot is stamped when its reading starts, a little after
			// the timer that paces it started: allow some slack.
			if tt.opt.Duration > 0 && tt.cancel == 0 && (w.Len() < tt.opt.Duration-20*time.Millisecond || w.Len() > tt.opt.Duration+200*time.Millisecond) {
				t.Errorf("window of %s for a duration of %s", w.Len(), tt.opt.Duration)
			}
		})
	}
}

func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestTenThousandTicks: without KeepSeries, memory does not grow over
// 10,000 ticks of a live source: the window keeps a fixed amount of state
// and Collect holds on to the last snapshot only.
func TestTenThousandTicks(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 readings")
	}
	s := newStepper(t)
	root := liveRoot(t, s, 7)
	var heap1000, heap10000 uint64
	w, last, err := Collect(t.Context(), &failAfter{NewLive(testutil.OpenRoot(t, root)), 10_000, io.EOF}, Options{Progress: func(p Progress) {
		switch p.Ticks {
		case 1000:
			heap1000 = heapAfterGC()
		case 10_000:
			heap10000 = heapAfterGC()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if w.Ticks != 10_000 || w.Series != nil || w.Direct.Last != 7 || w.Direct.Delta != 0 || last == nil {
		t.Fatalf("ticks %d, series %d, direct %d (+%d), last %v", w.Ticks, len(w.Series), w.Direct.Last, w.Direct.Delta, last)
	}
	if heap10000 > heap1000+32<<10 {
		t.Errorf("heap grew from %d bytes after 1,000 ticks to %d after 10,000", heap1000, heap10000)
	}
	t.Logf("heap after GC: %d bytes at tick 1,000, %d at tick 10,000", heap1000, heap10000)
}

// BenchmarkLiveTick is one --sample tick: a host.Read of a root holding
// every file.
func BenchmarkLiveTick(b *testing.B) {
	live := NewLive(testutil.OpenRoot(b, liveRoot(b, newStepper(b), 7)))
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := live.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFormatProgress(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		p    Progress
		want string
	}{
		{Progress{Elapsed: 48 * time.Second, Left: 72 * time.Second, Total: 2 * time.Minute, Size: 7999376588, C: 8 * gib, Direct: 3, Indirect: 120},
			"sampling: 1m12s left  ARC 7.44 GiB / target 8 GiB  direct +3 indirect +120 throttle +0"},
		{Progress{Left: 1400 * time.Millisecond, Total: time.Minute, Size: 141376349, C: 128227456, Throttle: 2},
			"sampling: 1s left  ARC 134.82 MiB / target 122.28 MiB  direct +0 indirect +0 throttle +2"},
		{Progress{Elapsed: 3*time.Hour + 500*time.Millisecond, Size: 512, C: 1536},
			"sampling: 3h0m1s elapsed  ARC 512 B / target 1.50 KiB  direct +0 indirect +0 throttle +0"},
		{Progress{Total: time.Second, Size: 1<<20 - 1, C: 2051639296, Direct: 18446744073709551615},
			"sampling: 0s left  ARC 1023.99 KiB / target 1.91 GiB  direct +18446744073709551615 indirect +0 throttle +0"},
		{Progress{Total: time.Second, Size: 1 << 60, C: 1<<64 - 1},
			"sampling: 0s left  ARC 1024 PiB / target 16383.99 PiB  direct +0 indirect +0 throttle +0"},
	}
	for _, tt := range tests {
		if got := FormatProgress(tt.p, 0); got != tt.want {
			t.Errorf("FormatProgress(%+v)\n got %q\nwant %q", tt.p, got, tt.want)
		}
		// On a 40-column terminal the line is cut at 39: it never wraps.
		if got := FormatProgress(tt.p, 39); got != string([]rune(tt.want)[:39]) {
			t.Errorf("FormatProgress(%+v, 39) = %q", tt.p, got)
		}
	}
}
