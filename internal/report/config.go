package report

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/apply"
	"github.com/arcadvise/arcadvise/internal/size"
)

// configText renders where each zfs_arc_* setting comes from.
func configText(w *bufio.Writer, tb *tables, c *apply.Result) error {
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
	if err := tb.table(w, []string{"parameter", "next boot", "running (/sys)", "in effect (arcstats)"}, rows); err != nil {
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
