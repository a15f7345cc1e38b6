package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/bootsteps"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/report"
	"github.com/arcadvise/arcadvise/internal/size"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// arcParams are the parameters arcadvise reports on, each with the
// arcstats field that shows what the module has in effect.
var arcParams = []struct{ name, field string }{
	{zfsmod.ArcMax, "c_max"},
	{zfsmod.ArcMin, "c_min"},
	{zfsmod.ArcSysFree, "arc_sys_free"},
}

// configReport describes every source of the zfs_arc_* settings beside the
// running and effective values.
func configReport(cfg *modprobe.Config, snap *host.Snapshot) *report.Config {
	rc := &report.Config{Warnings: []string{}, Drift: []string{}, NextSteps: []string{}}
	for _, w := range cfg.Warnings {
		rc.Warnings = append(rc.Warnings, w.String())
	}
	for _, p := range arcParams {
		ps := report.ParamSources{Param: p.name, Sources: []report.Source{}, EffectSrc: "arcstats " + p.field}
		for _, s := range cfg.All(p.name) {
			ps.Sources = append(ps.Sources, report.SourceOf(s))
		}
		if s, ok := cfg.Effective(p.name); ok {
			src := report.SourceOf(s)
			ps.NextBoot = &src
		}
		if v := snap.Module.Param(p.name); v.Present {
			n := v.Value
			ps.Running = &n
		}
		if v, ok := snap.Arc.Uint(p.field); ok {
			ps.InEffect = &v
		}
		// The parameter file shows what was last written, accepted or
		// not; arcstats shows what the module took (our lab: a 16 MiB
		// write left the file at 16777216 and c_max unchanged).
		if ps.Running != nil && *ps.Running != 0 && ps.InEffect != nil && *ps.InEffect != *ps.Running {
			rc.Warnings = append(rc.Warnings, fmt.Sprintf("/%s/%s is %d but arcstats %s is %d: the module ignored that value (the kernel log says \"ignoring tunable\")",
				zfsmod.ParamDir, p.name, *ps.Running, p.field, *ps.InEffect))
		}
		rc.Params = append(rc.Params, ps)
	}
	return rc
}

// changes are the module parameters to set, zfs_arc_min first.
func changes(rec *policy.Recommendation) []modprobe.Change {
	var out []modprobe.Change
	if rec.ArcMin != 0 {
		out = append(out, modprobe.Change{Param: zfsmod.ArcMin, Value: rec.ArcMin})
	}
	return append(out, modprobe.Change{Param: zfsmod.ArcMax, Value: rec.ArcMax})
}

// nextBootValue is the value the effective configuration gives a parameter
// at next boot, and whether one is set at all.
func nextBootValue(cfg *modprobe.Config, param string) (uint64, string, bool) {
	s, ok := cfg.Effective(param)
	if !ok {
		return 0, "", false
	}
	v, err := modprobe.ParseValue(s.Value)
	if err != nil {
		return 0, s.Where(), false
	}
	return v, s.Where(), true
}

// drift lists what differs from the recommendation: the configuration
// that will apply at next boot, and the running c_max (and c_min when
// zfs_arc_min must move).
func drift(cfg *modprobe.Config, snap *host.Snapshot, rec *policy.Recommendation) []string {
	var out []string
	want := []struct {
		param, field string
		v            uint64
	}{{zfsmod.ArcMax, "c_max", rec.ArcMax}}
	if rec.ArcMin != 0 {
		want = append(want, struct {
			param, field string
			v            uint64
		}{zfsmod.ArcMin, "c_min", rec.ArcMin})
	}
	for _, w := range want {
		got, where, ok := nextBootValue(cfg, w.param)
		switch {
		case !ok && where == "":
			out = append(out, fmt.Sprintf("next boot: %s is not set (the module's default applies), want %d", w.param, w.v))
		case !ok:
			out = append(out, fmt.Sprintf("next boot: %s at %s is not a number the kernel reads, want %d", w.param, where, w.v))
		case got != w.v:
			out = append(out, fmt.Sprintf("next boot: %s=%d (%s), want %d", w.param, got, where, w.v))
		}
		if now, ok := snap.Arc.Uint(w.field); ok && now != w.v {
			out = append(out, fmt.Sprintf("running: arcstats %s is %d (%s), want %d (%s)", w.field, now, size.Format(now), w.v, size.Format(w.v)))
		}
	}
	return out
}

