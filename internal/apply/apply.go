// Package apply puts a recommendation in place: it describes where each
// zfs_arc_* setting comes from, plans the modprobe.d edit, finds the drift
// from the recommendation, writes the file, applies the values live through
// /sys/module/zfs/parameters in the order the module accepts them and reads
// c_max back, and says what to do next. Run returns a Result value; the
// command renders it and maps errors to exit codes.
package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/arcadvise/arcadvise/internal/container"
	"github.com/arcadvise/arcadvise/internal/rootfs"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/bootsteps"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/size"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// Mode is what a run does beyond advising.
type Mode int

const (
	Advise    Mode = iota // describe and plan only
	Diff                  // describe and plan; the caller prints the diff
	Check                 // describe and find the drift
	Write                 // write modprobe.d
	Live                  // set the values through /sys now
	WriteLive             // both
)

// A preview (Diff) is refused wherever the write it previews would be,
// the same way: configuration management's check mode runs it and must
// see what the real run will do.

// Writes reports whether the mode writes modprobe.d.
func (m Mode) Writes() bool { return m == Write || m == WriteLive }

// Lives reports whether the mode writes /sys/module/zfs/parameters.
func (m Mode) Lives() bool { return m == Live || m == WriteLive }

// Acts reports whether the mode changes anything on the host.
func (m Mode) Acts() bool { return m.Writes() || m.Lives() }

// Request is one run.
type Request struct {
	Mode  Mode
	Force bool // write or apply a value the module would ignore, or one the command line overrides
	// CheckCommand is the arcadvise command that checks the result after
	// the reboot, with this run's reservation or cap.
	CheckCommand string
}

// Result describes every source of the zfs_arc_* settings beside the
// running and effective values, the planned edit, the drift, and what was
// done. It is the "config" object of the JSON document.
type Result struct {
	Params     []ParamSources `json:"params"`
	Warnings   []string       `json:"warnings"`
	TargetFile string         `json:"target_file"`
	TargetWhy  string         `json:"target_why,omitempty"`
	Changed    bool           `json:"change_needed"`
	Diff       string         `json:"diff"`
	Drift      []string       `json:"drift"`
	NextSteps  []string       `json:"next_steps"`
	Applied    []Applied      `json:"applied,omitempty"`
	Wrote      string         `json:"wrote,omitempty"`
	Backup     string         `json:"backup,omitempty"`
	// Notes are remarks on what was done, such as the ARC shrinking to a
	// new cap only as it is used.
	Notes []string `json:"notes,omitempty"`
	// NixOS is, on NixOS, the configuration.nix setting to use instead of
	// a modprobe.d file.
	NixOS string `json:"nixos,omitempty"`
	// InitramfsCommand is the command that rebuilds this host's initramfs
	// after a write that needs it ("" otherwise), for configuration
	// management to run (the Ansible role's handler).
	InitramfsCommand string `json:"initramfs_command,omitempty"`
	// Initramfs are the host's initramfs images: what each holds, whether
	// zfs loads from it, whether it is stale (stick.go).
	Initramfs []InitramfsImage `json:"initramfs"`
	// NextCmdline are the next boot's kernel command line sources and the
	// zfs settings of each.
	NextCmdline []NextCmdline `json:"next_cmdline"`
	// Before and After are the target file's content now and as planned
	// (or written), for a configuration manager's diff (report.Report's
	// diff); equal when nothing changes.
	Before, After string `json:"-"`
	// Interrupted says what a signal that came during the act left:
	// "" (none came), "before" (nothing was written or applied) or
	// "after" (the act had begun and was carried to its end, or undone).
	Interrupted string `json:"interrupted,omitempty"`
}

// ParamSources is one parameter's sources and values.
type ParamSources struct {
	Param     string   `json:"param"`
	Sources   []Source `json:"sources"`
	NextBoot  *Source  `json:"next_boot"` // the winner; null: the module's default
	Running   *uint64  `json:"running"`   // /sys/module/zfs/parameters
	InEffect  *uint64  `json:"in_effect"` // arcstats c_max, c_min, arc_sys_free
	EffectSrc string   `json:"in_effect_source"`
}

// Source is one place that sets a parameter.
type Source struct {
	Value  string  `json:"value"`
	Bytes  *uint64 `json:"bytes"` // null when the kernel could not read the value
	Where  string  `json:"where"`
	Origin string  `json:"origin"` // "file" or "cmdline"
}

