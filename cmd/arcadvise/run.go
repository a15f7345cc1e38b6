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
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/report"
	"github.com/arcadvise/arcadvise/internal/size"
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
    -V, --version               Print the version and exit.
    -h, --help                  Print this help and exit.

Examples:
    arcadvise --reserve 20G
    arcadvise --reserve builds=12G --reserve vms=8G --format json
    arcadvise --reserve 60% --root ./snapshot
    arcadvise --reserve 20G --sample 2m

Exit status: 0 ok, 2 usage or input error, 3 the reservation leaves no room
for a valid cap.
`

type options struct {
	reserve  reserveFlag
	hostBase sizeFlag
	root     string
	format   string
	version  bool
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
	rec, err := policy.Recommend(in)
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
	if o.format == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return 0, err
	}
	if rec.Status == policy.StatusOvercommitted {
		return exitOvercommitted, nil
	}
	return exitOK, nil
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
