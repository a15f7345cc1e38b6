package sample

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/pressure"
	"github.com/arcadvise/arcadvise/internal/rootfs"

	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/size"
)

// ErrTooFewTicks is returned, wrapped, by Collect when the window ended with
// fewer than the two ticks a delta needs.
var ErrTooFewTicks = errors.New("need at least 2 samples to measure a window")

// Options controls Collect.
type Options struct {
	// Interval is the wait between two ticks of a live source. 0 reads the
	// next tick at once. A Replay is never waited for: its ticks carry
	// their recorded times.
	Interval time.Duration
	// Duration is the length of the window. The tick that reaches it is the
	// last one. 0 means until ctx is done or the source ends.
	Duration time.Duration
	// KeepSeries keeps every tick's point in Window.Series.
	KeepSeries bool
	// Progress, when set, is called after each tick.
	Progress func(p Progress)
}

// Progress describes a window being collected.
type Progress struct {
	Elapsed time.Duration // since the first tick
	Left    time.Duration // until Duration; 0 when Total is 0
	Total   time.Duration // Options.Duration
	Ticks   int
	Size, C uint64 // ARC size and target at the last tick
	// Counter increases since the first tick.
	Direct, Indirect, Throttle uint64
}

// Collect reads snapshots from src and folds them into a window. It also
// returns the last snapshot: the host's state at the window's end, which
// the advice describes. It stops after
// the tick that reaches opt.Duration, when src returns io.EOF, or when ctx is
// done. Stopping on ctx (Ctrl-C) is not an error: when it happens while
// Collect waits for the next live tick, Collect takes one last tick at that
// moment, then returns the window so far. A window
// needs at least two ticks; with fewer, Collect returns an error wrapping
// ErrTooFewTicks. Any other error from src ends the window: Collect returns
// what it has collected so far along with the error.
//
// Collect waits opt.Interval between ticks except for a recorded source
// (a replay), whose snapshots are read back to back.
func Collect(ctx context.Context, src Source, opt Options) (*pressure.Window, *host.Snapshot, error) {
	w := &pressure.Window{}
	if opt.Interval < 0 || opt.Duration < 0 {
		return nil, nil, fmt.Errorf("sampling interval %s and duration %s must not be negative", opt.Interval, opt.Duration)
	}
	paced := !src.Recorded() && opt.Interval > 0
	if opt.KeepSeries {
		n := 64
		if paced && opt.Duration > 0 {
			n = int(min(opt.Duration/opt.Interval+1, 1<<16))
		}
		w.KeepSeries(n)
	}

	var (
		last   *host.Snapshot
		timer  *time.Timer
		begin  = time.Now()
		due    time.Duration // offset from begin at which the current tick was due
		srcErr error
	)
	if paced {
		timer = time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
	}
loop:
	for {
		s, err := src.Next(ctx)
		if err == nil {
			err = w.Add(s)
		}
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
			case ctx.Err() != nil && errors.Is(err, ctx.Err()):
			case errors.Is(err, arcstats.ErrNotLoaded) && w.Ticks >= 2:
				// The module went away (unloaded, or the host is
				// shutting down): what was seen until then stands.
				w.Ended = fmt.Sprintf("the zfs module went away after %s of sampling (%v): the window ends at the last reading", w.Len().Round(time.Millisecond), err)
			default:
				srcErr = fmt.Errorf("sample %d: %w", w.Ticks+1, err)
			}
			break loop
		}
		last = s
		if opt.Progress != nil {
			opt.Progress(progressOf(w, s, opt.Duration))
		}
		if !paced {
			if ctx.Err() != nil || opt.Duration > 0 && s.At.Sub(w.Start) >= opt.Duration {
				break loop
			}
			continue
		}
		if opt.Duration > 0 && due >= opt.Duration {
			break loop
		}
		due += opt.Interval
		if late := time.Since(begin) - due; late > opt.Interval {
			// Far behind (the host was suspended, or a read stalled):
			// skip the missed ticks rather than read them in a burst.
			due += late.Truncate(opt.Interval)
		}
		if opt.Duration > 0 {
			due = min(due, opt.Duration)
		}
		timer.Reset(time.Until(begin.Add(due)))
		select {
		case <-timer.C:
		case <-ctx.Done():
			// Ctrl-C: end the window now, with one last reading.
			if s, err := src.Next(context.WithoutCancel(ctx)); err == nil && w.Add(s) == nil {
				last = s
				if opt.Progress != nil {
					opt.Progress(progressOf(w, s, opt.Duration))
				}
			}
			break loop
		}
	}
	if paced {
		w.Interval = opt.Interval
	}
	if srcErr != nil {
		return w, last, srcErr
	}
	if w.Ticks < 2 {
		return w, last, fmt.Errorf("%w, got %d", ErrTooFewTicks, w.Ticks)
	}
	return w, last, nil
}