// Applied is one parameter written live and what the module did with it.
type Applied struct {
	Param    string `json:"param"`
	Value    uint64 `json:"value"`
	Field    string `json:"arcstats_field"`
	Before   uint64 `json:"before"`
	After    uint64 `json:"after"`
	Accepted bool   `json:"accepted"`
}

// ignoredValue refuses the recommendation's cap, which the module would
// ignore.
func ignoredValue(rec *policy.Recommendation) *Refusal {
	v := rec.Violations[0]
	return refused(&IgnoredValueError{ArcMax: rec.ArcMax, Violation: v}, v.Why+"; --force writes it anyway")
}

// IgnoredValueError refuses a cap the module would ignore (without Force).
type IgnoredValueError struct {
	ArcMax    uint64
	Violation policy.Violation
}

func (e *IgnoredValueError) Error() string {
	return fmt.Sprintf("refusing zfs_arc_max=%d: the module would ignore it: %s", e.ArcMax, e.Violation.Rule)
}

// UnsupportedError refuses to write or apply a cap for a release older
// than the model covers.
type UnsupportedError struct{ Version string }

func (e *UnsupportedError) Error() string {
	return "refusing to write or apply: OpenZFS " + e.Version + " is older than the releases arcadvise models (0.6.5 and later)"
}

// ContainerError refuses to write or apply from inside a container: the
// ARC and /sys/module/zfs are the host kernel's, the modprobe.d file would
// be the container's.
type ContainerError struct{ Where container.Where }

func (e *ContainerError) Error() string {
	return "refusing to write or apply inside a container (" + e.Where.Kind + ", from " + e.Where.Evidence + ")"
}

// NixOSError refuses to preview or write /etc/modprobe.d on NixOS, where
// the system configuration generates it.
type NixOSError struct{ Line string }

func (e *NixOSError) Error() string {
	return "refusing to write /etc/modprobe.d on NixOS: it is generated from the system configuration"
}

// NixOSSnippet is the configuration.nix setting that gives the module the
// options of an "options zfs ..." line at boot (boot.extraModprobeConfig,
// nixpkgs nixos/modules/system/boot/modprobe.nix).
func NixOSSnippet(modprobeLine string) string {
	return "boot.extraModprobeConfig = ''\n  " + modprobeLine + "\n'';"
}

// CmdlineError refuses a write that the kernel command line overrides
// (without Force): this boot's (/proc/cmdline) or the next boot's (a file
// that sets it: /etc/default/grub, /etc/kernel/cmdline, a boot loader
// entry). Fix says how to take it off.
type CmdlineError struct {
	Setting modprobe.Setting
	Fix     string
}

func (e *CmdlineError) Error() string {
	s := e.Setting
	return fmt.Sprintf("refusing to write: the kernel command line sets %s=%s (%s), which overrides every modprobe.d file", s.Param, s.Value, s.Where())
}

// ModuleIgnoredError reports values written live that the module did not
// take: arcstats still shows the old value. Violation is the module's rule
// the cap breaks, when the policy knows one (a forced value).
type ModuleIgnoredError struct {
	Ignored   []Applied
	Violation *policy.Violation
}

func (e *ModuleIgnoredError) Error() string {
	parts := make([]string, len(e.Ignored))
	for i, a := range e.Ignored {
		parts[i] = fmt.Sprintf("%s=%d (%s stayed %d)", a.Param, a.Value, a.Field, a.After)
	}
	return "the module ignored " + strings.Join(parts, ", ")
}

// Plan is everything a run will do, worked out before the first byte is
// written: the description of the configuration, the modprobe.d edit and
// the live steps, each checked.
type Plan struct {
	req    Request
	snap   *host.Snapshot
	rec    *policy.Recommendation
	res    *Result
	edit   *modprobe.Edit
	boot   bootsteps.Steps
	arcMax target
	arcMin *target
}

// Result is what the plan describes before it is carried out.
func (p *Plan) Result() *Result { return p.res }

