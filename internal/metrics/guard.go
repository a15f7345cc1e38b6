package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/arcadvise/arcadvise/internal/guard"
	"github.com/arcadvise/arcadvise/internal/report"
	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// GuardTextfile is the file the guard (--guard) writes in the textfile
// directory. It is not Textfile: arcadvise-textfile.service rewrites
// arcadvise.prom every 15 minutes with the host's metrics, and the guard
// runs between those at each guest start and stop; each keeps its own
// file, node_exporter reads both (every *.prom), and no metric is in both.
const GuardTextfile = "arcadvise-guard.prom"

// maxGuardTextfile bounds the read of the previous guard textfile: it is
// under 2 KiB.
const maxGuardTextfile = 64 << 10

// GuardLoweredTotal is the counter of caps the guard lowered.
const GuardLoweredTotal = "arcadvise_guard_lowered_total"

// GuardRun is one decision of the guard.
type GuardRun struct {
	Version  string
	Decision guard.Decision
	At       time.Time
	// LoweredTotal is how many times the guard has lowered the cap, this
	// run included: the previous textfile's count (ParseGuardLowered), plus
	// one when this run lowered it.
	LoweredTotal uint64
}

// GuardRegistry builds the guard's metrics: the last decision (1 for it,
// 0 for every other decision, so that an alert can match
// decision="refused" == 1), when it was taken, and the counter.
func GuardRegistry(g GuardRun) *prometheus.Registry {
	reg := prometheus.NewPedanticRegistry()
	last := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "arcadvise_guard_last_decision",
		Help: "The guard's last decision at a guest's start or stop (arcadvise --guard): 1 for it, 0 for the others. fits, lowered (zfs_arc_max lowered live to make room), overcommitted (no cap leaves room: warned, start allowed), refused (strict: start refused), raised, unchanged (post-stop), error, timeout."},
		[]string{"decision"})
	for _, d := range guard.Decisions {
		last.WithLabelValues(string(d)).Set(b2f(d == g.Decision))
	}
	reg.MustRegister(last)
	at := prometheus.NewGauge(prometheus.GaugeOpts{Name: "arcadvise_guard_last_decision_timestamp_seconds",
		Help: "When the guard took its last decision, in seconds since the epoch."})
	at.Set(float64(g.At.UnixNano()) / 1e9)
	reg.MustRegister(at)
	lowered := prometheus.NewCounter(prometheus.CounterOpts{Name: GuardLoweredTotal,
		Help: "How many times the guard lowered zfs_arc_max live to make room for a starting guest, counted across runs in this file."})
	lowered.Add(float64(g.LoweredTotal))
	reg.MustRegister(lowered)
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "arcadvise_guard_info",
		Help: "The arcadvise version that wrote this file; always 1."}, []string{"version"})
	info.WithLabelValues(report.Sanitize(g.Version)).Set(1)
	reg.MustRegister(info)
	return reg
}

// ParseGuardLowered reads the counter arcadvise_guard_lowered_total from a
// previous guard textfile (the Prometheus text format, read with
// client_golang's own parser, at most 64 KiB). A file without the counter
// counts 0; a value that is not a whole number from 0 to 2^53 is an error.
func ParseGuardLowered(r io.Reader) (uint64, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxGuardTextfile+1))
	if err != nil {
		return 0, err
	}
	if len(data) > maxGuardTextfile {
		return 0, fmt.Errorf("larger than %d bytes", maxGuardTextfile)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	mf, ok := mfs[GuardLoweredTotal]
	if !ok || len(mf.GetMetric()) == 0 {
		return 0, nil
	}
	if len(mf.GetMetric()) > 1 {
		return 0, fmt.Errorf("%s appears %d times", GuardLoweredTotal, len(mf.GetMetric()))
	}
	m := mf.GetMetric()[0]
	var v float64
	switch {
	case m.GetCounter() != nil:
		v = m.GetCounter().GetValue()
	case m.GetUntyped() != nil:
		v = m.GetUntyped().GetValue()
	case m.GetGauge() != nil:
		v = m.GetGauge().GetValue()
	default:
		return 0, fmt.Errorf("%s is not a counter", GuardLoweredTotal)
	}
	if math.IsNaN(v) || v < 0 || v > 1<<53 || v != math.Trunc(v) {
		return 0, fmt.Errorf("%s is %v, not a count", GuardLoweredTotal, v)
	}
	return uint64(v), nil
}

// ReadGuardLowered reads the counter from the previous guard textfile in
// the directory: 0 when there is none. The directory is written by
// node_exporter's user too, so the file is read as the door reads (a
// regular file, not through a symlink, bounded); at worst that user sets
// the count.
func (t *TextfileDir) ReadGuardLowered() (uint64, error) {
	st, err := t.d.Read(GuardTextfile, maxGuardTextfile+1)
	if err != nil {
		if errors.Is(err, rootfs.ErrTooLarge) {
			return 0, fmt.Errorf("%s: larger than %d bytes", t.d.Path(GuardTextfile), maxGuardTextfile)
		}
		return 0, err
	}
	if !st.Exists || st.Symlink {
		return 0, nil
	}
	n, err := ParseGuardLowered(bytes.NewReader(st.Data))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", t.d.Path(GuardTextfile), err)
	}
	return n, nil
}

// WriteGuard writes DIR/arcadvise-guard.prom atomically, as Write writes
// arcadvise.prom.
func (t *TextfileDir) WriteGuard(reg *prometheus.Registry) error {
	return t.writeAs(GuardTextfile, reg)
}
