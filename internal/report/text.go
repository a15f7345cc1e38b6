package report

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/arcadvise/arcadvise/internal/advisory"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/pressure"
	"github.com/arcadvise/arcadvise/internal/size"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// TextOptions shape the text report.
type TextOptions struct {
	// Width is the terminal width the report fits in; below 60 (or 0) it
	// is 80.
	Width int
	// Verbose adds what each pressure signal means.
	Verbose bool
}

// TextOptionsFor fits the text to $COLUMNS, else to the terminal w is,
// else to 80 columns.
func TextOptionsFor(w io.Writer, verbose bool) TextOptions {
	width, _ := strconv.Atoi(os.Getenv("COLUMNS"))
	if f, ok := w.(*os.File); ok && width == 0 {
		width, _, _ = term.GetSize(int(f.Fd()))
	}
	return TextOptions{Width: width, Verbose: verbose}
}

// WriteText writes the report for a person: the answer first (the cap,
// the modprobe.d line, the verdict, in the first lines), then the evidence:
// how the cap adds up, the pressure signals, known bugs, the window, the
// memory picture and where each setting comes from.
func (r *Report) WriteText(w io.Writer, opt TextOptions) error {
	width := opt.Width
	if width < 60 {
		width = 80
	}
	bw := bufio.NewWriter(w)
	var tb tables
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	para := func(prefix string, hang int, text string) { paragraph(bw, width, prefix, hang, text) }
	rec := r.Recommendation

	// The answer.
	switch rec.Status {
	case policy.StatusOvercommitted:
		para("", 2, fmt.Sprintf("Over-committed: the host is short by %d bytes (%s) to keep even a %s ARC.",
			rec.ShortBytes, size.Format(rec.ShortBytes), size.Format(policy.MinUsefulArc)))
	default:
		title := "Recommendation"
		if rec.Mode == policy.ModeAdmin {
			title = "Your cap (--arc-max)"
		}
		p("%s: zfs_arc_max = %s (%d)\n", title, size.Format(rec.ArcMax), rec.ArcMax)
		if rec.ArcMin != 0 {
			p("  with zfs_arc_min = %s (%d), see below\n", size.Format(rec.ArcMin), rec.ArcMin)
		}
	}
	for _, v := range rec.Violations {
		para("  refused by the module: ", 4, fmt.Sprintf("%s (%s).", v.Rule, v.Why))
	}
	if line := rec.ModprobeLine; line != "" {
		p("  %s\n", line)
		target := modprobe.DefaultFile
		if r.Config != nil && r.Config.TargetFile != "" {
			target = r.Config.TargetFile
		}
		switch {
		case rec.Forced:
			para("  ", 2, "Forced: the module will ignore this value when it loads, as arcstats will show.")
		case r.Config != nil && r.Config.NixOS != "":
			para("  ", 2, "On NixOS /etc/modprobe.d is generated: put this in configuration.nix instead, then nixos-rebuild boot and reboot:")
			for l := range strings.Lines(r.Config.NixOS) {
				p("    %s\n", strings.TrimRight(l, "\n"))
			}
		case r.Config != nil && !r.Config.Changed:
			para("  ", 2, target+" already sets this: nothing to change.")
		default:
			para("  ", 2, "Put this line in "+target+": --diff shows the change, --write applies it.")
		}
	}
	p("Pressure: %s (%s)\n", r.Pressure.Level, r.Pressure.Basis)
	ver := r.ZFS.Version
	if r.ZFS.VersionRaw != "" && r.ZFS.VersionRaw != ver {
		ver += " (" + r.ZFS.VersionRaw + ")"
	}
	if ver == "unknown" && r.ZFS.Generation != "" {
		ver = "unknown (" + r.ZFS.Generation + " arcstats fields)"
	}
	para("", 2, "OpenZFS "+ver+", root "+r.Root)
	for _, wn := range r.Warnings {
		para("warning: ", 2, wn)
	}

	// How the cap adds up.
	p("\nHow the cap adds up\n")
	rows := [][]string{{"", "MemTotal", strconv.FormatUint(rec.MemTotal, 10), size.Format(rec.MemTotal), "/proc/meminfo MemTotal"}}
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
	if err := tb.table(bw, width, nil, rows, left, left, right, right, wrap); err != nil {
		return err
	}
	if rec.ArcMin != 0 {
		para("  ", 2, fmt.Sprintf("zfs_arc_min = %s (%d): %s.", size.Format(rec.ArcMin), rec.ArcMin, rec.ArcMinReason))
	}
	for _, n := range rec.Notes {
		para("  note: ", 4, n)
	}
	if r.Reservation != nil {
		if err := reservationText(bw, &tb, width, r.Reservation); err != nil {
			return err
		}
	}

	// The evidence.
	if w := r.Window; w != nil {
		p("\nSampled window: %s, %d samples every %s\n  from %s to %s\n",
			time.Duration(w.Seconds*float64(time.Second)).Round(time.Millisecond), w.Ticks,
			time.Duration(w.IntervalSeconds*float64(time.Second)).Round(time.Millisecond),
			w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
	}
	if err := pressureText(bw, &tb, width, opt.Verbose, "Pressure signals", &r.Pressure); err != nil {
		return err
	}
	for _, f := range r.Pressure.Findings {
		para("  finding: ", 4, f)
	}
	if wi := r.WhatIf; wi != nil {
		if err := whatIfText(bw, &tb, width, wi); err != nil {
			return err
		}
	}
	if r.BootPressure != nil {
		if err := pressureText(bw, &tb, width, opt.Verbose, "For context, since boot", r.BootPressure); err != nil {
			return err
		}
	}
	if err := advisoriesText(bw, width, &r.ZFS); err != nil {
		return err
	}

	p("\nMemory\n")
	h, a := r.Host, r.Arc
	rows = [][]string{
		{"MemTotal", size.Format(h.MemTotal), "/proc/meminfo"},
		{"MemAvailable", size.Format(h.MemAvailable), "/proc/meminfo (the ARC is never counted in it)"},
		{"with the ARC", size.Format(h.AvailableWithARC), policy.AvailableFormula + ": what a workload can get, the ARC giving back all but c_min (openzfs/zfs#10255)"},
		{"hugepages", size.Format(h.Hugepages), "/proc/meminfo " + cmp.Or(h.HugepagesSource, "(none reserved)")},
		{"non-ARC in use", size.Format(h.NonARCUsed), host.NonARCFormula},
		{"ARC size", size.Format(a.Size), "arcstats size"},
		{"ARC target c", size.Format(a.C), "arcstats c"},
		{"c_min", size.Format(a.CMin), "arcstats c_min"},
		{"c_max", size.Format(a.CMax), fmt.Sprintf("arcstats c_max (this version's default: %s)", size.Format(a.DefaultCMax))},
	}
	if a.SysFree != nil {
		rows = append(rows, []string{"arc_sys_free", size.Format(*a.SysFree), "arcstats arc_sys_free"})
	}
	if r.Config == nil {
		for _, ap := range zfsmod.ArcParams {
			name := ap.Name
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
	if err := tb.table(bw, width, nil, rows, left, right, wrap); err != nil {
		return err
	}
	if r.Config != nil {
		if err := configText(bw, &tb, width, r.Config); err != nil {
			return err
		}
	}
	if cc := r.CrashCapture; cc != nil {
		verdict := "no, the trace of a kernel panic would be lost"
		if cc.KeepsTrace {
			verdict = "yes"
		}
		p("\n")
		para("", 2, "Crash capture: would the next kernel panic leave a trace? "+verdict)
		rows := [][]string{}
		for _, it := range cc.Items {
			rows = append(rows, []string{it.Name, it.Value})
		}
		if err := tb.table(bw, width, nil, rows, left, wrap); err != nil {
			return err
		}
		for _, it := range cc.Items {
			if it.Fix != "" && !cc.KeepsTrace {
				para("  "+it.Name+": ", 4, it.Fix)
			}
		}
	}
	return bw.Flush()
}

// advisoriesText writes the known bugs of the running release and the
// upgrade answer: the release to go to and the workarounds it relies on,
// the bugs no release fixes, and, for a release newer than the table was
// checked against, that the table cannot speak for it.
func advisoriesText(w *bufio.Writer, width int, z *ZFS) error {
	up := z.Upgrade
	var unfixed []advisory.Finding
	if up != nil {
		unfixed = up.Unfixed
	}
	if len(z.Advisories) == 0 && len(unfixed) == 0 && (up == nil || !up.Beyond) {
		return nil
	}
	para := func(prefix string, hang int, text string) { paragraph(w, width, prefix, hang, text) }
	title := fmt.Sprintf("Known ARC bugs in OpenZFS %s", z.Version)
	switch {
	case up == nil:
	case up.Beyond:
		title += ": this release is newer than " + advisory.LastChecked().String() + ", the newest the table was checked against, so it may fix bugs listed here or carry ones the table does not know"
	case z.UpgradeTo != "":
		title += ": upgrade to " + z.UpgradeTo + ", the lowest release free of every known one that can apply here and that a release fixes"
	default:
		title += ": no upgrade needed, the ones that can apply here are covered by a setting or fixed in no release"
	}
	if up != nil && len(up.Keep) > 0 {
		title += ", as long as " + strings.Join(up.Keep, " and ") + " stays set"
	}
	fmt.Fprintf(w, "\n")
	para("", 2, title)
	listed := map[string]bool{}
	for _, adv := range z.Advisories {
		listed[adv.Issues] = true
		text := fmt.Sprintf("%s (%s; affects %s; fixed in %s)", adv.Summary, adv.Issues, adv.Affected, adv.FixedIn)
		if adv.Condition != "" {
			text += "; only with " + adv.Condition
		}
		switch {
		case adv.Covered:
			text += "; covered here: " + adv.Workaround + " is set"
		case adv.Workaround != "":
			text += "; without an upgrade, set " + adv.Workaround
		}
		para("  - ", 4, text)
	}
	for _, f := range unfixed {
		refs := f.References()
		if listed[refs] {
			para("  ", 2, "No upgrade avoids "+refs+": it is fixed in "+f.FixedIn()+".")
			continue
		}
		text := fmt.Sprintf("%s carries a known bug that %s does not: %s (%s; affects %s); it is fixed in %s, so no upgrade avoids it", up.To, z.Version, f.Summary, refs, f.Range(), f.FixedIn())
		if c := f.Condition; c != "" {
			text += "; only with " + c
		}
		para("  ", 2, text+".")
	}
	return nil
}

// whatIfText writes what the window predicts for caps around the answer.
func whatIfText(w *bufio.Writer, tb *tables, width int, wi *policy.WhatIf) error {
	fmt.Fprintf(w, "\nWhat if: other caps, from what the window saw\n")
	paragraph(w, width, "  ", 2, fmt.Sprintf("Non-ARC memory peaked at %s (%s); the largest cap that would have left %s free at that peak (%s) is %s (%d): predicted C*.",
		size.Format(wi.PeakNonARC), wi.PeakNonARCAt.Format(time.RFC3339), size.Format(wi.FightLine), wi.FightLineSource, size.Format(wi.PredictedCStar), wi.PredictedCStar))
	if wi.PeakAtEnd {
		paragraph(w, width, "  ", 2, "The peak is the window's last reading: the memory outside the ARC may still have been growing when the window ended, so the prediction is an upper bound; sample until the workload holds all its memory, or declare it with --reserve.")
	}
	rows := [][]string{{"cap", "", "at the window's peak"}}
	for _, c := range wi.Caps {
		out := "no stall expected: " + size.Format(uint64(c.Margin)) + " to spare"
		if c.Fights {
			out = "stall expected: the ARC must give back " + size.Format(uint64(-c.Margin))
		}
		rows = append(rows, []string{size.Format(c.Cap), c.Label, out})
	}
	if err := tb.table(w, width, nil, rows, right, left, wrap); err != nil {
		return err
	}
	cost := fmt.Sprintf("%d of %d ARC reads (%.1f a minute) hit the ghost lists: data the ARC had evicted, which a larger ARC would have served from memory.",
		wi.GhostHits, wi.Reads, wi.GhostHitsPerMinute)
	if wi.CLowest > 0 {
		cost += " A cap below " + size.Format(wi.CLowest) + ", the smallest target c in the window, would also evict data the ARC kept all through it."
	}
	paragraph(w, width, "  ", 2, "Cost of a smaller cap: "+cost)
	return nil
}

// pressureText writes a verdict and its signals; with verbose, each
// signal's meaning under its value.
func pressureText(w *bufio.Writer, tb *tables, width int, verbose bool, title string, p *pressure.Pressure) error {
	fmt.Fprintf(w, "\n%s: %s (%s)\n", title, p.Level, p.Basis)
	if len(p.Signals) == 0 {
		return nil
	}
	rows := make([][]string, 0, len(p.Signals))
	for _, s := range p.Signals {
		rows = append(rows, []string{s.Name, s.Level.String(), s.Text})
		if verbose {
			rows = append(rows, []string{"", "", "(" + s.Meaning + ")"})
		}
	}
	return tb.table(w, width, []string{"signal", "level", "value"}, rows, left, left, wrap)
}
