package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/term"

	"github.com/arcadvise/arcadvise/internal/sample"
)

// window samples the host (or replays a recorded window) when asked, and
// returns the window and the root whose files describe the host's latest
// state. With neither --sample nor a replay root it returns nil.
func window(ctx context.Context, o *options, stderr io.Writer) (*sample.Window, string, error) {
	replay, isReplay, err := sample.OpenReplay(o.root)
	if err != nil {
		return nil, "", inputErr(err, "a replay directory holds an arcadvise-replay manifest and one root per snapshot (docs/replay.md)")
	}
	if !isReplay && o.sample == 0 {
		return nil, o.root, nil
	}
	var src sample.Source = sample.NewLive(o.root)
	latest := o.root
	if isReplay {
		src = replay
		snaps := replay.Snapshots()
		latest = filepath.Join(o.root, snaps[len(snaps)-1].Dir)
	}
	opt := sample.Options{Interval: o.interval, Duration: o.sample, KeepSeries: o.series}
	if isTerminal(stderr) {
		opt.Progress = func(p sample.Progress) {
			fmt.Fprintf(stderr, "\r\033[K%s", sample.FormatProgress(p))
		}
		defer fmt.Fprint(stderr, "\r\033[K")
	}
	w, err := sample.Collect(ctx, src, opt)
	if err != nil {
		if errors.Is(err, sample.ErrTooFewTicks) {
			return nil, "", inputErr(err, "use a --sample duration of at least one --interval")
		}
		return nil, "", loadErr(err)
	}
	if isReplay && w.End.Before(replay.Snapshots()[len(replay.Snapshots())-1].At) {
		// --sample cut the replay short: describe the host as of the
		// window's end, not the last snapshot.
		for _, s := range replay.Snapshots() {
			if !s.At.After(w.End) {
				latest = filepath.Join(o.root, s.Dir)
			}
		}
	}
	return &w, latest, nil
}

// isTerminal reports whether w is a terminal: the progress line is for a
// person watching, never for a pipe or a log.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
