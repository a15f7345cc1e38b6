package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime/debug"
	"time"

	"github.com/spf13/pflag"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/report"
	"github.com/arcadvise/arcadvise/internal/sample"
	"github.com/arcadvise/arcadvise/internal/size"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

const usage = `Usage:
    arcadvise [--reserve [LABEL=]SIZE]... [--root DIR] [--format text|json]

arcadvise reads the ARC's state (/proc/spl/kstat/zfs/arcstats), the memory
picture (/proc/meminfo, /proc/pressure/memory) and the zfs module
(/sys/module/zfs), and recommends a zfs_arc_max that leaves the memory your
workload needs, with every term of the sum and where it came from.

Options:
    -r, --reserve [LABEL=]SIZE  Memory the workload needs. Repeatable; summed.
                                SIZE is bytes, or K, M, G, T (binary, as in
                                zfs(8) and free(1), with optional i/iB/B), or
                                N% of MemTotal. Without it, the non-ARC memory
                                in use now is taken, labelled "observed".
        --host-base SIZE        Memory for the kernel and services
                                (default 1 GiB + MemTotal/32).
        --root DIR              Read /proc, /sys and /etc under DIR (a host
                                snapshot, or a recorded window: docs/replay.md).
                                Default /.
    -s, --sample DURATION       Watch the host for DURATION (e.g. 2m) while the
                                workload runs and advise from what happened
                                then. Ctrl-C ends the window early.
        --interval DURATION     Time between samples (default 1s).
        --series                With --format json, include every sample.
    -f, --format FORMAT         text (default) or json.
        --arc-max SIZE          Your own cap instead of the recommendation; it
                                goes through the same checks, --diff, --write,
                                --live and --check.

Applying it:
        --diff                  Print the change to modprobe.d as a unified diff;
                                write nothing.
        --write                 Apply the change atomically (the previous file is
                                kept as NAME.arcadvise-bak), then print the next
                                steps for this host (initramfs, reboot, check).
        --live                  Also set the value now through
                                /sys/module/zfs/parameters and read c_max back.
        --check                 Exit 0 when the next-boot configuration and the
                                running c_max match the recommendation, 1 when
                                they drift.
        --force                 Write or apply a value the module would ignore,
                                or one the kernel command line overrides.
    -V, --version               Print the version and exit.
    -h, --help                  Print this help and exit.

Examples:
    arcadvise --reserve 20G
    arcadvise --reserve builds=12G --reserve vms=8G --format json
    arcadvise --reserve 60% --root ./snapshot
    arcadvise --reserve 20G --sample 2m

    arcadvise --reserve 20G --diff
    arcadvise --reserve 20G --write --live
    arcadvise --arc-max 8G --check

Exit status: 0 ok, 1 drift found by --check, 2 usage or input error or a
refused write, 3 the reservation leaves no room for a valid cap, 4 the module
ignored a value applied with --live.
`

type options struct {
	reserve  reserveFlag
	hostBase sizeFlag
	root     string
	format   string
	version  bool
	arcMax   sizeFlag
	diff     bool
	write    bool
	live     bool
	check    bool
	force    bool
	sample   time.Duration
	interval time.Duration
	series   bool
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// run is the whole command; main only maps its result to the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fset := pflag.NewFlagSet("arcadvise", pflag.ContinueOnError)
	fset.SetOutput(io.Discard)
	fset.Usage = func() {}
	fset.VarP(&o.reserve, "reserve", "r", "")
	fset.Var(&o.hostBase, "host-base", "")
	fset.StringVar(&o.root, "root", "/", "")
	fset.StringVarP(&o.format, "format", "f", "text", "")
	fset.BoolVarP(&o.version, "version", "V", false, "")
	fset.Var(&o.arcMax, "arc-max", "")
	fset.BoolVar(&o.diff, "diff", false, "")
	fset.BoolVar(&o.write, "write", false, "")
	fset.BoolVar(&o.live, "live", false, "")
	fset.BoolVar(&o.check, "check", false, "")
	fset.BoolVar(&o.force, "force", false, "")
	fset.DurationVarP(&o.sample, "sample", "s", 0, "")
	fset.DurationVar(&o.interval, "interval", time.Second, "")
	fset.BoolVar(&o.series, "series", false, "")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		return reportErr(stderr, usageErr("run 'arcadvise --help' for usage", "%v", err))
	}
	if o.version {
		fmt.Fprintf(stdout, "arcadvise %s\n", version())
		return exitOK
	}
	if fset.NArg() > 0 {
		return reportErr(stderr, usageErr("run 'arcadvise --help' for usage", "unexpected argument %q", fset.Arg(0)))
	}
	if o.format != "text" && o.format != "json" {
		return reportErr(stderr, usageErr("use --format text or --format json", "unknown format %q", o.format))
	}
	if o.check && (o.diff || o.write || o.live) {
		return reportErr(stderr, usageErr("run --check on its own, after --write or --live", "--check does not go with --diff, --write or --live"))
	}
	if o.arcMax.set && len(o.reserve) > 0 {
		return reportErr(stderr, usageErr("--arc-max is your own cap; --reserve asks arcadvise to compute one", "--arc-max and --reserve do not go together"))
	}
	if o.sample < 0 || o.interval <= 0 {
		return reportErr(stderr, usageErr("durations look like 90s, 2m or 1m30s", "--sample must not be negative and --interval must be positive"))
	}
	code, err := advise(ctx, &o, stdout, stderr)
	if err != nil {
		return reportErr(stderr, err)
	}
	return code
}

