package policy

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/pressure"
	"github.com/arcadvise/arcadvise/internal/size"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// TestWhatIfFightLine: the what-if's prediction, worked by hand from real
// snapshots and a peak the lane measured.
func TestWhatIfFightLine(t *testing.T) {
	for _, tc := range []struct {
		name, root string
		reserve    uint64
		peak       uint64
		fight      uint64
		source     string
		predicted  uint64
	}{
		// The 8 GiB guest at rest before the frontier (2.3.2), and the peak
		// of non-ARC memory the --sample window of the R = 5G frontier of
		// 2026-12-07 08:15 measured at the default cap (its whatif.json,
		// docs/frontier/2.3-8192M-R5G before e396d2a: 5588086472). The line
		// is the free floor: the zones' low watermarks 40 + 7907 + 13171
		// pages + 1.5 × their high 48 + 9488 + 15805 = 59129.5 pages,
		// 242194432 bytes. 8324853760 − 5588086472 − 242194432 =
		// 2494572856; the overrun (2.3.2, no zfs_max_recordsize in the
		// snapshot: 16 MiB) 16777216 + 3 · ((2494572856 >> 8) / 2) =
		// 31393852 leaves 2463179004, 2349 MiB, 5.9% under the C* of that
		// run (2496 MiB).
		{"watermarks", "testdata/vm/2.3.2-2~bpo12+2/50-frontier-rest-8192M", 5 * size.GiB, 5588086472,
			242194432, "the free floor: where kswapd wakes", 2463179004},
		// The lab's 2.3.2 snapshot has no zoneinfo: the line is the free
		// floor, arc_sys_free 189721216. A peak of 2 GiB + 187092408 (the
		// host in use at the reading): 4103278592 − 2147483648 − 187092408
		// − 189721216 = 1578981320, the overrun 16777216 + 3 · ((1578981320
		// >> 8) / 2) = 26029057 leaves 1552952263.
		{"no zoneinfo", "testdata/snapshots/zfs-2.3.2-arc-filled", 2 * size.GiB, 2147483648 + 187092408,
			189721216, "no /proc/zoneinfo", 1552952263},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := host.Read(testutil.OpenRoot(t, filepath.Join(testutil.RepoRoot(t), tc.root)))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Recommend(Input{Host: s, Reservations: []Reservation{{Bytes: tc.reserve, Source: "test"}}})
			if err != nil {
				t.Fatal(err)
			}
			w := &pressure.Window{Ticks: 2, PeakNonARC: tc.peak, PeakNonARCAt: time.Unix(0, 0), End: time.Unix(1, 0)}
			wi := NewWhatIf(w, s, &r)
			if wi.PeakAtEnd {
				t.Error("a peak a second before the window's end is at its end")
			}
			w.End = w.PeakNonARCAt
			if !NewWhatIf(w, s, &r).PeakAtEnd {
				t.Error("a peak at the window's last reading is not flagged")
			}
			if wi.FightLine != tc.fight || !strings.Contains(wi.FightLineSource, tc.source) {
				t.Errorf("fight line %d %q; want %d, a source saying %q", wi.FightLine, wi.FightLineSource, tc.fight, tc.source)
			}
			if wi.PredictedCStar != tc.predicted {
				t.Errorf("predicted C* %d, want %d", wi.PredictedCStar, tc.predicted)
			}
			// Every cap listed fights exactly when it is above the prediction.
			for _, c := range wi.Caps {
				if c.Fights != (c.Cap > wi.PredictedCStar) || c.Margin != int64(wi.PredictedCStar)-int64(c.Cap) {
					t.Errorf("cap %d: fights %v, margin %d, against predicted %d", c.Cap, c.Fights, c.Margin, wi.PredictedCStar)
				}
			}
		})
	}
}
