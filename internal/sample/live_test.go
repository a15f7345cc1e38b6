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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/arcstats"
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

// stepper renders the four files at writer step k from real templates (the
// 22-pressure-45s capture), replacing the values the window tracks by simple
// functions of k, so that a test can tell from a tick which step each file
// was at.
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
)

func stepC(k int) uint64           { return stepC0 - uint64(k)*stepCFall }
func stepSize(k int) uint64        { return stepC(k) - 1<<20 }
func stepMemAvailable(k int) int64 { return stepAvail0 - int64(k)*stepAvailBy }
func stepMemAvailKB(k int) uint64  { return stepMemAv0 - uint64(k)*1024 }

func newStepper(t testing.TB) *stepper {
	return &stepper{
		arc: readTestdata(t, "pressure/22-pressure-45s/"+ArcstatsPath),
		mem: readTestdata(t, "pressure/22-pressure-45s/"+MeminfoPath),
		vm:  readTestdata(t, "pressure/22-pressure-45s/"+VMStatPath),
	}
}

func setLine(t testing.TB, text, re, repl string) string {
	rx := regexp.MustCompile("(?m)" + re)
	if !rx.MatchString(text) {
		t.Fatalf("template has no line matching %s", re)
	}
	return rx.ReplaceAllString(text, repl)
}

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
	return map[string][]byte{ArcstatsPath: []byte(arc), MeminfoPath: []byte(mem), PSIPath: []byte(psi), VMStatPath: []byte(vm)}
}

// liveRoot makes a root holding the four files at step k.
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

type written struct {
	at time.Time // when step k was fully written
	k  int
}

