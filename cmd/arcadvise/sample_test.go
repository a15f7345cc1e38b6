package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// The progress line is for a person at a terminal: it appears when stderr
// is a pty, and never when stderr is a pipe.
func TestProgressOnlyOnTerminal(t *testing.T) {
	root := filepath.Join(testutil.RepoRoot(t), "testdata", "replays", "zfs-2.1.11-pressure")
	// --arc-max: with 2 GiB declared this window leaves no room (exit 3).
	args := []string{"--root", root, "--arc-max", "1G", "--format", "json"}

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	defer ptmx.Close()
	var onTTY bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&onTTY, ptmx); close(done) }()
	if code := run(context.Background(), args, io.Discard, tty); code != 0 {
		t.Fatalf("exit %d", code)
	}
	tty.Close()
	<-done
	if !regexp.MustCompile(`\r\x1b\[Ksampling: 1m10s elapsed  ARC [0-9.]+ [KMG]iB / target [0-9.]+ [KMG]iB  direct \+9 indirect \+991 throttle \+0`).Match(onTTY.Bytes()) {
		t.Errorf("no progress line on the terminal; got %q", onTTY.String())
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if code := run(context.Background(), args, io.Discard, w); code != 0 {
		t.Fatalf("exit %d", code)
	}
	w.Close()
	onPipe, _ := io.ReadAll(r)
	if len(onPipe) != 0 {
		t.Errorf("stderr on a pipe got %q, want nothing", onPipe)
	}
}

// A real --sample 3s on a root whose files another goroutine rewrites, as
// the module and the kernel would: the window's deltas are what the writer
// added between the first and the last reading.
func TestSampleLiveRewrites(t *testing.T) {
	src := filepath.Join(testutil.RepoRoot(t), "testdata", "snapshots", "zfs-2.1.11-arc-filled")
	root := t.TempDir()
	for _, rel := range []string{"proc/spl/kstat/zfs/arcstats", "proc/meminfo", "proc/pressure/memory", "proc/vmstat", "sys/module/zfs/version"} {
		b, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	arc, _ := os.ReadFile(filepath.Join(root, "proc/spl/kstat/zfs/arcstats"))
	psi := "some avg10=0.00 avg60=0.00 avg300=0.00 total=%d\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=%d\n"
	row := regexp.MustCompile(`(?m)^(memory_direct_count|memory_indirect_count|c) +4 +[0-9]+$`)

	// Each step adds 2 direct and 50 indirect reclaims, lowers c by 64 MiB
	// and adds 1 ms of PSI stall, atomically (temp file and rename).
	write := func(step int) {
		text := row.ReplaceAllStringFunc(string(arc), func(m string) string {
			name := strings.Fields(m)[0]
			var v int
			switch name {
			case "memory_direct_count":
				v = 2 * step
			case "memory_indirect_count":
				v = 50 * step
			case "c":
				v = 2051639296 - step*64<<20
			}
			return fmt.Sprintf("%-31s %-4d %d", name, 4, v)
		})
		for rel, content := range map[string]string{
			"proc/spl/kstat/zfs/arcstats": text,
			"proc/pressure/memory":        fmt.Sprintf(psi, 1000*step, 0),
		} {
			p := filepath.Join(root, rel)
			if err := os.WriteFile(p+".tmp", []byte(content), 0o644); err != nil {
				t.Error(err)
			}
			if err := os.Rename(p+".tmp", p); err != nil {
				t.Error(err)
			}
		}
	}
	write(0)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for step := 1; ; step++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				write(step)
			}
		}
	})
	var out bytes.Buffer
	code := run(context.Background(), []string{"--root", root, "--reserve", "1G", "--sample", "3s", "--interval", "250ms", "--format", "json", "--series"}, &out, io.Discard)
	cancel()
	wg.Wait()
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var doc struct {
		Pressure struct{ Level string }
		Window   struct {
			Seconds  float64
			Ticks    int
			Counters map[string]struct{ First, Last, Delta uint64 }
			C        struct {
				Lowest     uint64 `json:"lowest_bytes"`
				PulledDown bool   `json:"pulled_down"`
			}
			PSI struct {
				SomeStallSeconds float64 `json:"some_stall_seconds"`
			}
			Series []struct {
				Direct uint64 `json:"memory_direct_count"`
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	w := doc.Window
	if w.Seconds < 2.9 || w.Seconds > 3.5 || w.Ticks < 12 || w.Ticks > 14 || len(w.Series) != w.Ticks {
		t.Fatalf("window %.2fs with %d ticks (%d in the series)", w.Seconds, w.Ticks, len(w.Series))
	}
	d, in := w.Counters["memory_direct_count"], w.Counters["memory_indirect_count"]
	steps := d.Delta / 2
	// 3 s of 200 ms steps: 14 to 16 steps land between the first and last reading.
	if d.Delta != d.Last-d.First || d.Delta%2 != 0 || steps < 13 || steps > 16 {
		t.Errorf("direct %+v: want 2 per step over ~15 steps", d)
	}
	if in.Delta != 25*d.Delta {
		t.Errorf("indirect delta %d, want %d (50 per step)", in.Delta, 25*d.Delta)
	}
	// arcstats and the PSI file are separate files, each replaced whole:
	// a tick can fall between the two writes of one step, so the PSI
	// window may hold one step more or less than the arcstats one.
	if got := w.PSI.SomeStallSeconds * 1000; got < float64(steps)-1.001 || got > float64(steps)+1.001 {
		t.Errorf("PSI some stall %.3f ms, want %d±1 ms (one per step)", got, steps)
	}
	if !w.C.PulledDown {
		t.Errorf("c not pulled down: %+v", w.C)
	}
	if doc.Pressure.Level != "moderate" && doc.Pressure.Level != "high" {
		t.Errorf("level %s", doc.Pressure.Level)
	}
}

// Ctrl-C (main cancels the context on SIGINT) ends the window early and the
// advice is still printed, from what was collected.
func TestSampleInterrupted(t *testing.T) {
	root := filepath.Join(testutil.RepoRoot(t), "testdata", "snapshots", "zfs-2.1.11-arc-filled")
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	code := run(ctx, []string{"--root", root, "--reserve", "2G", "--sample", "1m", "--interval", "250ms"}, &out, io.Discard)
	if code != 0 || time.Since(start) > 5*time.Second {
		t.Fatalf("exit %d after %s", code, time.Since(start))
	}
	if !regexp.MustCompile(`(?m)^Sampled window: 6[0-9][0-9]ms, [34] samples every 250ms$`).Match(out.Bytes()) ||
		!strings.Contains(out.String(), "options zfs zfs_arc_max=1543503872") {
		t.Errorf("output:\n%s", out.String())
	}
}
