package guard

import (
	"context"
	"fmt"
	"time"

	"github.com/arcadvise/arcadvise/internal/size"
)

// SettlePoll is how often Settle reads the ARC's size.
const SettlePoll = 100 * time.Millisecond

// Settled says how the ARC came down to a lowered cap.
type Settled struct {
	From, To uint64        // the ARC's size when the wait began and when it ended
	Cap      uint64        // the cap waited for
	Took     time.Duration // how long the wait lasted
	Done     bool          // the ARC reached the cap (within Slack)
	Err      error         // reading the size failed: the wait stopped there
}

// Slack is how far above the cap the ARC counts as down to it: the evict
// thread brings the size to the target, but buffers in use (dirty data, a
// read in flight) stay, and arcstats is a moment's reading. 1/64 of the
// cap, at least 16 MiB (SPA_MAXBLOCKSIZE, one largest block).
func Slack(cap uint64) uint64 { return max(cap/64, 16<<20) }

// Settle waits until read gives an ARC size within Slack of cap, at most
// limit (and never past ctx), reading it every poll. read returns the
// ARC's size now (arcstats size).
func Settle(ctx context.Context, read func() (uint64, error), cap uint64, limit, poll time.Duration) Settled {
	start := time.Now()
	s := Settled{Cap: cap}
	deadline := start.Add(limit)
	for first := true; ; first = false {
		n, err := read()
		if err != nil {
			s.Err, s.Took = err, time.Since(start)
			return s
		}
		if first {
			s.From = n
		}
		s.To = n
		if n <= cap+Slack(cap) {
			s.Done, s.Took = true, time.Since(start)
			return s
		}
		wait := min(poll, time.Until(deadline))
		if wait <= 0 {
			s.Took = time.Since(start)
			return s
		}
		select {
		case <-ctx.Done():
			s.Took = time.Since(start)
			return s
		case <-time.After(wait):
		}
	}
}

// String is the note the guard's log line carries.
func (s Settled) String() string {
	switch {
	case s.Err != nil:
		return fmt.Sprintf("waiting for the ARC to come down to the cap: %v", s.Err)
	case s.Done && s.From <= s.Cap+Slack(s.Cap):
		return fmt.Sprintf("the ARC (%s) is already within the cap", size.Format(s.From))
	case s.Done:
		return fmt.Sprintf("the ARC came down from %s to %s in %.1f s", size.Format(s.From), size.Format(s.To), s.Took.Seconds())
	}
	return fmt.Sprintf("the ARC still holds %s after %.1f s (ARCADVISE_GUARD_SETTLE): it gives back what is above the cap as it is next used or under memory pressure, so the guest may meet reclaim while it allocates",
		size.Format(s.To), s.Took.Seconds())
}
