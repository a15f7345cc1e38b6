// Package cli is arcadvise's command line: the flags, their help, and the
// rules for which go together. cmd/arcadvise runs what it parses.
package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/arcadvise/arcadvise/internal/apply"
	"github.com/arcadvise/arcadvise/internal/declared"
	"github.com/arcadvise/arcadvise/internal/guard"
	"github.com/arcadvise/arcadvise/internal/size"
)

const UsageHead = `Usage:
    arcadvise [--reserve auto [--guests running|boot|all]] [--reserve [LABEL=]SIZE]...
              | --reserve observed | --arc-max SIZE
              [--root DIR] [--format text|json|prometheus] [--textfile DIR]
              [--sample DURATION]
              [--diff | --write [--live] | --live | --check] [--force]
    arcadvise --reserve auto --guard pre-start|post-stop --guest KIND:ID
              [--guest-xml -] [--guard-strict] [--root DIR] [--textfile DIR]

arcadvise reads the ARC's state (/proc/spl/kstat/zfs/arcstats), the memory
picture (/proc/meminfo, /proc/pressure/memory, /proc/vmstat) and the zfs
module (/sys/module/zfs), and recommends a zfs_arc_max that leaves the memory
your workload needs, with every term of the sum and where it came from.

Options:
`

const UsageTail = `
Examples:
    arcadvise --reserve auto
    arcadvise --reserve auto --reserve backups=4G --write
    arcadvise --reserve 20G
    arcadvise --reserve builds=12G --reserve vms=8G --format json
    arcadvise --reserve 60% --root ./snapshot
    arcadvise --reserve 20G --sample 2m
    arcadvise --reserve 20G --diff
    arcadvise --reserve 20G --write --live
    arcadvise --arc-max 8G --check
    arcadvise --reserve 20G --textfile /var/lib/prometheus/node-exporter
    arcadvise --reserve auto --guard pre-start --guest pve-qemu:100

Exit status: 0 ok, 1 drift found by --check, 2 usage or input error or a
refused write, 3 the reservation leaves no room for a valid cap, 4 the module
ignored a value applied with --live, 5 --guard refused a guest's start
(strict mode).
`

// Options are the parsed flags.
type Options struct {
	Reserve Reserves
	// Guests is the --guests rule: which of the host's guests --reserve
	// auto counts.
	Guests   declared.Rule
	guests   string
	HostBase size.Arg
	Root     string
	Format   string
	Textfile string
	ArcMax   size.Arg
	Diff     bool
	Write    bool
	Live     bool
	Check    bool
	Force    bool
	// Guard is --guard: the phase a hook runs arcadvise at ("" without).
	Guard string
	// Guest is --guest KIND:ID, GuestXML --guest-xml ("-": stdin),
	// GuardStrict --guard-strict.
	Guest       string
	GuestXML    string
	GuardStrict bool
	// GuardPhase and GuardGuest are Guard and Guest parsed by Mode.
	GuardPhase guard.Phase
	GuardGuest guard.Guest
	Sample     time.Duration
	Interval   time.Duration
	Series     bool
	Verbose    bool
	Help       bool
	Version    bool
	// IntervalSet: --interval was given (it means nothing without --sample).
	IntervalSet bool
	// GuestsSet: --guests was given (it means nothing without --reserve auto).
	GuestsSet bool

	fset *pflag.FlagSet
}

// UsageError is a command line that does not make sense, with a hint.
type UsageError struct {
	Err  error
	Hint string
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage is a UsageError: the command line (or what it names) does not make
// sense. cmd/arcadvise uses it too, for what only a run can find out.
func Usage(hint string, format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...), Hint: hint}
}

