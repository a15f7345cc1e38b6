package report

import (
	"bufio"
	"fmt"
	"strconv"

	"github.com/arcadvise/arcadvise/internal/apply"
)

// configText renders where each zfs_arc_* setting comes from.
func configText(w *bufio.Writer, tb *tables, width int, c *apply.Result) error {
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
			eff = strconv.FormatUint(*p.InEffect, 10)
		}
		rows = append(rows, []string{p.Param, eff, run, next})
	}
	if err := tb.table(w, width, []string{"parameter", "arcstats", "/sys", "next boot"}, rows, left, right, right, wrap); err != nil {
		return err
	}
	for _, p := range c.Params {
		if len(p.Sources) > 1 {
			text := fmt.Sprintf("%s is set in %d places, the last wins:", p.Param, len(p.Sources))
			for _, s := range p.Sources {
				text += fmt.Sprintf(" %s=%s (%s);", p.Param, s.Value, s.Where)
			}
			paragraph(w, width, "  ", 4, text)
		}
	}
	for _, wn := range c.Warnings {
		paragraph(w, width, "  warning: ", 4, wn)
	}
	return nil
}