// NewPlan describes the configuration and plans what req asks for: every
// read and check of an act is here, and nothing is written. With a nil
// Plan nothing may be done; a Plan with an error (a cap the module would
// ignore, in advice mode) still describes the configuration.
func NewPlan(req Request, snap *host.Snapshot, rec *policy.Recommendation) (*Plan, error) {
	cfg := snap.Modprobe
	p := &Plan{req: req, snap: snap, rec: rec, res: describe(cfg, snap)}
	p.arcMax, p.arcMin = targets(rec)
	res := p.res
	switch {
	case rec.Status == policy.StatusOvercommitted:
		p.req.Mode = Advise // no cap to plan, write or check
		return p, nil
	case rec.Status == policy.StatusRefused && !req.Force && req.Mode == Advise:
		// The report shows the refusal, then the error.
		return p, ignoredValue(rec)
	case rec.Status == policy.StatusRefused && !req.Force:
		return nil, ignoredValue(rec)
	case rec.Unsupported && (req.Mode == Diff || req.Mode.Acts()):
		return nil, refused(&UnsupportedError{Version: snap.Module.Version.String()}, "upgrade OpenZFS; the advice is shown for reference")
	case snap.Container.In() && (req.Mode == Diff || req.Mode.Acts()):
		return nil, refused(&ContainerError{Where: snap.Container}, "run arcadvise on the host: the ARC and /sys/module/zfs belong to the host's kernel")
	}
	nixos := bootsteps.IsNixOS(snap.FS, snap.Distro)
	if line := rec.ModprobeLine(); nixos && line != "" {
		res.NixOS = NixOSSnippet(line)
		if req.Mode == Diff || req.Mode.Writes() {
			return nil, refused(&NixOSError{Line: line}, "put boot.extraModprobeConfig = ''"+line+"''; in configuration.nix, then run nixos-rebuild boot and reboot")
		}
	}
	edit, err := cfg.Plan(changes(rec))
	if err == nil && (req.Mode == Diff || req.Mode.Writes()) {
		err = edit.Validate()
	}
	if err == nil && (req.Mode == Diff || req.Mode.Writes()) && edit.Changed() {
		err = edit.Writable()
	}
	switch {
	case err == nil:
		p.edit = edit
		res.TargetFile, res.TargetWhy, res.Changed, res.Diff = edit.Path, edit.Why, edit.Changed(), edit.Diff()
		res.Before, res.After = string(edit.Old), string(edit.New)
	case errors.Is(err, modprobe.ErrRefused) && (req.Mode == Advise || req.Mode == Check):
		res.Warnings = append(res.Warnings, err.Error())
	default:
		// --diff reports what --write would refuse, the same way.
		return nil, writeRefusal(err)
	}
	res.Drift = drift(cfg, snap, rec)
	if req.Mode == Diff || req.Mode.Writes() {
		if s, ok := cfg.Effective(zfsmod.ArcMax); ok && s.Source == modprobe.FromCmdline && !req.Force {
			return nil, refused(&CmdlineError{Setting: s, Fix: cmdlineFix(snap, s)}, cmdlineFix(snap, s)+"; or --force to write the file anyway")
		}
	}
	if (req.Mode.Writes() && edit.Changed()) || len(snap.Initramfs) > 0 {
		// The images read give evidence of their own (what in them loads
		// zfs); the boot steps' reasons then say, for the images not
		// read, whether zfs loads from the initramfs.
		res.Initramfs = listImages(snap, "", false)
		ev := bootsteps.Evidence{DracutZFS: snap.DracutZFS, Images: imageEvidence(snap, res.Initramfs)}
		if p.boot, err = bootsteps.Plan(snap.FS, snap.Distro, snap.Mounts, ev); err != nil {
			return nil, err
		}
		res.Initramfs = listImages(snap, strings.Join(p.boot.Reasons, "; "), p.boot.InitramfsNeeded)
		res.Drift = append(res.Drift, staleness(res, snap, fileValues(cfg), p.boot.RebuildCommand)...)
	}
	if req.Mode.Lives() {
		for _, t := range p.liveSteps() {
			if v := snap.Module.Param(t.param); !v.Present {
				return nil, fmt.Errorf("%s: %w (is the zfs module loaded?)", snap.FS.Path(zfsmod.ParamDir+"/"+t.param), syscall.ENOENT)
			}
		}
	}
	return p, nil
}

// ErrInterrupted is returned by Act when the run was interrupted before
// its first write: nothing was written or applied.
var ErrInterrupted = errors.New("interrupted before the first write")

