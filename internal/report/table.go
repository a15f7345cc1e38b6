package report

import (
	"bytes"
	"io"
	"strings"

	"reflect"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twcache"
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

// table renders rows indented by two spaces, with right-aligned columns
// where right[i] is true. Trailing blanks that tablewriter pads cells with
// are trimmed so the output is stable for golden files and copy-paste.
func (tb *tables) table(w io.Writer, header []string, rows [][]string, right ...bool) error {
	if len(rows) == 0 {
		return nil
	}
	align := make([]tw.Align, len(rows[0]))
	for i := range align {
		align[i] = tw.AlignLeft
		if i < len(right) && right[i] {
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