// advise reads the host, runs the policy and prints the report.
func advise(ctx context.Context, o *options, stdout, stderr io.Writer) (int, error) {
	win, latest, err := window(ctx, o, stderr)
	if err != nil {
		return 0, err
	}
	snap, err := host.Load(latest)
	if err != nil {
		return 0, loadErr(err)
	}
	cfg, err := modprobe.Load(latest)
	if err != nil {
		return 0, inputErr(err, "")
	}
	rec, err := policy.Recommend(policyInput(o, snap, win, cfg))
	if err != nil {
		if errors.Is(err, policy.ErrReserveTooLarge) {
			return 0, inputErr(err, "--reserve declares the workload's memory; it must leave room for the kernel and the ARC")
		}
		return 0, inputErr(err, "")
	}
	pressure := policy.BootPressure(snap.Arc, snap.PSI, snap.HasPSI, snap.CStartsAtMax())
	var boot *policy.Pressure
	if win != nil {
		bootP := pressure
		boot = &bootP
		pressure = policy.WindowPressure(win)
		if f := policy.CheckReservation(win, &rec); f != "" {
			pressure.Findings = append(pressure.Findings, f)
		}
	}
	rep := report.New("arcadvise "+version(), snap, rec, pressure)
	rep.BootPressure = boot
	if win != nil {
		rep.Window = report.NewWindow(win)
		rep.Root = o.root
	}
	rc := configReport(cfg, snap)
	rep.Config = rc
	ok := rec.Status == policy.StatusOK
	var edit *modprobe.Edit
	if ok {
		edit, err = cfg.Plan(latest, changes(&rec))
		switch {
		case err == nil:
			rc.TargetFile, rc.TargetWhy, rc.Changed, rc.Diff = edit.Path, edit.Why, edit.Changed(), edit.Diff()
		case errors.Is(err, modprobe.ErrRefused) && !o.write:
			rc.Warnings = append(rc.Warnings, err.Error())
		default:
			return 0, inputErr(err, "")
		}
		rc.Drift = append(rc.Drift, drift(cfg, snap, &rec)...)
	}
	acting := o.write || o.live
	if acting && latest != o.root {
		return 0, usageErr("--write and --live act on a live host or a snapshot root, not on a recorded window", "%s is a recorded window", o.root)
	}

	var actionErr error
	switch {
	case !ok && (acting || o.diff || o.check):
		// Over-committed: no cap to show, write, apply or check against.
	case o.check:
	case o.diff && !acting:
		if err := refuseIgnored(o, &rec); err != nil {
			return 0, err
		}
	case acting:
		if actionErr = refuseIgnored(o, &rec); actionErr != nil {
			return 0, actionErr
		}
		out := stdout
		if o.format == "json" {
			out = io.Discard
		}
		if o.write {
			if actionErr = write(o, cfg, edit, rc, out); actionErr != nil {
				return 0, actionErr
			}
		}
		if o.live {
			actionErr = live(o, snap, &rec, rc, out)
		}
		if o.write && rc.Wrote != "" {
			steps, err := nextSteps(o, o.root, o.live && actionErr == nil)
			if err != nil {
				return 0, err
			}
			rc.NextSteps = steps
		}
	}

	switch {
	case o.format == "json":
		err = rep.WriteJSON(stdout)
	case !ok:
		err = rep.WriteText(stdout)
	case o.diff && !acting:
		_, err = io.WriteString(stdout, rc.Diff)
	case o.check:
		err = writeCheck(stdout, &rec, rc)
	case acting:
		err = writeActed(stdout, o, rc)
	default:
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return 0, err
	}
	switch {
	case !ok:
		return exitOvercommitted, nil
	case actionErr != nil:
		return 0, actionErr
	case o.check && len(rc.Drift) > 0:
		return exitDrift, nil
	}
	return exitOK, nil
}