// Act carries the plan out: the modprobe.d write, then the live values.
// ctx is checked at the door, just before the first byte is written: a run
// cancelled before then writes nothing (ErrInterrupted); once the first
// write has happened the act is carried to its end (or, for a live value
// that fails, undone) whatever ctx says, and Result.Interrupted records a
// signal that came meanwhile.
func (p *Plan) Act(ctx context.Context) (*Result, error) {
	req, res := p.req, p.res
	if !req.Mode.Acts() {
		return res, nil
	}
	started := false
	gate := func() error {
		if started {
			return nil
		}
		if ctx.Err() != nil {
			return ErrInterrupted
		}
		started = true
		return nil
	}
	defer func() {
		switch {
		case ctx.Err() == nil:
		case started:
			res.Interrupted = "after"
		default:
			res.Interrupted = "before"
		}
	}()
	if req.Mode.Writes() && p.edit != nil {
		backup, wrote, err := modprobe.Write(p.edit, gate)
		if errors.Is(err, ErrInterrupted) {
			return res, err
		}
		if err != nil {
			return nil, writeRefusal(err) // nothing was written: Write undoes what it began
		}
		if wrote {
			res.Wrote, res.Backup = p.edit.Path, backup
		}
	}
	var liveErr error
	if req.Mode.Lives() {
		liveErr = p.live(gate)
	}
	if res.Wrote != "" {
		// The images were read before the write: they hold the old file.
		staleness(res, p.snap, writtenValues(fileValues(p.snap.Modprobe), p.rec, p.edit.Path), p.boot.RebuildCommand)
		res.NextSteps = nextSteps(req, p.boot, req.Mode.Lives() && liveErr == nil, stickNotes(p.snap, res, p.boot))
		if p.boot.InitramfsNeeded {
			res.InitramfsCommand = p.boot.RebuildCommand
		}
	}
	return res, liveErr
}

// BootArcMin is the zfs_arc_min the configuration gives the module at next
// boot: 0 when it is not set there (or is not a number the kernel reads).
func BootArcMin(cfg *modprobe.Config) uint64 {
	s, _ := cfg.Effective(zfsmod.ArcMin)
	v, _ := modprobe.ParseValue(s.Value)
	return v
}

// describe lists every source of the zfs_arc_* settings beside the running
// and effective values.
func describe(cfg *modprobe.Config, snap *host.Snapshot) *Result {
	res := &Result{Warnings: []string{}, Drift: []string{}, NextSteps: []string{}, Initramfs: []InitramfsImage{}, NextCmdline: nextCmdlines(snap)}
	for _, w := range cfg.Warnings {
		res.Warnings = append(res.Warnings, w.String())
	}
	for _, p := range zfsmod.ArcParams {
		ps := ParamSources{Param: p.Name, Sources: []Source{}, EffectSrc: "arcstats " + p.Field}
		for _, s := range cfg.All(p.Name) {
			ps.Sources = append(ps.Sources, sourceOf(s))
		}
		if s, ok := cfg.Effective(p.Name); ok {
			src := sourceOf(s)
			ps.NextBoot = &src
		}
		if v := snap.Module.Param(p.Name); v.Present {
			n := v.Value
			ps.Running = &n
		}
		if v, ok := snap.Arc.Uint(p.Field); ok {
			ps.InEffect = &v
		}
		// The parameter file shows what was last written, accepted or
		// not; arcstats shows what the module took (our lab: a 16 MiB
		// write left the file at 16777216 and c_max unchanged).
		if ps.Running != nil && *ps.Running != 0 && ps.InEffect != nil && *ps.InEffect != *ps.Running {
			res.Warnings = append(res.Warnings, fmt.Sprintf("/%s/%s is %d but arcstats %s is %d: the module ignored that value (the kernel log says \"ignoring tunable\")",
				zfsmod.ParamDir, p.Name, *ps.Running, p.Field, *ps.InEffect))
		}
		res.Params = append(res.Params, ps)
	}
	return res
}

func sourceOf(s modprobe.Setting) Source {
	src := Source{Value: s.Value, Where: s.Where(), Origin: s.Source.String()}
	if v, err := modprobe.ParseValue(s.Value); err == nil {
		src.Bytes = &v
	}
	return src
}

// changes are the module parameters to set, zfs_arc_min first.
func changes(rec *policy.Recommendation) []modprobe.Change {
	var out []modprobe.Change
	if rec.ArcMin != 0 {
		out = append(out, modprobe.Change{Param: zfsmod.ArcMin, Value: rec.ArcMin})
	}
	return append(out, modprobe.Change{Param: zfsmod.ArcMax, Value: rec.ArcMax})
}

// target is one parameter the recommendation sets, with the arcstats field
// that shows it in effect.
type target struct {
	param, field string
	value        uint64
}

// targets are the parameters to check and apply: zfs_arc_max, and
// zfs_arc_min when it must move.
func targets(rec *policy.Recommendation) (arcMax target, arcMin *target) {
	arcMax = target{zfsmod.ArcMax, "c_max", rec.ArcMax}
	if rec.ArcMin != 0 {
		arcMin = &target{zfsmod.ArcMin, "c_min", rec.ArcMin}
	}
	return arcMax, arcMin
}

