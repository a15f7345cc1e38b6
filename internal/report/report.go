// Package report renders arcadvise's findings: readable tables for a person
// and a stable JSON document for scripts (schema in README.md).
package report

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/arcadvise/arcadvise/internal/advisory"
	"github.com/arcadvise/arcadvise/internal/crashcap"
	"github.com/arcadvise/arcadvise/internal/pressure"

	"github.com/arcadvise/arcadvise/internal/apply"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// SchemaVersion changes only when a field is removed or changes meaning.
const SchemaVersion = 2

// Report is the JSON document; the text output shows the same facts.
type Report struct {
	SchemaVersion int               `json:"schema_version"`
	Tool          string            `json:"tool"`
	Root          string            `json:"root"`
	Host          Host              `json:"host"`
	ZFS           ZFS               `json:"zfs"`
	Arc           Arc               `json:"arc"`
	Pressure      pressure.Pressure `json:"pressure"`
	// BootPressure is the verdict from the counters since boot when a
	// sampled window gave the main verdict; nil otherwise.
	BootPressure *pressure.Pressure `json:"boot_pressure,omitempty"`
	Window       *Window            `json:"window,omitempty"`
	// WhatIf predicts other caps from a sampled window; nil without one.
	WhatIf         *policy.WhatIf `json:"whatif,omitempty"`
	Recommendation Recommendation `json:"recommendation"`
	// Reservation is what --reserve auto counted, guest by guest; nil
	// without --reserve auto.
	Reservation *Reservation  `json:"reservation,omitempty"`
	Config      *apply.Result `json:"config,omitempty"`
	// CrashCapture says whether the host would keep the trace of its next
	// kernel panic.
	CrashCapture *crashcap.Report `json:"crash_capture,omitempty"`
	Warnings     []string         `json:"warnings"`
	// Changed, Drift and Diff are what configuration management reads, in
	// the shape Ansible modules return: the file changes (or would, in a
	// preview), the host differs from the recommendation, and the file
	// before and after.
	Changed bool         `json:"changed"`
	Drift   bool         `json:"drift"`
	Diff    *AnsibleDiff `json:"diff,omitempty"`
}

// AnsibleDiff is a file before and after, as an Ansible module's diff.
type AnsibleDiff struct {
	Before       string `json:"before"`
	After        string `json:"after"`
	BeforeHeader string `json:"before_header"`
	AfterHeader  string `json:"after_header"`
}

// Input is what a report is made of.
type Input struct {
	Tool           string // "arcadvise VERSION"
	Root           string // --root as given
	Host           *host.Snapshot
	Recommendation policy.Recommendation
	// Pressure is the main verdict: from the window when there is one,
	// else from the counters since boot (then BootPressure is nil).
	Pressure     pressure.Pressure
	BootPressure *pressure.Pressure
	Window       *pressure.Window
	Config       *apply.Result
	CrashCapture *crashcap.Report
	// Declared is what --reserve auto read and counted; nil without it.
	Declared *Declared
}

// Host is the memory picture, in bytes.
type Host struct {
	MemTotal        uint64 `json:"mem_total_bytes"`
	MemFree         uint64 `json:"mem_free_bytes"`
	MemAvailable    uint64 `json:"mem_available_bytes"`
	InactiveFile    uint64 `json:"inactive_file_bytes"`
	SUnreclaim      uint64 `json:"sunreclaim_bytes"`
	Hugepages       uint64 `json:"hugepages_bytes"`
	HugepagesSource string `json:"hugepages_source,omitempty"`
	NonARCUsed      uint64 `json:"non_arc_used_bytes"`
	// AvailableWithARC is MemAvailable plus the ARC above c_min: the
	// memory a workload can get (policy.AvailableWithARC).
	AvailableWithARC uint64 `json:"available_with_arc_bytes"`
	HasPSI           bool   `json:"psi_available"`
}

// ZFS is the module: version, parameters, known bugs.
type ZFS struct {
	Version    string             `json:"version"`
	VersionRaw string             `json:"version_raw,omitempty"`
	Generation string             `json:"arcstats_generation,omitempty"`
	Params     map[string]*uint64 `json:"params"`
	Advisories []Advisory         `json:"advisories"`
	// UpgradeTo is the lowest release free of every known bug that can
	// apply to this host and that a release fixes, counting a workaround
	// already set here as a fix ("" when the running one is, or none is
	// known).
	UpgradeTo string `json:"upgrade_to"`
	// Upgrade is the whole answer for the text: the workarounds the
	// target relies on and the bugs no release fixes.
	Upgrade *advisory.Upgrade `json:"-"`
}

// Advisory is a known ARC bug of the running version that can apply to
// this host.
type Advisory struct {
	Affected   string `json:"affected"`
	Summary    string `json:"summary"`
	Issues     string `json:"issues"`
	FixedIn    string `json:"fixed_in"`
	Condition  string `json:"condition,omitempty"`
	Workaround string `json:"workaround,omitempty"`
	// Covered: the workaround is set on this host.
	Covered bool `json:"covered"`
}

