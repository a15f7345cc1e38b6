package sample

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/arcadvise/arcadvise/internal/rootfs"

	"github.com/arcadvise/arcadvise/internal/host"
)

// ManifestName is the file that marks a directory as a replay. Its format is
// described in docs/replay.md and parsed by ParseManifest.
const ManifestName = "arcadvise-replay"

// manifestHeader is the first line of a manifest: the format and its version.
const manifestHeader = "arcadvise replay 1"

// Entry is one line of a replay manifest: a snapshot directory and its
// time.
type Entry struct {
	At  time.Time // when the snapshot was taken
	Dir string    // directory relative to the replay root, slash-separated
}

// ParseManifest parses a replay manifest:
//
//	arcadvise replay 1
//	# comment
//	start 2026-11-25T20:18:27.834Z
//	0s       11-arc-filled
//	24.375s  21-pressure-20s
//	2026-11-25T20:19:20.614Z 22-pressure-45s
//
// The first line is the header. Then, ignoring blank lines and lines starting
// with '#': at most one "start TIME" line before any snapshot, then one line
// per snapshot, "WHEN DIR". WHEN is an RFC 3339 time or a Go duration (such
// as "24.375s" or "1m5s") counted from the start time (from
// 1970-01-01T00:00:00Z without a start line). DIR is the rest of the line,
// without leading and trailing white space: a relative path that stays inside
// the replay, and does not start or end with white space once cleaned.
// Snapshot times must increase strictly. At least one snapshot is required.
func ParseManifest(r io.Reader) ([]Entry, error) {
	return parseManifest(r, ManifestName)
}

// parseManifest is ParseManifest with name, the file's path, in messages.
func parseManifest(r io.Reader, name string) ([]Entry, error) {
	sc := bufio.NewScanner(r)
	var (
		snaps    []Entry
		start    = time.Unix(0, 0).UTC()
		hasStart bool
		n        int
	)
	errf := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: "+format, append([]any{name, n}, args...)...)
	}
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			if line != manifestHeader {
				return nil, errf("first line is %q, want %q", truncate(line, 40), manifestHeader)
			}
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		when, rest := line, ""
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			when, rest = line[:i], strings.TrimSpace(line[i+1:])
		}
		if when == "start" {
			if hasStart {
				return nil, errf("second start line")
			}
			if len(snaps) > 0 {
				return nil, errf("start line after the first snapshot")
			}
			t, err := time.Parse(time.RFC3339Nano, rest)
			if err != nil {
				return nil, errf("start: %q is not an RFC 3339 time", truncate(rest, 40))
			}
			start, hasStart = t, true
			continue
		}
		var at time.Time
		if d, err := time.ParseDuration(when); err == nil {
			at = start.Add(d)
		} else if t, err := time.Parse(time.RFC3339Nano, when); err == nil {
			at = t
		} else {
			return nil, errf("%q is neither a duration (24.5s) nor an RFC 3339 time", truncate(when, 40))
		}
		if rest == "" {
			return nil, errf("no directory after %q", truncate(when, 40))
		}
		dir := filepath.ToSlash(filepath.Clean(filepath.FromSlash(rest)))
		if !filepath.IsLocal(filepath.FromSlash(dir)) || dir == "." {
			return nil, errf("directory %q is not a path inside the replay", truncate(rest, 40))
		}
		if dir != strings.TrimSpace(dir) {
			return nil, errf("directory %q starts or ends with white space", truncate(dir, 40))
		}
		if len(snaps) > 0 && !at.After(snaps[len(snaps)-1].At) {
			return nil, errf("%s: time %s is not after the previous snapshot's %s",
				dir, at.Format(time.RFC3339Nano), snaps[len(snaps)-1].At.Format(time.RFC3339Nano))
		}
		snaps = append(snaps, Entry{At: at, Dir: dir})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: empty file, want the line %q first", name, manifestHeader)
	}
	if len(snaps) == 0 {
		return nil, fmt.Errorf("%s: no snapshots listed (hint: add lines like \"0s snap-000\")", name)
	}
	return snaps, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Replay is a Source that plays back a directory of timed snapshots. Each
// snapshot directory is a root that host.Read reads
// (proc/spl/kstat/zfs/arcstats, proc/meminfo, and optionally
// proc/pressure/memory, proc/vmstat and sys/module/zfs). Next does not wait:
// a snapshot's At is its recorded time. Replay is not safe for concurrent
// use.
type Replay struct {
	fsys     *rootfs.FS
	entries  []Entry
	resolved []string // each entry's Dir, symlinks resolved inside the replay
	next     int
	prev     *rootfs.FS // the last snapshot's root
}

// OpenReplay opens root as a replay. ok is false, with a nil error, when root
// has no manifest (it is then an ordinary root, for Live). With a manifest,
// ok is true and err reports a malformed manifest or a listed directory that
// does not exist.
func OpenReplay(fsys *rootfs.FS) (rp *Replay, ok bool, err error) {
	name := fsys.Path(ManifestName)
	b, err := fsys.ReadFile(ManifestName, maxManifest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	snaps, err := parseManifest(bytes.NewReader(b), name)
	if err != nil {
		return nil, true, err
	}
	resolved := make([]string, len(snaps))
	for i, s := range snaps {
		// A snapshot directory is resolved inside the replay: a symlink
		// out of it leads back into it, as in a chroot (internal/rootfs).
		res, err := fsys.Resolve(s.Dir)
		if err == nil {
			var fi fs.FileInfo
			if fi, err = fsys.Stat(res); err == nil && !fi.IsDir() {
				return nil, true, fmt.Errorf("%s: snapshot %s is not a directory", name, s.Dir)
			}
		}
		if err != nil {
			return nil, true, fileError(name+": snapshot "+s.Dir, err)
		}
		resolved[i] = res
	}
	return &Replay{fsys: fsys, entries: snaps, resolved: resolved}, true, nil
}

// maxManifest bounds the manifest: a line per snapshot.
const maxManifest = 4 << 20

// Entries returns the manifest's entries, in order.
func (rp *Replay) Entries() []Entry { return rp.entries }

// Recorded is true: a replay's snapshots carry their recorded times.
func (rp *Replay) Recorded() bool { return true }

// Next reads the next snapshot, or returns io.EOF after the last one.
func (rp *Replay) Next(ctx context.Context) (*host.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if rp.next >= len(rp.entries) {
		return nil, io.EOF
	}
	e, dir := rp.entries[rp.next], rp.resolved[rp.next]
	rp.next++
	sub, err := rp.fsys.Sub(dir)
	if err != nil {
		return nil, fmt.Errorf("replay snapshot %s: %w", e.Dir, err)
	}
	// Each snapshot's counters (Take reads the system around the last
	// one); only the last snapshot's root stays open.
	if rp.prev != nil {
		rp.prev.Close()
	}
	rp.prev = sub
	s, err := host.ReadCounters(sub)
	if err != nil {
		return nil, fmt.Errorf("replay snapshot %s: %w", e.Dir, err)
	}
	s.At = e.At
	return s, nil
}

// fileError names path in a file-access error without repeating the path
// that os errors already carry.
func fileError(path string, err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	if re, ok := errors.AsType[*rootfs.Error](err); ok {
		return fmt.Errorf("%s: %w", path, re.Err)
	}
	return fmt.Errorf("%s: %w", path, err)
}
