package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/arcadvise/arcadvise/internal/apply"
	"github.com/arcadvise/arcadvise/internal/buildinfo"
	"github.com/arcadvise/arcadvise/internal/cli"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/metrics"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/pressure"
	"github.com/arcadvise/arcadvise/internal/report"
	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/sample"
)

// run is the whole command; main only maps its result to the exit code.
// What it prints goes through report.SafeWriter: file names, contents and
// the module's version come from files it does not trust, and reach a
// terminal with their control characters escaped. The progress line alone
// writes to the terminal itself.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out, errw := report.NewSafeWriter(stdout), report.NewSafeWriter(stderr)
	defer out.Flush()
	defer errw.Flush()
	return runSafe(ctx, args, out, errw, stderr)
}

func runSafe(ctx context.Context, args []string, stdout, stderr, tty io.Writer) int {
	o, err := cli.Parse(args)
	switch {
	case err != nil:
		return reportErr(stderr, err)
	case o.Help:
		fmt.Fprint(stdout, o.Usage())
		return exitOK
	case o.Version:
		fmt.Fprintf(stdout, "arcadvise %s\n", buildinfo.String())
		return exitOK
	}
	mode, err := o.Mode()
	if err != nil {
		return reportErr(stderr, err)
	}
	if o.Guard != "" {
		return runGuard(ctx, o, stderr)
	}
	code, err := advise(ctx, o, mode, stdout, tty)
	if err != nil {
		return reportErr(stderr, err)
	}
	return code
}

// advise reads the host (once, or over a window), runs the policy, plans
// what the mode does, carries it out and prints the result. Every read and
// check comes before the first write: the textfile directory is opened and
// checked first, the act comes after the whole plan, and the textfile is
// written last.
func advise(ctx context.Context, o *cli.Options, mode apply.Mode, stdout, tty io.Writer) (code int, err error) {
	if fi, err := os.Stat(o.Root); err != nil || !fi.IsDir() {
		return 0, cli.Usage("--root names a directory laid out like / (proc/, sys/, etc/): a host snapshot, or a recorded window",
			"--root %s: not a directory (%v)", o.Root, cmp.Or(err, errors.New("a file")))
	}
	fsys, err := rootfs.Open(o.Root)
	if err != nil {
		return 0, inputErr(err, "")
	}
	defer fsys.Close()
	mrun := metrics.Run{Version: buildinfo.String(), At: time.Now()}
	if o.Textfile != "" { // written whatever happens, with arcadvise_last_run_success
		tf, terr := metrics.OpenTextfileDir(o.Textfile)
		if terr != nil {
			return 0, inputErr(terr, "--textfile names the directory node_exporter's textfile collector reads (--collector.textfile.directory); it must exist and be writable")
		}
		defer tf.Close()
		defer func() {
			if err != nil {
				mrun.Report = nil
			}
			if terr := tf.Write(metrics.Registry(mrun)); terr != nil && err == nil {
				err = inputErr(terr, "")
			}
		}()
	}
	snap, win, replay, err := readHost(ctx, fsys, o, tty)
	if err != nil {
		return 0, cmp.Or(interruption(ctx, "nothing read, written or applied"), err)
	}
	// A window a signal cut short advises, but never drives a change.
	cut := interruption(ctx, "the advice above covers the window until then; nothing was written or applied")
	if cut != nil && mode.Acts() {
		mode = apply.Advise
	}
	// The initramfs images are read when the answer depends on them:
	// --check, --write and the metrics (a timer's textfile, --format
	// prometheus), before any write, under the root the system was read
	// from. A one-shot report lists them without decompressing them
	// (0.2-4 s an image).
	if mode == apply.Check || mode.Writes() || o.Format == "prometheus" || o.Textfile != "" {
		if err := snap.ReadInitramfs(snap.FS); err != nil { // a replay's: its last snapshot's root
			return 0, cmp.Or(interruption(ctx, "nothing written or applied"), readErr(err, false))
		}
	}
	if replay && mode.Acts() {
		return 0, cli.Usage("--write and --live act on a live host or a snapshot root, not on a recorded window", "%s is a recorded window", o.Root)
	} else if o.Series && win == nil {
		return 0, cli.Usage("--series lists the samples of a window: add --sample DURATION, or give a recorded window as --root", "--series without a window")
	}
	auto, decl, err := readDeclared(snap, o, mode)
	if err != nil {
		return 0, err
	}
	in := policy.Input{Host: snap, Window: win, HostBase: o.HostBase.Bytes, HostBaseSet: o.HostBase.IsSet, ArcMax: o.ArcMax.Bytes,
		Force: o.Force, BootArcMin: apply.BootArcMin(snap.Modprobe), BootArcMinSet: true, Reservations: o.Reserve.Reservations(snap.Mem.MemTotal, auto)}
	rec, err := policy.Recommend(in)
	if err != nil {
		return 0, readErr(err, auto != nil)
	}
	check := apply.CheckCommand(o.Reserve.CheckArgs(rec.Reserve, o.Guests.String()), o.ArcMax, o.HostBase, &rec)
	plan, planErr := apply.NewPlan(apply.Request{Mode: mode, Force: o.Force, CheckCommand: check}, snap, &rec)
	if plan == nil {
		return 0, applyErr(planErr)
	}
	res, actErr := act(ctx, plan)
	if res == nil {
		return 0, applyErr(actErr)
	}
	actErr = cmp.Or(planErr, actErr)
	rin := report.Input{Tool: "arcadvise " + buildinfo.String(), Root: o.Root, Host: snap, Recommendation: rec, Window: win, Config: res,
		CrashCapture: &snap.CrashCapture, Declared: decl}
	rin.Pressure, rin.BootPressure = pressure.Verdict(snap, win)
	if f := rec.ExcessFinding(win); f != "" {
		rin.Pressure.Findings = append(rin.Pressure.Findings, f)
	}
	rep := report.New(rin)
	mrun.Report, mrun.Kernel = rep, snap.Kernel
	if err := render(stdout, o, mode, rep, mrun); err != nil {
		return 0, err
	}
	switch {
	case rec.Status == policy.StatusOvercommitted:
		return exitOvercommitted, nil
	case res.Interrupted == "before":
		return 0, interruption(ctx, "nothing was written or applied")
	case actErr != nil:
		return 0, applyErr(actErr)
	case res.Interrupted == "after":
		return 0, interruption(ctx, "the change had begun, and was completed: see above")
	case cut != nil:
		return 0, cut
	case mode == apply.Check && len(res.Drift) > 0:
		return exitDrift, nil
	}
	return exitOK, nil
}