// Arc is the ARC's size and limits from arcstats.
type Arc struct {
	Size            uint64  `json:"size_bytes"`
	C               uint64  `json:"c_bytes"`
	CMin            uint64  `json:"c_min_bytes"`
	CMax            uint64  `json:"c_max_bytes"`
	SysFree         *uint64 `json:"arc_sys_free_bytes"`
	MemoryAvailable *int64  `json:"memory_available_bytes"`
	DefaultCMax     uint64  `json:"default_c_max_bytes"`
	UptimeSeconds   float64 `json:"module_uptime_seconds"`
}

// Recommendation is the policy's answer plus the modprobe.d line.
type Recommendation struct {
	policy.Recommendation
	ModprobeLine string `json:"modprobe_line"`
}

// New assembles the report.
func New(in Input) *Report {
	snap, rec := in.Host, in.Recommendation
	r := &Report{SchemaVersion: SchemaVersion, Tool: in.Tool, Root: in.Root, Pressure: in.Pressure,
		BootPressure: in.BootPressure, Config: in.Config, CrashCapture: in.CrashCapture, Warnings: snap.Warnings}
	if d := in.Declared; d != nil {
		r.Reservation = newReservation(d)
		if len(d.Guests) == 0 {
			r.Warnings = append(append([]string(nil), r.Warnings...), NothingDeclared(d.Typed))
		}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	if c := in.Config; c != nil {
		r.Changed = c.Changed || c.Wrote != ""
		r.Drift = len(c.Drift) > 0
		if c.TargetFile != "" {
			r.Diff = &AnsibleDiff{Before: c.Before, After: c.After, BeforeHeader: c.TargetFile, AfterHeader: c.TargetFile}
		}
	}
	if in.Window != nil {
		r.Window = newWindow(in.Window)
		r.WhatIf = policy.NewWhatIf(in.Window, snap, &rec)
	}
	m := snap.Mem
	arcSize := snap.ArcSize()
	r.Host = Host{
		MemTotal: m.MemTotal, MemFree: m.MemFree, MemAvailable: m.MemAvailable,
		InactiveFile: m.InactiveFile, SUnreclaim: m.SUnreclaim,
		Hugepages: m.Hugepages, HugepagesSource: m.HugepagesSource,
		NonARCUsed:       snap.NonARCUsed(),
		AvailableWithARC: policy.AvailableWithARC(snap),
		HasPSI:           snap.HasPSI,
	}
	v := snap.Module.Version
	r.ZFS = ZFS{Version: v.String(), VersionRaw: v.Raw, Generation: snap.Arc.Generation(),
		Params: map[string]*uint64{}, Advisories: []Advisory{}}
	for _, ap := range zfsmod.ArcParams {
		if p := snap.Module.Param(ap.Name); p.Present {
			val := p.Value
			r.ZFS.Params[ap.Name] = &val
		} else {
			r.ZFS.Params[ap.Name] = nil
		}
	}
	facts := advisory.FactsOf(snap)
	for _, a := range advisory.AdvisoriesFor(v, facts) {
		r.ZFS.Advisories = append(r.ZFS.Advisories, Advisory{Affected: a.Range(), Summary: a.Summary, Issues: a.References(),
			FixedIn: a.FixedIn(), Condition: findingCondition(a), Workaround: a.Workaround, Covered: a.Covered})
	}
	if up, ok := advisory.UpgradeFor(v, facts); ok {
		r.ZFS.Upgrade = &up
		if up.To.Compare(v) > 0 {
			r.ZFS.UpgradeTo = up.To.String()
		}
	}
	r.Arc.Size = arcSize
	r.Arc.C, _ = snap.Arc.Uint("c")
	r.Arc.CMin, _ = snap.Arc.Uint("c_min")
	r.Arc.CMax, _ = snap.Arc.Uint("c_max")
	if n, ok := snap.Arc.Uint("arc_sys_free"); ok {
		r.Arc.SysFree = &n
	}
	if n, ok := snap.Arc.Int("memory_available_bytes"); ok {
		r.Arc.MemoryAvailable = &n
	}
	r.Arc.DefaultCMax = rec.DefaultCMax
	if h := snap.Arc.Header; h.SnapTime > h.CrTime {
		r.Arc.UptimeSeconds = float64(h.SnapTime-h.CrTime) / 1e9
	}
	r.Recommendation = Recommendation{Recommendation: rec, ModprobeLine: rec.ModprobeLine()}
	if r.Recommendation.Reservations == nil {
		r.Recommendation.Reservations = []policy.Reservation{}
	}
	return r
}

// findingCondition is the condition in words, with what arcadvise could
// not check on this host.
func findingCondition(f advisory.Finding) string {
	c := f.Condition
	if len(f.Unchecked) > 0 {
		c += " (not checked here: " + strings.Join(f.Unchecked, "; ") + ")"
	}
	return c
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
