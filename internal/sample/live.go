package sample

import (
	"context"

	"github.com/arcadvise/arcadvise/internal/host"
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
// itself): each Next is a fresh host.Read, stamped with the time the
// reading started.
type Live struct{ root string }

// NewLive returns a Live source reading under root.
func NewLive(root string) *Live { return &Live{root: root} }

// Recorded is false: Live readings are taken now.
func (l *Live) Recorded() bool { return false }

// Next takes one reading.
func (l *Live) Next(ctx context.Context) (*host.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return host.Read(l.root)
}
