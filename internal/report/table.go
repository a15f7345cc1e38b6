package report

import (
	"bytes"
	"io"
	"strings"

	"reflect"
	"slices"
	"sync"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twcache"
	"github.com/olekukonko/tablewriter/pkg/twwarp"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// tables renders the plain, borderless tables of one text report through
// one tablewriter.Table, reset between tables, with a 16-entry stringer
// cache: tablewriter 1.1.5 gives every new Table, and every Reset, a
// 10,240-entry cache of about 400 KB, which a one-shot process has to fault
// in (text output cost 2 MB and 1.8 ms against 0.14 MB and 0.4 ms for
// JSON). Rows here are strings: the stringer cache is never used.
type tables struct {
	t   *tablewriter.Table
	buf bytes.Buffer
}

// col says how a column is laid out: right-aligned, or wrapped to what
// the width leaves it (one column per table).
type col struct{ right, wrap bool }

var (
	left  = col{}
	right = col{right: true}
	wrap  = col{wrap: true}
)

// table renders rows indented by two spaces within width columns. The
// wrap column's cells are wrapped to the room the other columns leave (at
// least 16), each extra line a row of its own. Trailing blanks that
// tablewriter pads cells with are trimmed so the output is stable for
// golden files and copy-paste.
func (tb *tables) table(w io.Writer, width int, header []string, rows [][]string, cols ...col) error {
	if len(rows) == 0 {
		return nil
	}
	rows = wrapColumn(width, header, rows, cols)
	align := make([]tw.Align, len(rows[0]))
	for i := range align {
		align[i] = tw.AlignLeft
		if i < len(cols) && cols[i].right {
			align[i] = tw.AlignRight
		}
	}
	if tb.t == nil {
		tb.t = tablewriter.NewTable(&tb.buf,
			tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
				Borders:  tw.BorderNone,
				Symbols:  tw.NewSymbols(tw.StyleNone),
				Settings: tw.Settings{Lines: tw.LinesNone, Separators: tw.SeparatorsNone},
			})),
			tablewriter.WithHeaderAutoFormat(tw.Off),
			tablewriter.WithHeaderAlignment(tw.AlignLeft),
			tablewriter.WithPadding(tw.Padding{Left: "", Right: "  ", Overwrite: true}),
			tablewriter.WithRowAutoWrap(tw.WrapNone),
			tablewriter.WithStringerCacheCustom(twcache.NewLRU[reflect.Type, reflect.Value](16)),
		)
	}
	tb.t.Reset()
	tb.buf.Reset()
	tb.t.Options(tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}))
	if header != nil {
		tb.t.Header(header)
	}
	if err := tb.t.Bulk(rows); err != nil {
		return err
	}
	if err := tb.t.Render(); err != nil {
		return err
	}
	for line := range strings.Lines(tb.buf.String()) {
		line = strings.TrimRight(line, " \n")
		if line == "" {
			continue
		}
		if _, err := io.WriteString(w, "  "+line+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// noWidthCache turns twwidth's width cache (an LRU behind a mutex) off
// before the first width is measured: on a few hundred short cells it
// costs more than it saves.
var noWidthCache = sync.OnceFunc(func() { twwidth.SetCacheCapacity(0) })

// wrapColumn wraps the cells of the wrap column so that rows fit in width.
func wrapColumn(width int, header []string, rows [][]string, cols []col) [][]string {
	noWidthCache()
	wc := slices.IndexFunc(cols, func(c col) bool { return c.wrap })
	if wc < 0 {
		return rows
	}
	used := 2 // the indent
	for i := range rows[0] {
		if i == wc {
			continue
		}
		cw := 0
		if header != nil {
			cw = twwidth.Width(header[i])
		}
		for _, r := range rows {
			cw = max(cw, twwidth.Width(r[i]))
		}
		used += cw + 2 // the cell and its padding
	}
	room := max(width-used, 16)
	var out [][]string
	for _, r := range rows {
		lines, _ := twwarp.WrapString(r[wc], room)
		for j, l := range lines {
			if j == 0 {
				r2 := slices.Clone(r)
				r2[wc] = l
				out = append(out, r2)
				continue
			}
			cont := make([]string, len(r))
			cont[wc] = l
			out = append(out, cont)
		}
	}
	return out
}

// paragraph writes text wrapped to width after prefix; the lines after the
// first are indented by hang spaces.
func paragraph(w io.Writer, width int, prefix string, hang int, text string) {
	noWidthCache()
	lines, _ := twwarp.WrapString(text, max(width-max(twwidth.Width(prefix), hang), 16))
	for i, l := range lines {
		if i == 0 {
			io.WriteString(w, prefix+l+"\n")
			continue
		}
		io.WriteString(w, strings.Repeat(" ", hang)+l+"\n")
	}
}