// TestLiveCollectRewritten runs a real 3 s window, 250 ms interval, on a root
// whose files a writer rewrites every 200 ms, and checks the window against
// what the writer wrote.
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
			for _, rel := range []string{ArcstatsPath, MeminfoPath, PSIPath, VMStatPath} {
				writeAtomic(t, root, rel, pre[k][rel])
			}
			mu.Lock()
			log = append(log, written{time.Now(), k})
			mu.Unlock()
		}
	})
	var calls int
	w, err := Collect(ctx, NewLive(root), Options{
		Interval: 250 * time.Millisecond, Duration: 3 * time.Second, KeepSeries: true,
		Progress: func(Progress) { calls++ },
	})
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}

	if w.Ticks < 8 || w.Ticks > 13 || len(w.Series) != w.Ticks || calls != w.Ticks {
		t.Fatalf("%d ticks, %d in series, %d progress calls; want 8 to 13 (3 s / 250 ms + 1)", w.Ticks, len(w.Series), calls)
	}
	if w.Len() < 2900*time.Millisecond || w.Len() > 3600*time.Millisecond || w.Interval != 250*time.Millisecond {
		t.Errorf("window of %s, interval %s; want about 3 s, 250 ms", w.Len(), w.Interval)
	}

	// The step each file was at, tick by tick. Within a tick the four files
	// are read one after the other, so they may be one step apart.
	n := len(w.Series)
	kArc, kMem, kPSI, kVM := make([]int, n), make([]int, n), make([]int, n), make([]int, n)
	var peak uint64
	for i, tk := range w.Series {
		a := tk.Arc
		k := int(a.Direct)
		kArc[i] = k
		if a.Indirect != uint64(10*k) || a.C != stepC(k) || a.Size != stepSize(k) || a.Throttle != uint64(k/4) ||
			a.NoGrow != (k%2 == 1) || a.MemAvail != stepMemAvailable(k) || !a.HasMemAvail || a.CMin != 128227456 {
			t.Errorf("tick %d: arcstats %+v is not step %d", i, a, k)
		}
		kMem[i] = int(stepMemAv0-tk.Mem.MemAvailable/1024) / 1024
		if tk.Mem.MemAvailable != stepMemAvailKB(kMem[i])*1024 || tk.Mem.MemTotal != memTotalKB*1024 {
			t.Errorf("tick %d: meminfo MemAvailable %d MemTotal %d", i, tk.Mem.MemAvailable, tk.Mem.MemTotal)
		}
		kPSI[i] = int(tk.PSI.SomeTotal / stepPSISome)
		if !tk.HasPSI || tk.PSI.SomeTotal != uint64(stepPSISome*kPSI[i]) || tk.PSI.FullTotal != uint64(stepPSIFull*kPSI[i]) {
			t.Errorf("tick %d: PSI %+v (has %v)", i, tk.PSI, tk.HasPSI)
		}
		kVM[i] = int(tk.VM.AllocStall / 3)
		if !tk.HasVM || tk.VM.AllocStall != uint64(3*kVM[i]) || tk.VM.PgscanDirect != uint64(100*kVM[i]) ||
			tk.VM.PgscanKswapd != uint64(1000*kVM[i]) || tk.VM.OOMKill != 0 {
			t.Errorf("tick %d: vmstat %+v (has %v)", i, tk.VM, tk.HasVM)
		}
		used := memTotalKB*1024 - tk.Mem.MemAvailable - a.Size
		peak = max(peak, used)
		if i > 0 && (kArc[i] < kArc[i-1] || kMem[i] < kMem[i-1] || kPSI[i] < kPSI[i-1] || kVM[i] < kVM[i-1]) {
			t.Errorf("tick %d: a file went back a step", i)
		}
	}
	first, last := 0, n-1
	dArc := kArc[last] - kArc[first]
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
		{"Direct.Last", w.Direct.Last, uint64(kArc[last])},
		{"Indirect.Delta", w.Indirect.Delta, uint64(10 * dArc)},
		{"Throttle.Delta", w.Throttle.Delta, uint64(kArc[last]/4 - kArc[first]/4)},
		{"CDrops", uint64(w.CDrops), uint64(drops)},
		{"CDropBytes", w.CDropBytes, uint64(dArc) * stepCFall},
		{"CFirst", w.CFirst, stepC(kArc[first])},
		{"CMin", w.CMin, stepC(kArc[last])},
		{"ArcSizeMin", w.ArcSizeMin, stepSize(kArc[last])},
		{"PSISomeStall µs", uint64(w.PSISomeStall / time.Microsecond), uint64(stepPSISome * (kPSI[last] - kPSI[first]))},
		{"PSIFullStall µs", uint64(w.PSIFullStall / time.Microsecond), uint64(stepPSIFull * (kPSI[last] - kPSI[first]))},
		{"AllocStall.Delta", w.AllocStall.Delta, uint64(3 * (kVM[last] - kVM[first]))},
		{"PgscanDirect.Delta", w.PgscanDirect.Delta, uint64(100 * (kVM[last] - kVM[first]))},
		{"PgscanKswapd.Delta", w.PgscanKswapd.Delta, uint64(1000 * (kVM[last] - kVM[first]))},
		{"OOMKill.Delta", w.OOMKill.Delta, 0},
		{"PeakNonARC", w.PeakNonARC, peak},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if w.MinMemAvailable != stepMemAvailable(kArc[last]) || !w.HasPSI || !w.HasPSIFull || !w.HasVM || !w.CPulledDown {
		t.Errorf("min memory_available_bytes %d (want %d), has psi %v full %v vm %v, pulled down %v",
			w.MinMemAvailable, stepMemAvailable(kArc[last]), w.HasPSI, w.HasPSIFull, w.HasVM, w.CPulledDown)
	}
	if got, want := w.Direct.PerMinute, float64(dArc)/w.Len().Minutes(); !approx(got, want) {
		t.Errorf("Direct.PerMinute = %g, want %g", got, want)
	}
	t.Logf("%d ticks over %s; arcstats steps %d→%d, writer wrote %d steps in the window", w.Ticks, w.Len(), kArc[first], kArc[last], steps)
}