// Parse parses the arguments (without the program name).
func Parse(args []string) (*Options, error) {
	o := &Options{}
	fset := pflag.NewFlagSet("arcadvise", pflag.ContinueOnError)
	fset.SetOutput(io.Discard)
	fset.Usage = func() {}
	fset.SortFlags = false
	fset.VarP(&o.Reserve, "reserve", "r", "memory the workload needs; repeatable, summed, one label once. SIZE is K, M, G, T (binary, as in zfs(8) and free(1), with optional i/iB/B), bytes (1 MiB or more, or with B), or N% of MemTotal. \"--reserve auto\" is what the host declares: its Proxmox VE VMs and containers, libvirt domains and cgroup memory.min, guest by guest, plus any sizes given. Without it the advice takes the non-ARC memory in use now, labelled observed; \"--reserve observed\" takes it on purpose, for --write, --live and --check")
	fset.StringVar(&o.guests, "guests", "boot", "which guests --reserve auto counts, by `RULE`; running: those running now; boot: those running or starting at boot (onboot, autostart); all: every guest; templates never")
	fset.Var(&o.HostBase, "host-base", "memory for the kernel and services, instead of what arcadvise measures")
	fset.StringVar(&o.Root, "root", "/", "read /proc, /sys and /etc under `DIR`: a host snapshot, or a recorded window (docs/replay.md)")
	fset.DurationVarP(&o.Sample, "sample", "s", 0, "watch the host for `DURATION` (e.g. 2m) while the workload runs and advise from what happened then; Ctrl-C ends the window early")
	fset.DurationVar(&o.Interval, "interval", time.Second, "`DURATION` between samples")
	fset.BoolVar(&o.Series, "series", false, "with --format json, include every sample")
	fset.BoolVarP(&o.Verbose, "verbose", "v", false, "say what each pressure signal means")
	fset.StringVarP(&o.Format, "format", "f", "text", "output `FORMAT`: text, json, or prometheus (the metrics of the textfile collector)")
	fset.StringVar(&o.Textfile, "textfile", "", "also write the metrics to `DIR`/arcadvise.prom, atomically, for node_exporter's textfile collector (written even when the run fails, with arcadvise_last_run_success 0)")
	fset.Var(&o.ArcMax, "arc-max", "your own cap instead of the recommendation; it goes through the same checks, --diff, --write, --live and --check")
	fset.BoolVar(&o.Diff, "diff", false, "print the change to modprobe.d as a unified diff; write nothing (a preview: not with --write, --live or --check)")
	fset.BoolVar(&o.Write, "write", false, "apply the change atomically (the previous file is kept as NAME.arcadvise-bak.N), then print the next steps for this host (initramfs, reboot, check)")
	fset.BoolVar(&o.Live, "live", false, "also set the value now through /sys/module/zfs/parameters and read c_max back")
	fset.BoolVar(&o.Check, "check", false, "exit 0 when the next-boot configuration and the running c_max match the recommendation, 1 when they drift")
	fset.BoolVar(&o.Force, "force", false, "write or apply a value the module would ignore, or one the kernel command line overrides")
	fset.StringVar(&o.Guard, "guard", "", "run as a hypervisor's hook at `PHASE` pre-start or post-stop of the guest --guest names: before it starts, lower zfs_arc_max live when the cap in effect leaves it no room; after it stops, raise it back when /etc/default/arcadvise says ARCADVISE_GUARD_RAISE=yes. Needs --reserve auto")
	fset.StringVar(&o.Guest, "guest", "", "the guest the --guard hook runs for, as `KIND:ID`: pve-qemu:VMID, pve-lxc:CTID, pve:VMID (whichever config /etc/pve has) or libvirt:NAME")
	fset.StringVar(&o.GuestXML, "guest-xml", "", "with --guard and a libvirt guest, read its domain XML from `-` (stdin), as libvirt gives it to its hook: a transient domain has no file under /etc/libvirt/qemu")
	fset.BoolVar(&o.GuardStrict, "guard-strict", false, "with --guard pre-start, refuse the start (exit 5) when no cap leaves the guest room, or the guard cannot decide; as ARCADVISE_GUARD_STRICT=yes in /etc/default/arcadvise")
	fset.BoolVarP(&o.Version, "version", "V", false, "print the version and exit")
	fset.BoolVarP(&o.Help, "help", "h", false, "print this help and exit")
	o.fset = fset
	err := fset.Parse(args)
	if err != nil {
		return nil, Usage("run 'arcadvise --help' for usage", "%v", err)
	}
	o.IntervalSet = fset.Changed("interval")
	if o.Guests, err = declared.ParseRule(o.guests); err != nil {
		return nil, Usage("--guests takes running, boot (the default) or all", "%v", err)
	}
	o.GuestsSet = fset.Changed("guests")
	if fset.NArg() > 0 && !o.Help && !o.Version {
		return nil, Usage("run 'arcadvise --help' for usage", "unexpected argument %q", fset.Arg(0))
	}
	return o, nil
}

// Usage is the --help text.
func (o *Options) Usage() string {
	// pflag marks every boolean "[=true|false]"; they are plain switches here.
	return UsageHead + strings.ReplaceAll(o.fset.FlagUsagesWrapped(80), "[=true|false]", "             ") + UsageTail
}