// checkCommand is the arcadvise command that checks the result later, with
// the same reservation or cap.
func checkCommand(o *options) string {
	args := []string{"arcadvise", "--check"}
	if o.arcMax.set {
		args = append(args, "--arc-max", fmt.Sprint(o.arcMax.bytes))
	}
	for _, r := range o.reserve {
		args = append(args, "--reserve", r.text)
	}
	if o.hostBase.set {
		args = append(args, "--host-base", fmt.Sprint(o.hostBase.bytes))
	}
	return strings.Join(args, " ")
}

// refuseIgnored refuses a value the module would ignore, unless --force.
func refuseIgnored(o *options, rec *policy.Recommendation) error {
	if len(rec.Violations) == 0 || o.force {
		return nil
	}
	v := rec.Violations[0]
	return &exitError{code: exitUsage,
		err:  fmt.Errorf("refusing zfs_arc_max=%d: the module would ignore it: %s", rec.ArcMax, v.Rule),
		hint: v.Why + "; --force writes it anyway"}
}

// write applies the edit to modprobe.d and fills in the next steps.
func write(o *options, cfg *modprobe.Config, edit *modprobe.Edit, rc *report.Config, stdout io.Writer) error {
	if s, ok := cfg.Effective(zfsmod.ArcMax); ok && s.Source == modprobe.FromCmdline && !o.force {
		return &exitError{code: exitUsage,
			err:  fmt.Errorf("refusing to write: the kernel command line sets %s=%s (%s), which overrides every modprobe.d file", s.Param, s.Value, s.Where()),
			hint: "remove zfs.zfs_arc_max from the boot loader's kernel command line (e.g. GRUB_CMDLINE_LINUX in /etc/default/grub), or --force to write the file anyway"}
	}
	backup, wrote, err := modprobe.Write(edit)
	if err != nil {
		return inputErr(err, writeHint(err))
	}
	if !wrote {
		fmt.Fprintf(stdout, "%s already has the recommended values: nothing written\n", edit.Path)
		return nil
	}
	rc.Wrote, rc.Backup = edit.Path, backup
	if backup != "" {
		fmt.Fprintf(stdout, "wrote %s (the previous content is in %s)\n", edit.Path, backup)
	} else {
		fmt.Fprintf(stdout, "wrote %s (a new file)\n", edit.Path)
	}
	return nil
}

// nextSteps says what to do after a write, for this host.
func nextSteps(o *options, root string, live bool) ([]string, error) {
	st, err := bootsteps.Plan(root)
	if err != nil {
		return nil, inputErr(err, "")
	}
	var out []string
	switch {
	case st.InitramfsNeeded && st.RebuildCommand != "":
		out = append(out, fmt.Sprintf("rebuild the initramfs: %s (%s)", st.RebuildCommand, st.Why))
	case st.InitramfsNeeded:
		out = append(out, fmt.Sprintf("rebuild the initramfs with your distribution's tool (%s)", st.Why))
	}
	reboot := "reboot so the module loads with the new options (" + st.Reboot + ")"
	if live {
		reboot += " (the value is already applied live; the reboot proves it persists)"
	}
	out = append(out, reboot)
	// bootsteps names a bare "arcadvise --check"; ours carries the same
	// reservation or cap as this run.
	verify := slices.DeleteFunc(slices.Clone(st.Verify), func(s string) bool { return strings.HasPrefix(s, "arcadvise") })
	out = append(out, "after the reboot, check: "+strings.Join(append(verify, checkCommand(o)), "; "))
	out = append(out, st.Notes...)
	return out, nil
}

