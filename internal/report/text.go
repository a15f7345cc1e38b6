package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/size"
)

// WriteText writes the report for a person: the memory picture, the
// pressure verdict with its signals, known bugs, the arithmetic of the cap
// and the line to install.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	var tb tables
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	ver := r.ZFS.Version
	if r.ZFS.VersionRaw != "" && r.ZFS.VersionRaw != ver {
		ver += " (" + r.ZFS.VersionRaw + ")"
	}
	if ver == "unknown" && r.ZFS.Generation != "" {
		ver = "unknown (" + r.ZFS.Generation + " arcstats fields)"
	}
	p("OpenZFS %s, root %s\n", ver, r.Root)
	for _, wn := range r.Warnings {
		p("warning: %s\n", wn)
	}

	p("\nMemory\n")
	h, a := r.Host, r.Arc
	rows := [][]string{
		{"MemTotal", size.Format(h.MemTotal), "/proc/meminfo"},
		{"MemAvailable", size.Format(h.MemAvailable), "/proc/meminfo (the ARC is never counted in it)"},
		{"hugepages", size.Format(h.Hugepages), "/proc/meminfo " + dash(h.HugepagesSource)},
		{"non-ARC in use", size.Format(h.NonARCUsed), "MemTotal − MemAvailable − ARC size − hugepages"},
		{"ARC size", size.Format(a.Size), "arcstats size"},
		{"ARC target c", size.Format(a.C), "arcstats c"},
		{"c_min", size.Format(a.CMin), "arcstats c_min"},
		{"c_max", size.Format(a.CMax), fmt.Sprintf("arcstats c_max (this version's default: %s)", size.Format(a.DefaultCMax))},
	}
	if a.SysFree != nil {
		rows = append(rows, []string{"arc_sys_free", size.Format(*a.SysFree), "arcstats arc_sys_free"})
	}
	if r.Config == nil {
		for _, name := range []string{"zfs_arc_max", "zfs_arc_min", "zfs_arc_sys_free"} {
			v := r.ZFS.Params[name]
			s := "(not found)"
			if v != nil {
				s = strconv.FormatUint(*v, 10)
				if *v == 0 {
					s = "0 (default)"
				}
			}
			rows = append(rows, []string{name, s, "/sys/module/zfs/parameters"})
		}
	}
	if err := tb.table(bw, nil, rows, false, true); err != nil {
		return err
	}

	if w := r.Window; w != nil {
		p("\nSampled window: %s from %s to %s, %d samples every %s\n",
			time.Duration(w.Seconds*float64(time.Second)).Round(time.Millisecond), w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339),
			w.Ticks, time.Duration(w.IntervalSeconds*float64(time.Second)).Round(time.Millisecond))
	}
	if err := pressureText(bw, &tb, "Pressure", &r.Pressure); err != nil {
		return err
	}
	for _, f := range r.Pressure.Findings {
		p("  finding: %s\n", f)
	}
	if r.BootPressure != nil {
		if err := pressureText(bw, &tb, "For context, since boot", r.BootPressure); err != nil {
			return err
		}
	}

	if len(r.ZFS.Advisories) > 0 {
		p("\nKnown ARC bugs in OpenZFS %s: upgrade to at least %s\n", r.ZFS.Version, r.ZFS.Advisories[len(r.ZFS.Advisories)-1].FixedIn)
		for _, adv := range r.ZFS.Advisories {
			p("  - %s (%s; affects %s, fixed in %s)\n", adv.Summary, adv.Issues, adv.Affected, adv.FixedIn)
		}
	}

	rec := r.Recommendation
	if r.Config != nil {
		if err := configText(bw, &tb, r.Config); err != nil {
			return err
		}
	}
	p("\n")
	switch rec.Status {
	case policy.StatusOvercommitted:
		p("Verdict: over-committed. The host is short by %d bytes (%s) to keep even a %s ARC.\n",
			rec.ShortBytes, size.Format(rec.ShortBytes), size.Format(policy.MinUsefulArc))
	default:
		title := "Recommendation"
		if rec.Mode == policy.ModeAdmin {
			title = "Your cap (--arc-max)"
		}
		p("%s: zfs_arc_max = %s (%d)\n", title, size.Format(rec.ArcMax), rec.ArcMax)
	}
	rows = [][]string{{"", "MemTotal", strconv.FormatUint(rec.MemTotal, 10), size.Format(rec.MemTotal), "/proc/meminfo MemTotal"}}
	for _, t := range rec.Terms {
		op := "−"
		if t.Name == "zfs_arc_max" {
			op = "="
		}
		rows = append(rows, []string{op, t.Name, strconv.FormatInt(t.Bytes, 10), size.FormatSigned(t.Bytes), t.Source})
	}
	if rec.Status == policy.StatusOvercommitted {
		rows = append(rows, []string{"=", "left for the ARC", strconv.FormatInt(rec.Budget, 10), size.FormatSigned(rec.Budget), "below the " + size.Format(policy.MinUsefulArc) + " floor"})
	}
	if err := tb.table(bw, nil, rows, false, false, true, true); err != nil {
		return err
	}
	if rec.ArcMin != 0 {
		p("\nzfs_arc_min = %s (%d): %s.\n", size.Format(rec.ArcMin), rec.ArcMin, rec.ArcMinReason)
	}
	for _, v := range rec.Violations {
		p("\nrefused by the module: %s (%s)\n", v.Rule, v.Why)
	}
	for _, n := range rec.Notes {
		p("\nnote: %s\n", n)
	}
	if rec.Status == policy.StatusOK && len(rec.Violations) == 0 {
		target := "/etc/modprobe.d/zfs.conf"
		if r.Config != nil && r.Config.TargetFile != "" {
			target = r.Config.TargetFile
		}
		switch {
		case r.Config != nil && !r.Config.Changed:
			p("\n%s already sets this; nothing to change:\n  %s\n", target, rec.ModprobeLine)
		default:
			p("\nPut this line in %s (--diff shows the change, --write applies it):\n  %s\n", target, rec.ModprobeLine)
		}
	}
	return bw.Flush()
}

func pressureText(w *bufio.Writer, tb *tables, title string, p *policy.Pressure) error {
	fmt.Fprintf(w, "\n%s: %s (%s)\n", title, p.Level, p.Basis)
	if len(p.Signals) == 0 {
		return nil
	}
	rows := make([][]string, 0, len(p.Signals))
	for _, s := range p.Signals {
		rows = append(rows, []string{s.Name, s.Value, s.Level.String(), s.Meaning})
	}
	return tb.table(w, []string{"signal", "value", "level", "meaning"}, rows)
}

func dash(s string) string {
	if s == "" {
		return "(none reserved)"
	}
	return s
}
