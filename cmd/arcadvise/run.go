package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/arcadvise/arcadvise/internal/apply"
	"github.com/arcadvise/arcadvise/internal/buildinfo"
	"github.com/arcadvise/arcadvise/internal/crashcap"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/report"
	"github.com/arcadvise/arcadvise/internal/sample"
	"github.com/arcadvise/arcadvise/internal/size"
)

const usageHead = `Usage:
    arcadvise [--reserve [LABEL=]SIZE]... | --reserve observed | --arc-max SIZE
              [--root DIR] [--format text|json] [--sample DURATION]
              [--diff | --write [--live] | --live | --check] [--force]

arcadvise reads the ARC's state (/proc/spl/kstat/zfs/arcstats), the memory
picture (/proc/meminfo, /proc/pressure/memory, /proc/vmstat) and the zfs
module (/sys/module/zfs), and recommends a zfs_arc_max that leaves the memory
your workload needs, with every term of the sum and where it came from.

Options:
`

const usageTail = `
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
	reserve  policy.Reserves
	hostBase size.Arg
	root     string
	format   string
	arcMax   size.Arg
	diff     bool
	write    bool
	live     bool
	check    bool
	force    bool
	sample   time.Duration
	interval time.Duration
	series   bool
	verbose  bool
	// intervalSet: --interval was given (it means nothing without --sample).
	intervalSet bool
}

// run is the whole command; main only maps its result to the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fset := pflag.NewFlagSet("arcadvise", pflag.ContinueOnError)
	fset.SetOutput(io.Discard)
	fset.Usage = func() {}
	fset.SortFlags = false
	fset.VarP(&o.reserve, "reserve", "r", "memory the workload needs; repeatable, summed, one label once. SIZE is K, M, G, T (binary, as in zfs(8) and free(1), with optional i/iB/B), bytes (1 MiB or more, or with B), or N% of MemTotal. Without it the advice takes the non-ARC memory in use now, labelled observed; \"--reserve observed\" takes it on purpose, for --write, --live and --check")
	fset.Var(&o.hostBase, "host-base", "memory for the kernel and services (default 1 GiB + MemTotal/32)")
	fset.StringVar(&o.root, "root", "/", "read /proc, /sys and /etc under `DIR`: a host snapshot, or a recorded window (docs/replay.md)")
	fset.DurationVarP(&o.sample, "sample", "s", 0, "watch the host for `DURATION` (e.g. 2m) while the workload runs and advise from what happened then; Ctrl-C ends the window early")
	fset.DurationVar(&o.interval, "interval", time.Second, "`DURATION` between samples")
	fset.BoolVar(&o.series, "series", false, "with --format json, include every sample")
	fset.BoolVarP(&o.verbose, "verbose", "v", false, "say what each pressure signal means")
	fset.StringVarP(&o.format, "format", "f", "text", "output `FORMAT`: text or json")
	fset.Var(&o.arcMax, "arc-max", "your own cap instead of the recommendation; it goes through the same checks, --diff, --write, --live and --check")
	fset.BoolVar(&o.diff, "diff", false, "print the change to modprobe.d as a unified diff; write nothing (a preview: not with --write, --live or --check)")
	fset.BoolVar(&o.write, "write", false, "apply the change atomically (the previous file is kept as NAME.arcadvise-bak.N), then print the next steps for this host (initramfs, reboot, check)")
	fset.BoolVar(&o.live, "live", false, "also set the value now through /sys/module/zfs/parameters and read c_max back")
	fset.BoolVar(&o.check, "check", false, "exit 0 when the next-boot configuration and the running c_max match the recommendation, 1 when they drift")
	fset.BoolVar(&o.force, "force", false, "write or apply a value the module would ignore, or one the kernel command line overrides")
	ver := fset.BoolP("version", "V", false, "print the version and exit")
	help := fset.BoolP("help", "h", false, "print this help and exit")
	if err := fset.Parse(args); err != nil {
		return reportErr(stderr, usageErr("run 'arcadvise --help' for usage", "%v", err))
	}
	if *help {
		// pflag marks every boolean "[=true|false]"; they are plain switches here.
		fmt.Fprint(stdout, usageHead+strings.ReplaceAll(fset.FlagUsagesWrapped(80), "[=true|false]", "             ")+usageTail)
		return exitOK
	}
	if *ver {
		fmt.Fprintf(stdout, "arcadvise %s\n", buildinfo.String())
		return exitOK
	}
	o.intervalSet = fset.Changed("interval")
	if fset.NArg() > 0 {
		return reportErr(stderr, usageErr("run 'arcadvise --help' for usage", "unexpected argument %q", fset.Arg(0)))
	}
	mode, err := o.mode()
	if err != nil {
		return reportErr(stderr, err)
	}
	code, err := advise(ctx, &o, mode, stdout, stderr)
	if err != nil {
		return reportErr(stderr, err)
	}
	return code
}

// mode checks the flags that go together and resolves what the run does.
func (o *options) mode() (apply.Mode, error) {
	switch {
	case o.format != "text" && o.format != "json":
		return 0, usageErr("use --format text or --format json", "unknown format %q", o.format)
	case o.diff && (o.write || o.live || o.check):
		return 0, usageErr("--diff previews and writes nothing; run it first, then --write or --live", "--diff does not go with --write, --live or --check")
	case o.check && (o.write || o.live):
		return 0, usageErr("run --check on its own, after --write or --live", "--check does not go with --write or --live")
	case (o.write || o.live || o.check) && len(o.reserve) == 0 && !o.arcMax.IsSet:
		return 0, usageErr("declare the workload's memory with --reserve SIZE, or give your own cap with --arc-max SIZE; --reserve observed takes what is in use now, on purpose",
			"--write, --live and --check need a declared workload (--reserve) or a cap (--arc-max)")
	case o.arcMax.IsSet && o.arcMax.Bytes == 0:
		return 0, usageErr("0 leaves the module's default; give the cap you want, e.g. --arc-max 8G", "--arc-max 0 is not a cap")
	case o.arcMax.IsSet && len(o.reserve) > 0:
		return 0, usageErr("--arc-max is your own cap; --reserve asks arcadvise to compute one", "--arc-max and --reserve do not go together")
	case o.sample < 0 || o.interval <= 0:
		return 0, usageErr("durations look like 90s, 2m or 1m30s", "--sample must not be negative and --interval must be positive")
	case o.intervalSet && o.sample == 0:
		return 0, usageErr("--interval paces --sample; a recorded window keeps its own times", "--interval goes with --sample")
	case o.series && o.format != "json":
		return 0, usageErr("add --format json", "--series is part of the JSON document")
	}
	switch {
	case o.write && o.live:
		return apply.WriteLive, nil
	case o.write:
		return apply.Write, nil
	case o.live:
		return apply.Live, nil
	case o.check:
		return apply.Check, nil
	case o.diff:
		return apply.Diff, nil
	}
	return apply.Advise, nil
}

// advise reads the host (once, or over a window), runs the policy, carries
// out the mode and prints the result.
func advise(ctx context.Context, o *options, mode apply.Mode, stdout, stderr io.Writer) (int, error) {
	snap, win, replay, err := readHost(ctx, o, stderr)
	if err != nil {
		return 0, cmp.Or(interruption(ctx, "nothing read, written or applied"), err)
	}
	// A window a signal cut short advises, but never drives a change.
	cut := interruption(ctx, "the advice above covers the window until then; nothing was written or applied")
	if cut != nil && mode.Acts() {
		mode = apply.Advise
	}
	if replay && mode.Acts() {
		return 0, usageErr("--write and --live act on a live host or a snapshot root, not on a recorded window", "%s is a recorded window", o.root)
	} else if o.series && win == nil {
		return 0, usageErr("--series lists the samples of a window: add --sample DURATION, or give a recorded window as --root", "--series without a window")
	}
	cfg, err := modprobe.Load(snap.Root)
	if err != nil {
		return 0, inputErr(err, "")
	}
	in := policy.Input{Host: snap, Window: win, HostBase: o.hostBase.Bytes, HostBaseSet: o.hostBase.IsSet, ArcMax: o.arcMax.Bytes,
		Force: o.force, BootArcMin: apply.BootArcMin(cfg), BootArcMinSet: true, Reservations: o.reserve.Reservations(snap.Mem.MemTotal)}
	rec, err := policy.Recommend(in)
	if err != nil {
		return 0, readErr(err)
	}
	res, actErr := apply.Run(apply.Request{Mode: mode, Force: o.force, Root: snap.Root, CheckCommand: apply.CheckCommand(o.reserve, o.arcMax, o.hostBase, &rec)}, snap, cfg, &rec)
	if res == nil {
		return 0, applyErr(actErr)
	}
	cc, err := crashcap.Read(snap.Root, cfg.Cmdline)
	if err != nil {
		return 0, inputErr(err, "")
	}
	rin := report.Input{Tool: "arcadvise " + buildinfo.String(), Root: o.root, Host: snap, Recommendation: rec, Window: win, Config: res, CrashCapture: &cc}
	rin.Pressure, rin.BootPressure = policy.Verdict(snap, win, &rec)
	if err := render(stdout, o, mode, report.New(rin)); err != nil {
		return 0, err
	}
	switch {
	case rec.Status == policy.StatusOvercommitted:
		return exitOvercommitted, nil
	case actErr != nil:
		return 0, applyErr(actErr)
	case cut != nil:
		return 0, cut
	case mode == apply.Check && len(res.Drift) > 0:
		return exitDrift, nil
	}
	return exitOK, nil
}

// readHost reads the host, or collects a window (--sample, or a recorded
// window as --root), with a progress line when a person is watching.
func readHost(ctx context.Context, o *options, stderr io.Writer) (*host.Snapshot, *policy.Window, bool, error) {
	if fi, err := os.Stat(o.root); err != nil || !fi.IsDir() {
		return nil, nil, false, usageErr("--root names a directory laid out like / (proc/, sys/, etc/): a host snapshot, or a recorded window",
			"--root %s: not a directory (%v)", o.root, cmp.Or(err, errors.New("a file")))
	}
	opt := sample.Options{Interval: o.interval, Duration: o.sample, KeepSeries: o.series}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		cols, _, _ := term.GetSize(int(f.Fd()))
		opt.Progress = func(p sample.Progress) { fmt.Fprintf(stderr, "\r\033[K%s", sample.FormatProgress(p, cols-1)) }
		defer fmt.Fprint(stderr, "\r\033[K")
	}
	snap, win, replay, err := sample.Take(ctx, o.root, opt)
	if _, ok := errors.AsType[*sample.ReplayError](err); ok {
		return nil, nil, false, inputErr(err, "a replay directory holds an arcadvise-replay manifest and one root per snapshot (docs/replay.md)")
	} else if errors.Is(err, sample.ErrTooFewTicks) {
		return nil, nil, false, inputErr(err, "use a --sample duration of at least one --interval")
	}
	return snap, win, replay, readErr(err)
}

// render prints the result in the form the mode and format ask for.
func render(w io.Writer, o *options, mode apply.Mode, rep *report.Report) error {
	switch {
	case o.format == "json":
		return rep.WriteJSON(w)
	case rep.Recommendation.Status == policy.StatusOvercommitted:
		return rep.WriteText(w, report.TextOptionsFor(w, o.verbose))
	case mode == apply.Diff:
		_, err := io.WriteString(w, rep.Config.Diff)
		return err
	case mode == apply.Check:
		return rep.WriteCheck(w)
	case mode.Acts():
		return rep.WriteActed(w, mode.Writes(), o.diff)
	}
	return rep.WriteText(w, report.TextOptionsFor(w, o.verbose))
}