func TestLiveOptionalAndMissingFiles(t *testing.T) {
	s := newStepper(t)
	t.Run("no PSI, no vmstat", func(t *testing.T) {
		root := liveRoot(t, s, 3)
		os.Remove(filepath.Join(root, PSIPath))
		os.Remove(filepath.Join(root, VMStatPath))
		var tk Tick
		if err := NewLive(root).Next(t.Context(), &tk); err != nil {
			t.Fatal(err)
		}
		if tk.HasPSI || tk.HasVM || tk.Arc.Direct != 3 || tk.Mem.MemTotal == 0 {
			t.Errorf("tick %+v", tk)
		}
	})
	t.Run("PSI and vmstat vanish", func(t *testing.T) {
		root := liveRoot(t, s, 3)
		l := NewLive(root)
		var tk Tick
		if err := l.Next(t.Context(), &tk); err != nil || !tk.HasPSI || !tk.HasVM {
			t.Fatalf("first tick: %v, psi %v vm %v", err, tk.HasPSI, tk.HasVM)
		}
		os.Remove(filepath.Join(root, PSIPath))
		os.Remove(filepath.Join(root, VMStatPath))
		if err := l.Next(t.Context(), &tk); err != nil || tk.HasPSI || tk.HasVM {
			t.Fatalf("second tick: %v, psi %v vm %v", err, tk.HasPSI, tk.HasVM)
		}
	})
	t.Run("no zfs module", func(t *testing.T) {
		root := liveRoot(t, s, 0)
		os.Remove(filepath.Join(root, ArcstatsPath))
		var tk Tick
		err := NewLive(root).Next(t.Context(), &tk)
		if !errors.Is(err, arcstats.ErrNotLoaded) || !strings.Contains(err.Error(), filepath.Join(root, ArcstatsPath)+": zfs module not loaded") {
			t.Fatalf("error %v, want ErrNotLoaded naming the file", err)
		}
	})
	t.Run("a file turns bad, then good", func(t *testing.T) {
		root := liveRoot(t, s, 1)
		l := NewLive(root)
		var tk Tick
		if err := l.Next(t.Context(), &tk); err != nil {
			t.Fatal(err)
		}
		good, _ := os.ReadFile(filepath.Join(root, MeminfoPath))
		writeAtomic(t, root, MeminfoPath, []byte("MemTotal: many kB\n"))
		if err := l.Next(t.Context(), &tk); err == nil || !strings.Contains(err.Error(), filepath.Join(root, MeminfoPath)+":1: malformed line") {
			t.Fatalf("error %v, want a line error naming proc/meminfo", err)
		}
		// The same bad bytes again must fail again, not pass as unchanged.
		if err := l.Next(t.Context(), &tk); err == nil {
			t.Fatal("bad meminfo read twice: no error the second time")
		}
		writeAtomic(t, root, MeminfoPath, good)
		if err := l.Next(t.Context(), &tk); err != nil || tk.Mem.MemTotal != memTotalKB*1024 {
			t.Fatalf("after repair: %v, MemTotal %d", err, tk.Mem.MemTotal)
		}
	})
}

// failAfter is a Source that fails after n ticks of src.
type failAfter struct {
	src Source
	n   int
	err error
}

func (f *failAfter) Next(ctx context.Context, t *Tick) error {
	if f.n == 0 {
		return f.err
	}
	f.n--
	return f.src.Next(ctx, t)
}

func TestCollectEnds(t *testing.T) {
	s := newStepper(t)
	root := liveRoot(t, s, 2)
	boom := errors.New("boom")
	tests := []struct {
		name      string
		src       func() Source
		opt       Options
		cancel    time.Duration // cancel the context after this long; < 0: before Collect
		wantTicks [2]int        // inclusive range
		wantErr   error
		errText   string
	}{
		{"duration", func() Source { return NewLive(root) }, Options{Interval: 50 * time.Millisecond, Duration: 200 * time.Millisecond}, 0, [2]int{3, 5}, nil, ""},
		{"duration not a multiple of the interval", func() Source { return NewLive(root) }, Options{Interval: 80 * time.Millisecond, Duration: 200 * time.Millisecond}, 0, [2]int{3, 4}, nil, ""},
		{"ctrl-c ends an open window", func() Source { return NewLive(root) }, Options{Interval: 100 * time.Millisecond}, 350 * time.Millisecond, [2]int{3, 5}, nil, ""},
		{"ctrl-c before the second tick still gives a window", func() Source { return NewLive(root) }, Options{Interval: time.Hour, Duration: 2 * time.Hour}, 100 * time.Millisecond, [2]int{2, 2}, nil, ""},
		{"cancelled before the start", func() Source { return NewLive(root) }, Options{Interval: time.Second}, -1, [2]int{0, 0}, ErrTooFewTicks, "need at least 2 samples to measure a window, got 0"},
		{"one snapshot", func() Source { return &failAfter{NewLive(root), 1, io.EOF} }, Options{}, 0, [2]int{1, 1}, ErrTooFewTicks, "got 1 (hint: sample for at least one interval)"},
		{"source error", func() Source { return &failAfter{NewLive(root), 3, boom} }, Options{}, 0, [2]int{3, 3}, boom, "sample 4: boom"},
		{"negative interval", func() Source { return NewLive(root) }, Options{Interval: -time.Second}, 0, [2]int{0, 0}, nil, "sampling interval -1s and duration 0s must not be negative"},
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
			start := time.Now()
			w, err := Collect(ctx, tt.src(), tt.opt)
			took := time.Since(start)
			if tt.errText == "" && err != nil {
				t.Fatal(err)
			}
			if tt.errText != "" && (err == nil || !strings.Contains(err.Error(), tt.errText)) {
				t.Fatalf("error %v, want one containing %q", err, tt.errText)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			if w.Ticks < tt.wantTicks[0] || w.Ticks > tt.wantTicks[1] {
				t.Errorf("%d ticks, want %d to %d", w.Ticks, tt.wantTicks[0], tt.wantTicks[1])
			}
			if tt.cancel > 0 && (took < tt.cancel || took > tt.cancel+time.Second || w.Len() < tt.cancel-50*time.Millisecond) {
				t.Errorf("cancelled after %s: Collect took %s, window %s", tt.cancel, took, w.Len())
			}
		})
	}
}