// Mode checks the flags that go together and resolves what the run does.
func (o *Options) Mode() (apply.Mode, error) {
	switch {
	case o.Format != "text" && o.Format != "json" && o.Format != "prometheus":
		return 0, Usage("use --format text, json or prometheus", "unknown format %q", o.Format)
	case o.Textfile != "" && o.Diff:
		return 0, Usage("--diff is a preview and writes nothing; refresh the textfile from a plain run (or --check, --write)", "--textfile does not go with --diff")
	case o.Format == "prometheus" && (o.Diff || o.Check):
		return 0, Usage("the metrics already carry arcadvise_drift; run --diff or --check with --format text or json", "--format prometheus does not go with --diff or --check")
	case o.Diff && (o.Write || o.Live || o.Check):
		return 0, Usage("--diff previews and writes nothing; run it first, then --write or --live", "--diff does not go with --write, --live or --check")
	case o.Check && (o.Write || o.Live):
		return 0, Usage("run --check on its own, after --write or --live", "--check does not go with --write or --live")
	case (o.Write || o.Live || o.Check) && len(o.Reserve) == 0 && !o.ArcMax.IsSet:
		return 0, Usage("declare the workload's memory with --reserve auto (what the host declares: its guests) or --reserve SIZE, or give your own cap with --arc-max SIZE; --reserve observed takes what is in use now, on purpose",
			"--write, --live and --check need a declared workload (--reserve) or a cap (--arc-max)")
	case o.ArcMax.IsSet && o.ArcMax.Bytes == 0:
		return 0, Usage("0 leaves the module's default; give the cap you want, e.g. --arc-max 8G", "--arc-max 0 is not a cap")
	case o.ArcMax.IsSet && len(o.Reserve) > 0:
		return 0, Usage("--arc-max is your own cap; --reserve asks arcadvise to compute one", "--arc-max and --reserve do not go together")
	case o.Sample < 0 || o.Interval <= 0:
		return 0, Usage("durations look like 90s, 2m or 1m30s", "--sample must not be negative and --interval must be positive")
	case o.GuestsSet && !o.Reserve.Auto():
		return 0, Usage("add --reserve auto: --guests says which of the host's guests it counts", "--guests goes with --reserve auto")
	case o.IntervalSet && o.Sample == 0:
		return 0, Usage("--interval paces --sample; a recorded window keeps its own times", "--interval goes with --sample")
	case o.Series && o.Format != "json":
		return 0, Usage("add --format json", "--series is part of the JSON document")
	}
	if o.Guard != "" || o.Guest != "" || o.GuestXML != "" || o.GuardStrict {
		return o.guardMode()
	}
	switch {
	case o.Write && o.Live:
		return apply.WriteLive, nil
	case o.Write:
		return apply.Write, nil
	case o.Live:
		return apply.Live, nil
	case o.Check:
		return apply.Check, nil
	case o.Diff:
		return apply.Diff, nil
	}
	return apply.Advise, nil
}

// guardMode checks the flags of --guard: the phase, the guest, --reserve
// auto, and nothing that reports, samples or acts otherwise. The guard acts
// itself (a live value, through the same apply path as --live); Mode
// returns Advise for it, and the command runs it apart.
func (o *Options) guardMode() (apply.Mode, error) {
	const hint = "a hook runs: arcadvise --reserve auto [--reserve SIZE]... --guard pre-start|post-stop --guest KIND:ID [--guest-xml -] [--guard-strict]"
	var err error
	switch {
	case o.Guard == "":
		return 0, Usage(hint, "--guest, --guest-xml and --guard-strict go with --guard")
	case o.Guest == "":
		return 0, Usage(hint, "--guard needs --guest KIND:ID")
	case !o.Reserve.Auto():
		return 0, Usage("the guard counts the guest among what the host declares: add --reserve auto (sizes may be given beside it)", "--guard needs --reserve auto")
	case o.Diff || o.Write || o.Live || o.Check || o.ArcMax.IsSet || o.Sample != 0 || o.Series || o.Format != "text":
		return 0, Usage(hint, "--guard does not go with --diff, --write, --live, --check, --arc-max, --sample, --series or --format")
	case o.GuestXML != "" && o.GuestXML != "-":
		return 0, Usage("libvirt gives its hook the domain XML on stdin: --guest-xml -", "--guest-xml takes - (stdin), not %q", o.GuestXML)
	}
	if o.GuardPhase, err = guard.ParsePhase(o.Guard); err != nil {
		return 0, Usage(hint, "%v", err)
	}
	if o.GuardGuest, err = guard.ParseGuest(o.Guest); err != nil {
		return 0, Usage(hint, "%v", err)
	}
	switch {
	case o.GuestXML != "" && o.GuardGuest.Kind != declared.Libvirt:
		return 0, Usage(hint, "--guest-xml is a libvirt domain's XML; --guest %s is not a libvirt guest", o.Guest)
	case o.GuardStrict && o.GuardPhase != guard.PreStart:
		return 0, Usage("strict mode refuses a start; at post-stop there is nothing to refuse", "--guard-strict goes with --guard pre-start")
	}
	return apply.Advise, nil
}