// live applies the parameters through /sys/module/zfs/parameters and reads
// c_max (and c_min) back from arcstats: the write itself always succeeds,
// only arcstats shows whether the module took the value (zfs-internals.md
// §2.3; our lab saw "ignoring tunable" with the parameter file showing the
// new value).
func live(o *options, snap *host.Snapshot, rec *policy.Recommendation, rc *report.Config, stdout io.Writer) error {
	cMax, _ := snap.Arc.Uint("c_max")
	type step struct {
		param, field string
		value        uint64
	}
	var steps []step
	maxStep := step{zfsmod.ArcMax, "c_max", rec.ArcMax}
	if rec.ArcMin != 0 {
		minStep := step{zfsmod.ArcMin, "c_min", rec.ArcMin}
		// zfs_arc_min is taken only while ≤ c_max and zfs_arc_max only
		// while > c_min: lower the floor first when it goes down, raise
		// the ceiling first when the floor goes above today's c_max.
		if rec.ArcMin <= cMax {
			steps = []step{minStep, maxStep}
		} else {
			steps = []step{maxStep, minStep}
		}
	} else {
		steps = []step{maxStep}
	}
	// From 0.8.3 the parameter callback applies the value at once (the
	// second of grace covers a loaded host); 0.6.5
	// and 0.7 pick it up in the reclaim thread within a second, 0.8.0–0.8.2
	// lazily (zfs-internals.md §2.5).
	wait := time.Second
	if v := snap.Module.Version; !v.Known() || !v.AtLeast(zfsmod.V(0, 8, 3)) {
		wait = 2 * time.Second
	}
	var ignored []string
	for _, s := range steps {
		before, _ := snap.Arc.Uint(s.field)
		if err := zfsmod.WriteParam(o.root, s.param, s.value); err != nil {
			return inputErr(err, writeHint(err))
		}
		after, err := readBack(o.root, s.field, s.value, wait)
		if err != nil {
			return loadErr(err)
		}
		a := report.Applied{Param: s.param, Value: s.value, Field: s.field, Before: before, After: after, Accepted: after == s.value}
		rc.Applied = append(rc.Applied, a)
		if a.Accepted {
			fmt.Fprintf(stdout, "live: %s=%d accepted: arcstats %s %d → %d\n", s.param, s.value, s.field, before, after)
		} else {
			fmt.Fprintf(stdout, "live: %s=%d ignored by the module: arcstats %s is still %d\n", s.param, s.value, s.field, after)
			ignored = append(ignored, fmt.Sprintf("%s=%d (%s stayed %d)", s.param, s.value, s.field, after))
		}
	}
	if len(ignored) > 0 {
		why := "check the kernel log for \"ignoring tunable\""
		if len(rec.Violations) > 0 {
			why = rec.Violations[0].Rule + " (" + rec.Violations[0].Why + ")"
		}
		return &exitError{code: exitIgnored,
			err:  fmt.Errorf("the module ignored %s", strings.Join(ignored, ", ")),
			hint: why + "; the write to /sys/module/zfs/parameters succeeds either way"}
	}
	if arcSize, ok := snap.Arc.Uint("size"); ok && arcSize > rec.ArcMax {
		fmt.Fprintf(stdout, "note: nothing is evicted at once: the ARC (%s) shrinks to the new cap as it is used or under memory pressure (OpenZFS 0.8.3 and later; zfs(4) on zfs_arc_max).\n", size.Format(arcSize))
	}
	return nil
}

// readBack polls an arcstats field until it equals want or the wait is
// over, and returns the last value seen.
func readBack(root, field string, want uint64, wait time.Duration) (uint64, error) {
	deadline := time.Now().Add(wait)
	for {
		st, err := arcstats.Read(root)
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

// writeHint is the next step after a failed write.
func writeHint(err error) string {
	if errors.Is(err, fs.ErrPermission) {
		return "writing modprobe.d and /sys/module/zfs/parameters needs root: run it with sudo"
	}
	return ""
}
