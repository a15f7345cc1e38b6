package guard

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSettle: the wait ends when the size is within Slack of the cap, when
// the limit is spent, on a read error, and at once when the ARC is already
// there; what it says in each case.
func TestSettle(t *testing.T) {
	const mib = 1 << 20
	cap := uint64(1440 * mib) // Slack: 22.5 MiB (cap/64)
	seq := func(vals ...uint64) func() (uint64, error) {
		i := 0
		return func() (uint64, error) {
			v := vals[min(i, len(vals)-1)]
			i++
			return v, nil
		}
	}
	tests := []struct {
		name  string
		read  func() (uint64, error)
		limit time.Duration
		done  bool
		from  uint64
		to    uint64
		says  string
	}{
		{"comes down", seq(2900*mib, 2500*mib, 1800*mib, 1460*mib), time.Second, true, 2900 * mib, 1460 * mib, "the ARC came down from 2.83 GiB to 1.42 GiB in"},
		{"already there", seq(1000 * mib), time.Second, true, 1000 * mib, 1000 * mib, "the ARC (1000 MiB) is already within the cap"},
		{"just above the slack", seq(1463*mib, 1462*mib), time.Second, true, 1463 * mib, 1462 * mib, "came down"},
		{"never", seq(2900 * mib), 50 * time.Millisecond, false, 2900 * mib, 2900 * mib, "the ARC still holds 2.83 GiB after"},
		{"no wait at all", seq(2900 * mib), 0, false, 2900 * mib, 2900 * mib, "still holds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Settle(context.Background(), tc.read, cap, tc.limit, time.Millisecond)
			if s.Done != tc.done || s.From != tc.from || s.To != tc.to || s.Err != nil {
				t.Errorf("got %+v, want done %v from %d to %d", s, tc.done, tc.from, tc.to)
			}
			if !strings.Contains(s.String(), tc.says) {
				t.Errorf("says %q, want %q", s, tc.says)
			}
			if s.Took > tc.limit+time.Second {
				t.Errorf("took %s, limit %s", s.Took, tc.limit)
			}
		})
	}
	if Slack(cap) != cap/64 || Slack(256*mib) != 16*mib {
		t.Errorf("Slack(%d) = %d, Slack(256 MiB) = %d", cap, Slack(cap), Slack(256*mib))
	}
	boom := errors.New("arcstats: gone")
	n := 0
	s := Settle(context.Background(), func() (uint64, error) {
		if n++; n > 2 {
			return 0, boom
		}
		return 2900 * mib, nil
	}, cap, time.Second, time.Millisecond)
	if !errors.Is(s.Err, boom) || s.Done || !strings.Contains(s.String(), "arcstats: gone") {
		t.Errorf("a read error: %+v %q", s, s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if s := Settle(ctx, seq(2900*mib), cap, 10*time.Second, 10*time.Millisecond); s.Done || time.Since(start) > time.Second {
		t.Errorf("a cancelled wait: %+v after %s", s, time.Since(start))
	}
}