func progressOf(w *pressure.Window, s *host.Snapshot, total time.Duration) Progress {
	c, _ := s.Arc.Uint("c")
	p := Progress{
		Elapsed:  w.Len(),
		Total:    total,
		Ticks:    w.Ticks,
		Size:     s.ArcSize(),
		C:        c,
		Direct:   w.Direct.Delta,
		Indirect: w.Indirect.Delta,
		Throttle: w.Throttle.Delta,
	}
	if total > 0 {
		p.Left = max(total-p.Elapsed, 0)
	}
	return p
}

// FormatProgress renders p as one terminal line, without a newline, cut to
// width characters when width > 0 so that it never wraps:
//
//	sampling: 1m12s left  ARC 7.45 GiB / target 8 GiB  direct +3 indirect +120 throttle +0
//
// An open-ended window (Total 0) shows the time elapsed instead of the time
// left.
func FormatProgress(p Progress, width int) string {
	var b strings.Builder
	b.WriteString("sampling: ")
	if p.Total > 0 {
		b.WriteString(p.Left.Round(time.Second).String())
		b.WriteString(" left")
	} else {
		b.WriteString(p.Elapsed.Round(time.Second).String())
		b.WriteString(" elapsed")
	}
	b.WriteString("  ARC ")
	b.WriteString(size.Format(p.Size))
	b.WriteString(" / target ")
	b.WriteString(size.Format(p.C))
	b.WriteString("  direct +")
	b.WriteString(strconv.FormatUint(p.Direct, 10))
	b.WriteString(" indirect +")
	b.WriteString(strconv.FormatUint(p.Indirect, 10))
	b.WriteString(" throttle +")
	b.WriteString(strconv.FormatUint(p.Throttle, 10))
	if r := []rune(b.String()); width > 0 && len(r) > width {
		return string(r[:width])
	}
	return b.String()
}

// ReplayError is a malformed replay directory: a bad manifest, or a
// snapshot directory it lists that is missing.
type ReplayError struct{ Err error }

func (e *ReplayError) Error() string { return e.Err.Error() }
func (e *ReplayError) Unwrap() error { return e.Err }

// Take reads the host under root: once, or over a window when opt.Duration
// is set or root is a recorded window (a replay, played whole or up to
// opt.Duration). It returns the latest reading, the window (nil for a
// single reading) and whether root is a replay.
func Take(ctx context.Context, fsys *rootfs.FS, opt Options) (last *host.Snapshot, w *pressure.Window, replay bool, err error) {
	rp, replay, err := OpenReplay(fsys)
	if err != nil {
		return nil, nil, true, &ReplayError{err}
	}
	if !replay && opt.Duration == 0 {
		last, err = host.Read(fsys)
		return last, nil, false, err
	}
	var src Source = NewLive(fsys)
	if replay {
		src = rp
	}
	w, last, err = Collect(ctx, src, opt)
	if err != nil {
		return nil, nil, replay, err
	}
	if last.System == nil { // a replay: the system around its last snapshot
		sys, err := host.ReadSystem(last.FS)
		if err != nil {
			return nil, nil, replay, fmt.Errorf("replay snapshot %s: %w", last.Root, err)
		}
		last.Attach(sys)
	}
	return last, w, replay, nil
}
