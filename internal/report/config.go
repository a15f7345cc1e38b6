package report

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/size"
)

// Config is where each zfs_arc_* setting comes from: every source in
// modprobe.d and on the kernel command line, the value that will apply at
// next boot, the running parameter and what the module has in effect.
type Config struct {
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

// SourceOf converts a modprobe setting.
func SourceOf(s modprobe.Setting) Source {
	src := Source{Value: s.Value, Where: s.Where(), Origin: s.Source.String()}
	if v, err := modprobe.ParseValue(s.Value); err == nil {
		src.Bytes = &v
	}
	return src
}

func (c *Config) writeText(w *bufio.Writer) error {
	fmt.Fprintf(w, "\nConfiguration\n")
	rows := [][]string{}
	for _, p := range c.Params {
		next := "default (not set)"
		if p.NextBoot != nil {
			next = p.NextBoot.Value + " (" + p.NextBoot.Where + ")"
		}
		run := "-"
		if p.Running != nil {
			run = strconv.FormatUint(*p.Running, 10)
		}
		eff := "-"
		if p.InEffect != nil {
			eff = fmt.Sprintf("%d (%s, %s)", *p.InEffect, size.Format(*p.InEffect), strings.TrimPrefix(p.EffectSrc, "arcstats "))
		}
		rows = append(rows, []string{p.Param, next, run, eff})
	}
	if err := table(w, []string{"parameter", "next boot", "running (/sys)", "in effect (arcstats)"}, rows); err != nil {
		return err
	}
	for _, p := range c.Params {
		if len(p.Sources) > 1 {
			fmt.Fprintf(w, "  %s is set in %d places, the last wins:", p.Param, len(p.Sources))
			for _, s := range p.Sources {
				fmt.Fprintf(w, " %s=%s (%s);", p.Param, s.Value, s.Where)
			}
			fmt.Fprintln(w)
		}
	}
	for _, wn := range c.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", wn)
	}
	return nil
}