// policyInput gathers what the policy looks at: the host's memory and ARC,
// the reservations or the admin's cap, the observed peak of a window, and
// the zfs_arc_min that the configuration sets for next boot.
func policyInput(o *options, snap *host.Snapshot, win *sample.Window, cfg *modprobe.Config) policy.Input {
	in := policy.Input{
		MemTotal:        snap.Mem.MemTotal,
		MemAvailable:    snap.Mem.MemAvailable,
		Hugepages:       snap.Mem.Hugepages,
		HugepagesSource: snap.Mem.HugepagesSource,
		Arc:             snap.Arc,
		Module:          snap.Module,
		HostBase:        o.hostBase.bytes,
		HostBaseSet:     o.hostBase.set,
	}
	for _, r := range o.reserve {
		src := "--reserve " + r.text
		b := r.amount.Resolve(snap.Mem.MemTotal)
		if r.amount.Percent > 0 {
			src += fmt.Sprintf(" (%s%% of MemTotal %s)", fmtPct(r.amount.Percent), size.Format(snap.Mem.MemTotal))
		}
		in.Reservations = append(in.Reservations, policy.Reservation{Label: r.label, Bytes: b, Source: src})
	}
	if win != nil {
		in.ObservedPeak = win.PeakNonARC
		in.ObservedPeakSource = fmt.Sprintf("peak over the sampled window (%s) of MemTotal − MemAvailable − ARC size", win.PeakNonARCAt.UTC().Format(time.RFC3339))
	}
	if s, ok := cfg.Effective(zfsmod.ArcMin); ok {
		if v, err := modprobe.ParseValue(s.Value); err == nil {
			in.BootArcMin = v
		}
	}
	in.BootArcMinSet = true
	in.ArcMax = o.arcMax.bytes
	return in
}

// writeCheck prints the result of --check: one line when all is in place,
// else each drift.
func writeCheck(w io.Writer, rec *policy.Recommendation, rc *report.Config) error {
	if len(rc.Drift) == 0 {
		_, err := fmt.Fprintf(w, "ok: zfs_arc_max=%d is configured for next boot and in effect (c_max)\n", rec.ArcMax)
		return err
	}
	for _, d := range rc.Drift {
		if _, err := fmt.Fprintf(w, "drift: %s\n", d); err != nil {
			return err
		}
	}
	return nil
}

// writeActed prints the diff of a write and the next steps.
func writeActed(w io.Writer, o *options, rc *report.Config) error {
	if o.diff || rc.Wrote != "" {
		if _, err := io.WriteString(w, rc.Diff); err != nil {
			return err
		}
	}
	for i, s := range rc.NextSteps {
		if i == 0 {
			fmt.Fprintln(w, "Next steps:")
		}
		if _, err := fmt.Fprintf(w, "  %d. %s\n", i+1, s); err != nil {
			return err
		}
	}
	return nil
}

func loadErr(err error) error {
	switch {
	case errors.Is(err, arcstats.ErrNotLoaded):
		return inputErr(err, "is the zfs module loaded? (modprobe zfs; with --root, the snapshot needs proc/spl/kstat/zfs/arcstats)")
	case errors.Is(err, fs.ErrPermission):
		return inputErr(err, "run arcadvise as a user that can read /proc and /sys")
	}
	return inputErr(err, "")
}

func fmtPct(p float64) string { return fmt.Sprintf("%g", p) }
