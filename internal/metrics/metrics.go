// Package metrics turns arcadvise's report into Prometheus gauges for
// node_exporter's textfile collector: a registry of client_golang gauges,
// written with its text encoder (WriteText) or as DIR/arcadvise.prom through
// a temporary file in DIR renamed over it (WriteTextfile). Gauges are in base
// units, with HELP and TYPE and no timestamps, and none repeats what
// node_exporter's own node_zfs_arc_* already exports from arcstats.
package metrics

import (
	"bytes"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/pressure"
	"github.com/arcadvise/arcadvise/internal/report"
	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// Textfile is the file name WriteTextfile writes in its directory.
const Textfile = "arcadvise.prom"

// Run is what is known about the run besides its report.
type Run struct {
	Version string    // arcadvise's version
	Kernel  string    // the kernel release ("" when unknown)
	At      time.Time // when it ran
	// Report is nil when the run failed before it had one: then only
	// arcadvise_info, arcadvise_last_run_timestamp_seconds and
	// arcadvise_last_run_success 0 are written.
	Report *report.Report
}

// pressureLevels maps the verdict to arcadvise_pressure_level.
var pressureLevels = map[pressure.Level]float64{pressure.None: 0, pressure.Low: 1, pressure.Moderate: 2, pressure.High: 3}

// Registry builds the gauges of one run.
func Registry(run Run) *prometheus.Registry {
	reg := prometheus.NewPedanticRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		g.Set(v)
		reg.MustRegister(g)
	}
	r := run.Report
	zfsVersion := ""
	if r != nil {
		zfsVersion = r.ZFS.Version
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "arcadvise_info",
		Help: "arcadvise's version, the OpenZFS module's version and the kernel release; always 1."},
		[]string{"version", "zfs_version", "kernel"})
	// Label values come from files under the root (the module's version
	// file): shown escaped, as on a terminal.
	info.WithLabelValues(report.Sanitize(run.Version), report.Sanitize(zfsVersion), report.Sanitize(run.Kernel)).Set(1)
	reg.MustRegister(info)
	gauge("arcadvise_last_run_timestamp_seconds", "When arcadvise last ran, in seconds since the epoch.", float64(run.At.UnixNano())/1e9)
	if r == nil {
		gauge("arcadvise_last_run_success", "1 when the last run read the host and advised, 0 when it failed.", 0)
		return reg
	}
	gauge("arcadvise_last_run_success", "1 when the last run read the host and advised, 0 when it failed.", 1)

	rec := r.Recommendation
	gauge("arcadvise_recommended_arc_max_bytes", "The zfs_arc_max arcadvise recommends (or the admin's --arc-max); 0 when over-committed.", float64(rec.ArcMax))
	reservationGauges(reg, r)
	gauge("arcadvise_memory_available_bytes", "MemAvailable plus the ARC above c_min: the memory a workload can get, the ARC giving back all but c_min (no MemAvailable counts the ARC, openzfs/zfs#10255).", float64(r.Host.AvailableWithARC))
	gauge("arcadvise_overcommitted", "1 when the reservation leaves no room for a useful ARC (exit status 3).", b2f(rec.Status == policy.StatusOvercommitted))
	gauge("arcadvise_effective_arc_max_bytes", "The cap in effect: arcstats c_max.", float64(r.Arc.CMax))
	if r.Arc.CMax > 0 {
		gauge("arcadvise_arc_size_over_c_max_ratio", "ARC size divided by c_max: near 1 the ARC has grown to its cap.", float64(r.Arc.Size)/float64(r.Arc.CMax))
	}
	gauge("arcadvise_pressure_level", "Memory pressure on the ARC: 0 none, 1 low, 2 moderate, 3 high (from the counters since boot, or the --sample window).", pressureLevels[r.Pressure.Level])
	bugs := 0
	for _, a := range r.ZFS.Advisories {
		if !a.Covered {
			bugs++
		}
	}
	gauge("arcadvise_known_bugs", "Known ARC bugs of the running OpenZFS release that can apply to this host and are not covered by a workaround.", float64(bugs))

	if c := r.Config; c != nil {
		configured := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "arcadvise_configured_arc_max_bytes",
			Help: "zfs_arc_max as configured: source=\"next_boot\" is what modprobe.d or the kernel command line set for the next module load, source=\"running\" is /sys/module/zfs/parameters; 0 is the module's default."},
			[]string{"source"})
		for _, p := range c.Params {
			if p.Param != zfsmod.ArcMax {
				continue
			}
			next := 0.0
			if p.NextBoot != nil && p.NextBoot.Bytes != nil {
				next = float64(*p.NextBoot.Bytes)
			}
			configured.WithLabelValues("next_boot").Set(next)
			if p.Running != nil {
				configured.WithLabelValues("running").Set(float64(*p.Running))
			}
			// A reboot changes the cap when the next load takes a value
			// other than the c_max in effect, or the default while a
			// live value is set.
			var reboot bool
			switch {
			case next != 0:
				reboot = p.InEffect != nil && float64(*p.InEffect) != next
			default:
				reboot = p.Running != nil && *p.Running != 0
			}
			gauge("arcadvise_reboot_required", "1 when the next module load will set a different c_max than the one in effect (a write waiting for its reboot, or a live value a reboot would undo).", b2f(reboot))
		}
		reg.MustRegister(configured)
		stale := false
		for _, im := range c.Initramfs {
			stale = stale || im.Drift
		}
		gauge("arcadvise_initramfs_stale", "1 when an initramfs image the next boot uses (the running or the newest kernel's) loads zfs with other zfs_arc_* values than /etc/modprobe.d: it needs a rebuild (part of arcadvise_drift).", b2f(stale))
		gauge("arcadvise_drift", "1 when the next-boot configuration or the running c_max differs from the recommendation (what --check reports, exit status 1).", b2f(r.Drift))
	}
	return reg
}

