package sample

import (
	"context"

	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// Source produces host snapshots. Next returns io.EOF when the source has
// no more (a replay after its last snapshot). Recorded reports whether the
// snapshots carry their own times (a replay, read back to back) rather than
// being taken now (paced by Collect).
type Source interface {
	Next(ctx context.Context) (*host.Snapshot, error)
	Recorded() bool
}

// Live reads the running system under a root directory ("/" on the host
// itself): each Next reads the counters afresh (host.ReadCounters),
// stamped with the time the reading started; the system around them
// (host.ReadSystem) is read at the first tick and shared by all.
type Live struct {
	fsys *rootfs.FS
	sys  *host.System
}

// NewLive returns a Live source reading under the root.
func NewLive(fsys *rootfs.FS) *Live { return &Live{fsys: fsys} }

// Recorded is false: Live readings are taken now.
func (l *Live) Recorded() bool { return false }

// Next takes one reading.
func (l *Live) Next(ctx context.Context) (*host.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := host.ReadCounters(l.fsys)
	if err != nil {
		return nil, err
	}
	if l.sys == nil {
		if l.sys, err = host.ReadSystem(l.fsys); err != nil {
			return nil, err
		}
	}
	s.Attach(l.sys)
	return s, nil
}
