package arcstats

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// parse parses the whole text of an arcstats file.
func parse(data string) (*Stats, error) {
	lines := strings.Split(data, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return nil, &ParseError{Line: 1, Err: errors.New("empty input: missing kstat header line")}
	}
	h, err := parseHeader(lines[0])
	if err != nil {
		return nil, &ParseError{Line: 1, Err: err}
	}
	if len(lines) == 1 {
		return nil, &ParseError{Line: 2, Err: errors.New(`missing "name type data" line after the kstat header`)}
	}
	if err := checkNameLine(lines[1]); err != nil {
		return nil, &ParseError{Line: 2, Err: err}
	}
	if len(lines) == 2 {
		return nil, &ParseError{Line: 3, Err: errors.New("no stat rows after the name line")}
	}
	s := &Stats{Header: h, rows: make([]row, 0, len(lines)-2), index: make(map[string]int, len(lines)-2)}
	for i, line := range lines[2:] {
		n := i + 3
		f, err := rowFields(line)
		if err != nil {
			return nil, &ParseError{Line: n, Err: err}
		}
		typ, val, err := parseValue(f[1], f[2])
		if err != nil {
			return nil, &ParseError{Line: n, Err: fmt.Errorf("%s: %w", f[0], err)}
		}
		if first, dup := s.index[f[0]]; dup {
			return nil, &ParseError{Line: n, Err: fmt.Errorf("duplicate stat %q (first on line %d)", f[0], first+3)}
		}
		s.index[f[0]] = len(s.rows)
		s.rows = append(s.rows, row{name: f[0], val: val, typ: typ})
	}
	return s, nil
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\v' || r == '\f' }

func checkLineEnd(line string) error {
	if strings.HasSuffix(line, "\r") {
		return errors.New(`line ends in "\r" (CRLF line endings); the kernel writes "\n" only`)
	}
	return nil
}

// rowFields splits a stat row into its three fields, name, type and data,
// as strings.FieldsFunc(line, isSpace) would, without a slice per row (the
// kernel's separators are ASCII, so a byte scan finds the same fields).
func rowFields(line string) ([3]string, error) {
	var f [3]string
	if err := checkLineEnd(line); err != nil {
		return f, err
	}
	n := 0
	for i := 0; i < len(line); {
		if isSpace(rune(line[i])) {
			i++
			continue
		}
		j := i
		for j < len(line) && !isSpace(rune(line[j])) {
			j++
		}
		if n < len(f) {
			f[n] = line[i:j]
		}
		n++
		i = j
	}
	switch {
	case n == 0:
		return f, errors.New("blank line where a stat row was expected")
	case n != 3:
		return f, fmt.Errorf("want 3 fields (name type data), got %d in %s", n, quote(line))
	}
	return f, nil
}

func checkNameLine(line string) error {
	if err := checkLineEnd(line); err != nil {
		return err
	}
	if f := strings.FieldsFunc(line, isSpace); len(f) != 3 || f[0] != "name" || f[1] != "type" || f[2] != "data" {
		return fmt.Errorf(`want the column line "name type data", got %s`, quote(line))
	}
	return nil
}

func parseHeader(line string) (Header, error) {
	var h Header
	if err := checkLineEnd(line); err != nil {
		return h, err
	}
	f := strings.FieldsFunc(line, isSpace)
	if len(f) != 7 {
		return h, fmt.Errorf("kstat header: want 7 fields (kid type flags ndata data_size crtime snaptime), got %d in %s", len(f), quote(line))
	}
	var err error
	num := func(what, b string) int {
		v, ok := parseInt(b)
		if !ok || v < math.MinInt32 || v > math.MaxInt32 {
			if err == nil {
				err = fmt.Errorf("kstat header: invalid %s %s", what, quote(b))
			}
			return 0
		}
		return int(v)
	}
	num64 := func(what, b string) int64 {
		v, ok := parseInt(b)
		if !ok && err == nil {
			err = fmt.Errorf("kstat header: invalid %s %s", what, quote(b))
		}
		return v
	}
	h.KID = num("kid", f[0])
	h.Type = num("type", f[1])
	flags, ok := parseHex(f[2])
	if !ok && err == nil {
		err = fmt.Errorf("kstat header: invalid flags %s, want 0x-prefixed hex", quote(f[2]))
	}
	h.Flags = flags
	h.NData = num("ndata", f[3])
	h.DataSize = num("data_size", f[4])
	h.CrTime = num64("crtime", f[5])
	h.SnapTime = num64("snaptime", f[6])
	switch {
	case err != nil:
		return Header{}, err
	case h.Type != kstatTypeNamed:
		return Header{}, fmt.Errorf("kstat header: type %d is not KSTAT_TYPE_NAMED (1)", h.Type)
	case h.NData < 0:
		return Header{}, fmt.Errorf("kstat header: negative ndata %d", h.NData)
	case h.DataSize < 0:
		return Header{}, fmt.Errorf("kstat header: negative data_size %d", h.DataSize)
	}
	return h, nil
}

func parseValue(typb, valb string) (uint8, uint64, error) {
	t, ok := parseInt(typb)
	if !ok {
		return 0, 0, fmt.Errorf("invalid data type %s", quote(typb))
	}
	switch t {
	case TypeUint64:
		v, ok := parseUint(valb)
		if !ok {
			return 0, 0, fmt.Errorf("invalid uint64 value %s (type 4)", quote(valb))
		}
		return TypeUint64, v, nil
	case TypeInt64:
		v, ok := parseInt(valb)
		if !ok {
			return 0, 0, fmt.Errorf("invalid int64 value %s (type 3)", quote(valb))
		}
		return TypeInt64, uint64(v), nil
	default:
		return 0, 0, fmt.Errorf("unsupported data type %d (want 3 for int64 or 4 for uint64)", t)
	}
}

// parseUint parses plain decimal digits, as printed by %llu: no sign.
func parseUint(b string) (uint64, bool) {
	if b == "" || b[0] < '0' || b[0] > '9' {
		return 0, false
	}
	v, err := strconv.ParseUint(b, 10, 64)
	return v, err == nil
}

// parseInt parses a decimal int64 with an optional leading '-', as printed
// by %lld and %d.
func parseInt(b string) (int64, bool) {
	if d := strings.TrimPrefix(b, "-"); d == "" || d[0] < '0' || d[0] > '9' {
		return 0, false
	}
	v, err := strconv.ParseInt(b, 10, 64)
	return v, err == nil
}

// parseHex parses "0x" followed by hex digits, as printed by 0x%02x.
func parseHex(b string) (uint64, bool) {
	if len(b) < 3 || b[0] != '0' || (b[1] != 'x' && b[1] != 'X') {
		return 0, false
	}
	v, err := strconv.ParseUint(b[2:], 16, 64)
	return v, err == nil
}

// quote renders input for an error message, shortened to keep messages
// readable.
func quote(b string) string {
	const max = 64
	if len(b) > max {
		return fmt.Sprintf("%q...", b[:max])
	}
	return fmt.Sprintf("%q", b)
}
