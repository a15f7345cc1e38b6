package arcstats

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/arcadvise/arcadvise/internal/decimal"
	"math"
)

// maxNDataHint caps how many rows the header's ndata may pre-allocate.
const maxNDataHint = 4096

// parse parses data into s. It allocates only when the field names differ
// from those of the previous successful parse.
func (s *Stats) parse(data []byte) error {
	if err := s.parseRows(data); err != nil {
		s.reset()
		return err
	}
	return nil
}

func (s *Stats) parseRows(data []byte) error {
	rest := data
	lineNo := 0
	lineStart := 0 // offset of the current line in data
	next := func() ([]byte, bool) {
		if len(rest) == 0 {
			return nil, false
		}
		lineNo++
		lineStart = len(data) - len(rest)
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		return line, true
	}

	line, ok := next()
	if !ok {
		return &ParseError{Line: 1, Err: errors.New("empty input: missing kstat header line")}
	}
	h, err := parseHeader(line)
	if err != nil {
		return &ParseError{Line: lineNo, Err: err}
	}
	s.Header = h

	line, ok = next()
	if !ok {
		return &ParseError{Line: 2, Err: errors.New(`missing "name type data" line after the kstat header`)}
	}
	if err := checkNameLine(line); err != nil {
		return &ParseError{Line: lineNo, Err: err}
	}

	// all is the whole backing array of s.rows: names left there by an
	// earlier parse are reused when they are equal to the new ones.
	all := s.rows[:cap(s.rows)]
	if len(all) == 0 && h.NData > 0 {
		all = make([]row, min(h.NData, maxNDataHint))
	}
	k := 0
	changed := false
	for {
		line, ok := next()
		if !ok {
			break
		}
		var f [3][]byte
		if err := rowFields(line, &f); err != nil {
			return &ParseError{Line: lineNo, Err: err}
		}
		typ, val, err := parseValue(f[1], f[2])
		if err != nil {
			return &ParseError{Line: lineNo, Err: fmt.Errorf("%s: %w", f[0], err)}
		}
		if k == len(all) {
			all = append(all, row{})
			all = all[:cap(all)]
		}
		r := &all[k]
		if r.name != string(f[0]) {
			changed = true
			r.name = ""
		}
		r.val, r.typ = val, typ
		// f[0] is a subslice of line, so the cap difference is its offset.
		r.start = int32(lineStart + cap(line) - cap(f[0]))
		r.end = r.start + int32(len(f[0]))
		k++
	}
	if k == 0 {
		return &ParseError{Line: lineNo + 1, Err: errors.New("no stat rows after the name line")}
	}
	s.rows = all[:k]
	if !changed && k == s.indexed {
		return nil
	}
	if changed {
		// One string holds every new name; rows keep substrings of it.
		str := string(data)
		for i := range s.rows {
			if r := &s.rows[i]; r.name == "" {
				r.name = str[r.start:r.end]
			}
		}
	}
	return s.reindex()
}

// reindex rebuilds the name index and rejects duplicate names.
func (s *Stats) reindex() error {
	if s.index == nil {
		s.index = make(map[string]int, len(s.rows))
	}
	clear(s.index)
	s.indexed = 0
	for i := range s.rows {
		name := s.rows[i].name
		if first, dup := s.index[name]; dup {
			return &ParseError{Line: i + 3, Err: fmt.Errorf("duplicate stat %q (first on line %d)", name, first+3)}
		}
		s.index[name] = i
	}
	s.indexed = len(s.rows)
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\v' || c == '\f' }

// fields splits line on blanks into dst and returns how many fields it
// found; fields beyond len(dst) are counted but not stored.
func fields(line []byte, dst [][]byte) int {
	n := 0
	i := 0
	for i < len(line) {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && !isSpace(line[j]) {
			j++
		}
		if n < len(dst) {
			dst[n] = line[i:j]
		}
		n++
		i = j
	}
	return n
}

func checkLineEnd(line []byte) error {
	if len(line) > 0 && line[len(line)-1] == '\r' {
		return errors.New(`line ends in "\r" (CRLF line endings); the kernel writes "\n" only`)
	}
	return nil
}

func rowFields(line []byte, f *[3][]byte) error {
	if err := checkLineEnd(line); err != nil {
		return err
	}
	n := fields(line, f[:])
	switch {
	case n == 0:
		return errors.New("blank line where a stat row was expected")
	case n != 3:
		return fmt.Errorf("want 3 fields (name type data), got %d in %s", n, quote(line))
	}
	return nil
}

func checkNameLine(line []byte) error {
	if err := checkLineEnd(line); err != nil {
		return err
	}
	var f [3][]byte
	if fields(line, f[:]) != 3 || string(f[0]) != "name" || string(f[1]) != "type" || string(f[2]) != "data" {
		return fmt.Errorf(`want the column line "name type data", got %s`, quote(line))
	}
	return nil
}

func parseHeader(line []byte) (Header, error) {
	var h Header
	if err := checkLineEnd(line); err != nil {
		return h, err
	}
	var f [7][]byte
	if n := fields(line, f[:]); n != 7 {
		return h, fmt.Errorf("kstat header: want 7 fields (kid type flags ndata data_size crtime snaptime), got %d in %s", n, quote(line))
	}
	var err error
	num := func(what string, b []byte) int {
		v, ok := parseInt(b)
		if !ok || v < math.MinInt32 || v > math.MaxInt32 {
			if err == nil {
				err = fmt.Errorf("kstat header: invalid %s %s", what, quote(b))
			}
			return 0
		}
		return int(v)
	}
	num64 := func(what string, b []byte) int64 {
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

func parseValue(typb, valb []byte) (uint8, uint64, error) {
	t, ok := parseInt(typb)
	if !ok {
		return 0, 0, fmt.Errorf("invalid data type %s", quote(typb))
	}
	switch t {
	case TypeUint64:
		v, ok := decimal.ParseUint(valb)
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

// parseInt parses a decimal int64 with an optional leading '-', as printed
// by %lld and %d.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok := decimal.ParseUint(b)
	if !ok {
		return 0, false
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// parseHex parses "0x" followed by hex digits, as printed by 0x%02x.
func parseHex(b []byte) (uint64, bool) {
	if len(b) < 3 || b[0] != '0' || (b[1] != 'x' && b[1] != 'X') {
		return 0, false
	}
	var v uint64
	for _, c := range b[2:] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		if v > math.MaxUint64>>4 {
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

// quote renders input for an error message, shortened to keep messages
// readable.
func quote(b []byte) string {
	const max = 64
	if len(b) > max {
		return fmt.Sprintf("%q...", b[:max])
	}
	return fmt.Sprintf("%q", b)
}