// Values of the source label of arcadvise_reservation_bytes besides the
// declared sources (report.Kinds: pve-qemu, pve-lxc, libvirt, cgroup).
const (
	SourceTyped    = "typed"    // the sizes given with --reserve
	SourceObserved = "observed" // no declaration: the non-ARC memory in use
)

// reservationGauges: arcadvise_reservation_bytes{source} splits
// recommendation.reserve_bytes by where it comes from, so that the series
// of a run add up to it: "observed", or "typed" (the --reserve sizes, 0
// when only auto was given) and with --reserve auto one series per
// declared source, 0 when it has none,
// with arcadvise_guests{source,counted} counting the declarations, so that
// a fleet sees a new guest arrive.
func reservationGauges(reg *prometheus.Registry, r *report.Report) {
	res := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "arcadvise_reservation_bytes",
		Help: "The memory reserved for the workload, by source: \"typed\" (--reserve sizes), \"observed\" (no declaration: the non-ARC memory in use), or with --reserve auto each declared source (pve-qemu, pve-lxc, libvirt, cgroup); the series add up to the reservation."},
		[]string{"source"})
	rec := r.Recommendation
	typed := rec.Reserve
	if d := r.Reservation; d != nil && !rec.ReserveObserved {
		typed -= min(d.CountedBytes, typed) // what auto counted: by source below
	}
	if rec.ReserveObserved {
		res.WithLabelValues(SourceObserved).Set(float64(rec.Reserve))
	} else {
		res.WithLabelValues(SourceTyped).Set(float64(typed))
	}
	if d := r.Reservation; d != nil {
		guests := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "arcadvise_guests",
			Help: "The declarations --reserve auto found, by source (pve-qemu, pve-lxc, libvirt, cgroup) and whether they count by the --guests rule."},
			[]string{"source", "counted"})
		for _, k := range report.Kinds {
			var bytes float64
			var in, out int
			for _, s := range d.Sources {
				if s.Source != string(k) {
					continue
				}
				if s.Counted {
					bytes += float64(s.CountedBytes)
					in++
				} else {
					out++
				}
			}
			if !rec.ReserveObserved {
				res.WithLabelValues(string(k)).Set(bytes)
			}
			guests.WithLabelValues(string(k), "true").Set(float64(in))
			guests.WithLabelValues(string(k), "false").Set(float64(out))
		}
		reg.MustRegister(guests)
	}
	reg.MustRegister(res)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// WriteText writes the registry in the Prometheus text format.
func WriteText(w io.Writer, reg *prometheus.Registry) error {
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return err
		}
	}
	return nil
}

// TextfileDir is node_exporter's textfile directory, opened and checked
// before a run acts (a missing or read-only directory is an input error
// then, not after a write), and written last.
type TextfileDir struct{ d *rootfs.Dir }

// OpenTextfileDir opens dir, the textfile directory. It belongs to the
// prometheus user on Debian (/var/lib/prometheus/node-exporter), so it is
// reached without following a symlink that user could have planted
// (rootfs.OpenTrustedDir), and written through its descriptor.
func OpenTextfileDir(dir string) (*TextfileDir, error) {
	d, err := rootfs.OpenTrustedDir(dir)
	if err != nil {
		return nil, err
	}
	return &TextfileDir{d: d}, nil
}

// Close releases the directory.
func (t *TextfileDir) Close() error { return t.d.Close() }

// Write writes DIR/arcadvise.prom atomically, through the directory's
// descriptor: the text goes to a temporary file whose name does not end in
// .prom (so the collector never reads it half-written), made 0644 with
// fchmod so node_exporter's user can read it, synced, and renamed over the
// file. client_golang's WriteToTextfile is not used: it chmods the
// temporary file by path, which follows a symlink the directory's owner
// can put there (a root escape).
func (t *TextfileDir) Write(reg *prometheus.Registry) error {
	return t.writeAs(Textfile, reg)
}

// writeAs writes the registry as name in the directory (Write).
func (t *TextfileDir) writeAs(name string, reg *prometheus.Registry) error {
	var b bytes.Buffer
	if err := WriteText(&b, reg); err != nil {
		return err
	}
	staged, err := t.d.Stage(name, b.Bytes(), rootfs.Attrs{Perm: 0o644, UID: -1, GID: -1})
	if err != nil {
		return err
	}
	if err := staged.Commit(name, nil, 0); err != nil {
		staged.Discard()
		return err
	}
	return t.d.Sync()
}