// limited is a Source that ends after n ticks.
type limited struct {
	src Source
	n   int
}

func (l *limited) Next(ctx context.Context, t *Tick) error {
	if l.n == 0 {
		return io.EOF
	}
	l.n--
	return l.src.Next(ctx, t)
}

func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestTenThousandTicks: memory does not grow over 10,000 ticks of a live
// source, and each tick allocates the same small amount, whether the files
// change (parsed every tick) or not (parsing skipped).
func TestTenThousandTicks(t *testing.T) {
	s := newStepper(t)
	root := liveRoot(t, s, 7)
	for _, tt := range []struct {
		name      string
		changed   bool
		maxAllocs float64
	}{
		{"files unchanged", false, 16},
		{"files changed", true, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			live := NewLive(root)
			next := func(tk *Tick) error {
				if tt.changed {
					// As if every file changed: the bytes of the
					// previous read are forgotten, so all four are parsed.
					live.r.arc.forget()
					live.r.mem.forget()
					live.r.psi.forget()
					live.r.vm.forget()
				}
				return live.Next(t.Context(), tk)
			}
			src := sourceFunc(next)

			var heap1000, heap10000 uint64
			w, err := Collect(t.Context(), &limited{src, 10_000}, Options{Progress: func(p Progress) {
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
			if w.Ticks != 10_000 || w.Series != nil || w.Direct.Last != 7 {
				t.Fatalf("ticks %d, series %d, direct %d", w.Ticks, len(w.Series), w.Direct.Last)
			}
			if heap10000 > heap1000+32<<10 {
				t.Errorf("heap grew from %d bytes after 1,000 ticks to %d after 10,000", heap1000, heap10000)
			}

			var tk Tick
			per := func() float64 {
				return testing.AllocsPerRun(200, func() {
					if err := next(&tk); err != nil {
						t.Fatal(err)
					}
					w.Add(&tk)
				})
			}
			early := per()
			for range 10_000 {
				if err := next(&tk); err != nil {
					t.Fatal(err)
				}
				w.Add(&tk)
			}
			late := per()
			// AllocsPerRun truncates the average, and the race detector
			// adds the odd allocation: allow a difference of one.
			if late > early+1 || late > tt.maxAllocs {
				t.Errorf("allocs per tick: %g, then %g after 10,000 more ticks; want constant, at most %g", early, late, tt.maxAllocs)
			}
			t.Logf("heap after GC: %d bytes at tick 1,000, %d at tick 10,000; %g allocs per tick", heap1000, heap10000, late)
		})
	}
}

type sourceFunc func(t *Tick) error

func (f sourceFunc) Next(_ context.Context, t *Tick) error { return f(t) }

func BenchmarkTick(b *testing.B) {
	s := newStepper(b)
	root := liveRoot(b, s, 7)
	for _, changed := range []bool{false, true} {
		name := "unchanged"
		if changed {
			name = "changed"
		}
		b.Run(name, func(b *testing.B) {
			live := NewLive(root)
			var (
				tk Tick
				w  Window
			)
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if changed {
					live.r.arc.forget()
					live.r.mem.forget()
					live.r.psi.forget()
					live.r.vm.forget()
				}
				if err := live.Next(ctx, &tk); err != nil {
					b.Fatal(err)
				}
				w.Add(&tk)
			}
		})
	}
}

func BenchmarkWindowAdd(b *testing.B) {
	ticks := timelineTicks(b)
	var w Window
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w.Add(&ticks[i%len(ticks)])
		i++
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
		if got := FormatProgress(tt.p); got != tt.want {
			t.Errorf("FormatProgress(%+v)\n got %q\nwant %q", tt.p, got, tt.want)
		}
	}
}