// drift lists what differs from the recommendation: the configuration
// that will apply at next boot, and the running c_max (and c_min when
// zfs_arc_min must move).
func drift(cfg *modprobe.Config, snap *host.Snapshot, rec *policy.Recommendation) []string {
	out := []string{}
	arcMax, arcMin := targets(rec)
	want := []target{arcMax}
	if arcMin != nil {
		want = append(want, *arcMin)
	}
	for _, w := range want {
		s, set := cfg.Effective(w.param)
		got, perr := modprobe.ParseValue(s.Value)
		switch {
		case !set:
			out = append(out, fmt.Sprintf("next boot: %s is not set (the module's default applies), want %d", w.param, w.value))
		case perr != nil:
			out = append(out, fmt.Sprintf("next boot: %s at %s is not a number the kernel reads, want %d", w.param, s.Where(), w.value))
		case got != w.value:
			out = append(out, fmt.Sprintf("next boot: %s=%d (%s), want %d", w.param, got, s.Where(), w.value))
		}
		if now, ok := snap.Arc.Uint(w.field); ok && now != w.value {
			out = append(out, fmt.Sprintf("running: arcstats %s is %d (%s), want %d (%s)", w.field, now, size.Format(now), w.value, size.Format(w.value)))
		}
	}
	return out
}

// CheckCommand is the arcadvise command that checks a write later: the
// same cap, or the same workload (workload: the flags that declare it
// again, as cli.Reserves.CheckArgs gives them: the number observed for
// --reserve observed, --reserve auto with its --guests rule, so that the
// host's declarations are counted again and a guest added since shows as
// drift), with the host terms pinned with --host-base.
func CheckCommand(workload []string, arcMax, hostBase size.Arg, rec *policy.Recommendation) string {
	cmd := "arcadvise --check"
	if arcMax.IsSet {
		cmd += fmt.Sprintf(" --arc-max %d", arcMax.Bytes)
	}
	if len(workload) > 0 {
		cmd += " " + strings.Join(workload, " ")
	}
	// The host terms as they were when the cap was computed: measured
	// again after the reboot (an empty ARC, no workload) they would give
	// another cap, and the check would test that instead of what was
	// written.
	if len(workload) > 0 && !hostBase.IsSet {
		hostBase = size.Arg{Bytes: rec.HostBase, IsSet: true}
	}
	if hostBase.IsSet {
		cmd += fmt.Sprintf(" --host-base %d", hostBase.Bytes)
	}
	return cmd
}

// nextSteps says what to do after a write, for this host (st: planned
// before the write; stick: what the boot's other copies need, stickNotes).
func nextSteps(req Request, st bootsteps.Steps, live bool, stick []string) []string {
	var out []string
	switch {
	case st.InitramfsNeeded && st.RebuildCommand != "":
		out = append(out, fmt.Sprintf("rebuild the initramfs: %s (%s)", st.RebuildCommand, st.Why))
	case st.InitramfsNeeded:
		out = append(out, fmt.Sprintf("rebuild the initramfs with your distribution's tool (%s)", st.Why))
	}
	out = append(out, st.Notes...) // about the initramfs and the distribution: before the reboot
	out = append(out, stick...)
	reboot := "reboot so the module loads with the new options (" + st.Reboot + ")"
	if live {
		reboot += " (the value is already applied live; the reboot proves it persists)"
	}
	out = append(out, reboot)
	// bootsteps names a bare "arcadvise --check"; ours carries the same
	// reservation or cap as this run.
	verify := slices.DeleteFunc(slices.Clone(st.Verify), func(s string) bool { return strings.HasPrefix(s, "arcadvise") })
	out = append(out, "after the reboot, check: "+strings.Join(append(verify, req.CheckCommand), "; "))
	return out
}

// liveSteps are the parameters to write live, in the order the module
// accepts them: zfs_arc_min is taken only while ≤ c_max and zfs_arc_max
// only while > c_min, so the floor goes first when it goes down, the
// ceiling first when the floor goes above today's c_max.
func (p *Plan) liveSteps() []target {
	if p.arcMin == nil {
		return []target{p.arcMax}
	}
	if cMax, _ := p.snap.Arc.Uint("c_max"); p.arcMin.value <= cMax {
		return []target{*p.arcMin, p.arcMax}
	}
	return []target{p.arcMax, *p.arcMin}
}