// acted is set when a run begins to act (write or apply): from then on a
// signal no longer ends the process from main's watchdog, so that the act
// completes, or is undone, and the report says which.
var (
	actMu sync.Mutex
	acted bool
)

// act carries the plan out, after which the signal watchdog stands down.
func act(ctx context.Context, plan *apply.Plan) (*apply.Result, error) {
	actMu.Lock()
	acted = true
	actMu.Unlock()
	res, err := plan.Act(ctx)
	if errors.Is(err, apply.ErrInterrupted) {
		err = nil // res.Interrupted says so
	}
	return res, err
}

// readHost reads the host, or collects a window (--sample, or a recorded
// window as --root), with a progress line when a person is watching.
func readHost(ctx context.Context, fsys *rootfs.FS, o *cli.Options, tty io.Writer) (*host.Snapshot, *pressure.Window, bool, error) {
	opt := sample.Options{Interval: o.Interval, Duration: o.Sample, KeepSeries: o.Series}
	if f, ok := tty.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		cols, _, _ := term.GetSize(int(f.Fd()))
		opt.Progress = func(p sample.Progress) { fmt.Fprintf(tty, "\r\033[K%s", sample.FormatProgress(p, cols-1)) }
		defer fmt.Fprint(tty, "\r\033[K")
	}
	snap, win, replay, err := sample.Take(ctx, fsys, opt)
	if _, ok := errors.AsType[*sample.ReplayError](err); ok {
		return nil, nil, false, inputErr(err, "a replay directory holds an arcadvise-replay manifest and one root per snapshot (docs/replay.md)")
	} else if errors.Is(err, sample.ErrTooFewTicks) {
		return nil, nil, false, inputErr(err, "use a --sample duration of at least one --interval")
	}
	return snap, win, replay, readErr(err, false)
}

// render prints the result in the form the mode and format ask for.
func render(w io.Writer, o *cli.Options, mode apply.Mode, rep *report.Report, mrun metrics.Run) error {
	switch {
	case o.Format == "json":
		return rep.WriteJSON(w)
	case o.Format == "prometheus":
		return metrics.WriteText(w, metrics.Registry(mrun))
	case rep.Recommendation.Status == policy.StatusOvercommitted:
		return rep.WriteText(w, report.TextOptionsFor(w, o.Verbose))
	case mode == apply.Diff:
		_, err := io.WriteString(w, rep.Config.Diff)
		return err
	case mode == apply.Check:
		return rep.WriteCheck(w)
	case mode.Acts():
		return rep.WriteActed(w, mode.Writes())
	}
	return rep.WriteText(w, report.TextOptionsFor(w, o.Verbose))
}
