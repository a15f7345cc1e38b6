package arcstats_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/arcstats"
)

// FuzzParse checks that Parse never panics, that a successful parse agrees
// with a naive whitespace split of the input.
func FuzzParse(f *testing.F) {
	for _, root := range []string{labFilled, labPressure} {
		data, err := os.ReadFile(filepath.Join(root, arcstats.Path))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := arcstats.Parse(bytes.NewReader(data))
		lines := strings.Split(string(data), "\n")
		if err != nil {
			var pe *arcstats.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a *ParseError: %v", err)
			}
			if pe.Line < 1 || pe.Line > len(lines)+1 {
				t.Fatalf("error line %d outside input of %d lines: %v", pe.Line, len(lines), err)
			}
			if s != nil {
				t.Fatal("non-nil Stats with an error")
			}
			return
		}

		// Reference: the rows are the lines after the first two.
		rows := lines[2:]
		if rows[len(rows)-1] == "" {
			rows = rows[:len(rows)-1]
		}
		if s.Len() != len(rows) || len(s.Names()) != len(rows) {
			t.Fatalf("Len = %d, len(Names) = %d, want %d rows", s.Len(), len(s.Names()), len(rows))
		}
		names := s.Names()
		for i, line := range rows {
			f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == '\v' || r == '\f' })
			if len(f) != 3 || f[0] != names[i] {
				t.Fatalf("row %d: %q parsed as name %q", i, line, names[i])
			}
			if !s.Has(f[0]) {
				t.Fatalf("Has(%q) = false", f[0])
			}
			typ, ok := s.Type(f[0])
			if !ok {
				t.Fatalf("Type(%q) missing", f[0])
			}
			iv, iok := s.Int(f[0])
			uv, uok := s.Uint(f[0])
			if !iok {
				t.Fatalf("Int(%q) missing", f[0])
			}
			switch typ {
			case arcstats.TypeUint64:
				want, err := strconv.ParseUint(f[2], 10, 64)
				if err != nil || !uok || uv != want {
					t.Fatalf("%q: Uint = %d,%v; strconv %d,%v", f[0], uv, uok, want, err)
				}
				if want <= 1<<63-1 && iv != int64(want) || want > 1<<63-1 && iv != 1<<63-1 {
					t.Fatalf("%q: Int = %d for %d", f[0], iv, want)
				}
			case arcstats.TypeInt64:
				want, err := strconv.ParseInt(f[2], 10, 64)
				if err != nil || iv != want {
					t.Fatalf("%q: Int = %d; strconv %d,%v", f[0], iv, want, err)
				}
				if uok != (want >= 0) || uok && uv != uint64(want) {
					t.Fatalf("%q: Uint = %d,%v for %d", f[0], uv, uok, want)
				}
			default:
				t.Fatalf("%q: type %d", f[0], typ)
			}
		}
		if len(slices.Compact(slices.Sorted(slices.Values(names)))) != len(names) {
			t.Fatal("duplicate names accepted")
		}
		_ = s.Generation()
	})
}