// live applies the parameters through /sys/module/zfs/parameters and reads
// c_max (and c_min) back from arcstats: the write itself always succeeds,
// only arcstats shows whether the module took the value (zfs-internals.md
// §2.3; our lab saw "ignoring tunable" with the parameter file showing the
// new value). A write or a read-back that fails after the first write puts
// back what this run changed.
func (p *Plan) live(gate func() error) error {
	snap, rec, res := p.snap, p.rec, p.res
	// From 0.8.3 the parameter callback applies the value at once (the
	// second of grace covers a loaded host); 0.6.5 and 0.7 pick it up in
	// the reclaim thread within a second, 0.8.0–0.8.2 lazily
	// (zfs-internals.md §2.5).
	wait := time.Second
	if v := snap.Module.Version; !v.Known() || !v.AtLeast(zfsmod.V(0, 8, 3)) {
		wait = 2 * time.Second
	}
	var ignored []Applied
	var written []target
	for _, s := range p.liveSteps() {
		before, _ := snap.Arc.Uint(s.field)
		if err := gate(); err != nil {
			return err
		}
		if err := writeParam(snap.FS, s.param, s.value); err != nil {
			return errors.Join(err, p.undo(written, wait))
		}
		written = append(written, s)
		after, err := readBack(snap.FS, s.field, s.value, wait)
		if err != nil {
			return errors.Join(err, p.undo(written, wait))
		}
		a := Applied{Param: s.param, Value: s.value, Field: s.field, Before: before, After: after, Accepted: after == s.value}
		res.Applied = append(res.Applied, a)
		if !a.Accepted {
			ignored = append(ignored, a)
		}
	}
	if len(ignored) > 0 {
		e := &ModuleIgnoredError{Ignored: ignored}
		why := "check the kernel log for \"ignoring tunable\""
		if len(rec.Violations) > 0 {
			e.Violation = &rec.Violations[0]
			why = e.Violation.Rule + " (" + e.Violation.Why + ")"
		}
		return &Refusal{Err: e, Hint: why + "; the write to /sys/module/zfs/parameters succeeds either way", Code: CodeIgnored}
	}
	if arcSize := snap.ArcSize(); arcSize > rec.ArcMax {
		res.Notes = append(res.Notes, fmt.Sprintf("nothing is evicted at once: the ARC (%s) shrinks to the new cap as it is used or under memory pressure (OpenZFS 0.8.3 and later; zfs(4) on zfs_arc_max).", size.Format(arcSize)))
	}
	return nil
}

// undo puts back, last first, the parameters this run wrote, each to the
// value the module had in effect before (arcstats c_max, c_min), not to
// what the parameter file said: on an untuned host that is 0, which the
// module takes as "keep the current value" (arc_tuning_update), so writing
// it back would leave the new value in effect.
func (p *Plan) undo(written []target, wait time.Duration) error {
	var errs []error
	for i := len(written) - 1; i >= 0; i-- {
		t := written[i]
		old, ok := p.snap.Arc.Uint(t.field)
		if !ok {
			errs = append(errs, fmt.Errorf("cannot put %s back: arcstats had no %s", t.param, t.field))
			continue
		}
		if err := writeParam(p.snap.FS, t.param, old); err != nil {
			errs = append(errs, fmt.Errorf("putting %s back to %d: %w", t.param, old, err))
			continue
		}
		if got, err := readBack(p.snap.FS, t.field, old, wait); err != nil || got != old {
			errs = append(errs, fmt.Errorf("putting %s back to %d: arcstats %s is %d (%v)", t.param, old, t.field, got, err))
			continue
		}
		p.res.Notes = append(p.res.Notes, fmt.Sprintf("%s was put back to %d, the %s in effect before this run, because a later step failed", t.param, old, t.field))
	}
	return errors.Join(errs...)
}

// writeParam writes a module parameter; a test replaces it to make a write
// fail.
var writeParam = zfsmod.WriteParam

// readBack reads a field back after a write; a test replaces it.
var readBack = readArcstats

// readArcstats polls an arcstats field until it equals want or the wait
// is over, and returns the last value seen.
func readArcstats(fsys *rootfs.FS, field string, want uint64, wait time.Duration) (uint64, error) {
	deadline := time.Now().Add(wait)
	for {
		st, err := arcstats.Read(fsys)
		if err != nil {
			return 0, err
		}
		v, _ := st.Uint(field)
		if v == want || time.Now().After(deadline) {
			return v, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}
