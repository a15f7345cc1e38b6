package report

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

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
	for _, n := range c.NextCmdline {
		if len(n.Settings) > 0 {
			paragraph(w, width, "  next boot's command line: ", 4, fmt.Sprintf("%s (%s) passes %s, which override modprobe.d", n.Path, n.Kind, strings.Join(n.Settings, " ")))
		}
	}
	for _, im := range c.Initramfs {
		paragraph(w, width, "  initramfs: ", 4, imageLine(im))
	}
	for _, wn := range c.Warnings {
		paragraph(w, width, "  warning: ", 4, wn)
	}
	return nil
}

// imageLine is one initramfs image in a sentence: which it is, what it
// holds, whether it is stale and whether zfs loads from it.
func imageLine(im apply.InitramfsImage) string {
	var which []string
	if im.RunningKernel {
		which = append(which, "running kernel")
	}
	if im.NewestKernel && !im.RunningKernel {
		which = append(which, "newest kernel")
	}
	which = append(which, "built "+im.Built.Format("2006-01-02 15:04"))
	if len(im.Compression) > 0 {
		which = append(which, strings.Join(im.Compression, "+"))
	}
	text := im.Path + " (" + strings.Join(which, ", ") + ")"
	if !im.Read {
		text += ": " + im.Note
		if im.LoadsModule {
			text += "; zfs loads from the initramfs (" + apply.FirstReason(im.LoadsWhy) + ")"
		}
		return text
	}
	vals := []string{}
	for _, v := range []struct {
		name string
		b    *uint64
	}{{"zfs_arc_max", im.ArcMax}, {"zfs_arc_min", im.ArcMin}, {"zfs_arc_sys_free", im.SysFree}} {
		if v.b != nil {
			vals = append(vals, v.name+"="+strconv.FormatUint(*v.b, 10))
		}
	}
	if len(vals) == 0 {
		text += ": sets no zfs_arc_* value"
	} else {
		text += ": holds " + strings.Join(vals, " ")
	}
	switch {
	case im.Stale != nil && *im.Stale:
		text += "; stale: " + strings.Join(im.Changes, "; ")
	case im.Stale != nil:
		text += "; the same as /etc"
	}
	if im.LoadsModule {
		text += "; zfs loads from it (" + apply.FirstReason(im.LoadsWhy) + ")"
	} else {
		text += "; zfs does not load from it (" + apply.FirstReason(im.LoadsWhy) + ")"
	}
	if im.Drift {
		text += ": the next boot takes its values, rebuild it"
	}
	return text
}
