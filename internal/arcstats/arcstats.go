// Package arcstats parses /proc/spl/kstat/zfs/arcstats.
//
// The file is an SPL "named" kstat, written by kstat_seq_show_headers and
// kstat_seq_show_named in module/os/linux/spl/spl-kstat.c (module/spl/spl-kstat.c
// in the separate SPL repository of ZoL 0.6.5.x and 0.7.x). Its layout is the
// same in every release from ZoL 0.6.x to OpenZFS 2.4:
//
//	kid type 0xflags ndata data_size crtime snaptime    "%d %d 0x%02x %d %d %lld %lld"
//	name                            type data           "%-31s %-4s %s"
//	hits                            4    174896434      "%-31s %-4d " then %llu (type 4) or %lld (type 3)
//
// Every row has data type 4 (KSTAT_DATA_UINT64) except memory_available_bytes
// (0.7.3+), which is 3 (KSTAT_DATA_INT64) and goes negative under memory
// pressure. Names are padded to 31 characters, but
// demand_iohit_predictive_prefetch (2.2+) is 32 characters long and is
// followed by a single space, so rows are split on whitespace, never on fixed
// columns.
//
// The field set changes between releases (see [Stats.Generation]); a field
// the running module does not export is reported as unknown (ok == false),
// never as zero.
//
// [Stats.ParseFrom] re-parses into existing storage and allocates nothing when
// the field set did not change, so a 1-second sampler can reuse one [Stats].
package arcstats

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
)

// Path is the location of the ARC kstat, relative to a root directory.
const Path = "proc/spl/kstat/zfs/arcstats"

// ErrNotLoaded is wrapped by [Read] and [ReadInto] when the arcstats file is
// absent, which means the zfs kernel module is not loaded (or /proc is not
// the host's).
var ErrNotLoaded = errors.New("zfs module not loaded")

// kstat data types (KSTAT_DATA_* in include/os/linux/spl/sys/kstat.h) that
// arcstats uses.
const (
	TypeInt64  = 3 // KSTAT_DATA_INT64, printed with %lld
	TypeUint64 = 4 // KSTAT_DATA_UINT64, printed with %llu
)

// kstatTypeNamed is KSTAT_TYPE_NAMED, the kstat type of arcstats.
const kstatTypeNamed = 1

// maxSize bounds how much of a reader is consumed. A real arcstats file is
// under 7 KiB.
const maxSize = 1 << 20

// Header is line 1 of a kstat file:
// "kid type flags ndata data_size crtime snaptime".
type Header struct {
	KID      int    // ks_kid: global kstat id, in creation order
	Type     int    // ks_type: 1 (KSTAT_TYPE_NAMED)
	Flags    uint64 // ks_flags, printed as 0x%02x: 0x01 (KSTAT_FLAG_VIRTUAL)
	NData    int    // ks_ndata: the number of rows the kernel says follow
	DataSize int    // ks_data_size: NData * sizeof(kstat_named_t) (48 or 272 bytes)
	CrTime   int64  // ks_crtime: creation time, gethrtime() nanoseconds since boot
	SnapTime int64  // ks_snaptime: time of this snapshot, same clock
}

// ParseError is a syntax error in an arcstats file, with the 1-based line
// number where it was found.
type ParseError struct {
	File string // path of the file, or "" when parsing a reader
	Line int
	Err  error
}

func (e *ParseError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

type row struct {
	name string
	val  uint64 // raw bits; a TypeInt64 value is stored as uint64(int64)
	typ  uint8
	// start and end locate the name in the buffer being parsed. They are
	// only meaningful during a parse.
	start, end int32
}

// Stats is one snapshot of arcstats. The zero value is empty and ready for
// [Stats.ParseFrom]. Its methods may be called concurrently, but not while
// ParseFrom or ReadInto is refilling it.
type Stats struct {
	Header Header

	rows []row // in file order; cap is kept across parses
	// index maps a name to its position in rows. It is valid for
	// rows[:indexed]; indexed is 0 after a failed parse.
	index   map[string]int
	indexed int
	buf     []byte // read buffer reused by ParseFrom and ReadInto
}

// Parse reads a complete arcstats file from r. Header.NData is not required
// to match the number of rows; see [Stats.CheckRows].
func Parse(r io.Reader) (*Stats, error) {
	s := new(Stats)
	if err := s.ParseFrom(r); err != nil {
		return nil, err
	}
	s.buf = nil // a one-shot parse keeps no read buffer
	return s, nil
}

// ParseFrom reads a complete arcstats file from r into s, replacing its
// contents. It reuses the storage of s: when the field set is the same as in
// the previous successful parse, it allocates nothing. On error s holds no
// rows and a zero Header until the next successful parse.
func (s *Stats) ParseFrom(r io.Reader) error {
	data, err := readAll(r, &s.buf)
	if err != nil {
		s.reset()
		return err
	}
	return s.parse(data)
}

// Read parses filepath.Join(root, Path). When the file does not exist the
// error wraps [ErrNotLoaded] (and fs.ErrNotExist). Syntax errors are
// [*ParseError] values whose File is the joined path.
func Read(root string) (*Stats, error) {
	s := new(Stats)
	if err := ReadInto(root, s, nil); err != nil {
		return nil, err
	}
	s.buf = nil // a one-shot read keeps no read buffer
	return s, nil
}

// ReadInto is [Read] into existing storage, for a sampler that reads the file
// repeatedly: it reuses s as [Stats.ParseFrom] does, and reads into *buf
// (growing it as needed) or, when buf is nil, into a buffer kept in s. Only
// opening the file allocates.
func ReadInto(root string, s *Stats, buf *[]byte) error {
	path := filepath.Join(root, Path)
	f, err := os.Open(path)
	if err != nil {
		s.reset()
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w: %w; is the zfs module loaded? (modprobe zfs)", path, ErrNotLoaded, fs.ErrNotExist)
		}
		return err
	}
	defer f.Close()
	if buf == nil {
		buf = &s.buf
	}
	data, err := readAll(f, buf)
	if err != nil {
		s.reset()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := s.parse(data); err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			pe.File = path
		}
		return err
	}
	return nil
}

// readAll reads r to EOF into (*buf)[:0], growing *buf only when it is too
// small. It stops with an error after maxSize bytes.
func readAll(r io.Reader, buf *[]byte) ([]byte, error) {
	b := (*buf)[:0]
	if cap(b) == 0 {
		b = make([]byte, 0, 16<<10)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		*buf = b
		switch {
		case len(b) > maxSize:
			return nil, fmt.Errorf("input larger than %d bytes is not an arcstats file", maxSize)
		case err == io.EOF:
			return b, nil
		case err != nil:
			return nil, fmt.Errorf("reading arcstats: %w", err)
		}
	}
}

func (s *Stats) reset() {
	s.Header = Header{}
	s.rows = s.rows[:0]
	clear(s.index)
	s.indexed = 0
}

func (s *Stats) lookup(name string) (*row, bool) {
	i, ok := s.index[name]
	if !ok || i >= len(s.rows) {
		return nil, false
	}
	return &s.rows[i], true
}

// Has reports whether the running module exports the named field.
func (s *Stats) Has(name string) bool {
	_, ok := s.lookup(name)
	return ok
}

// Uint returns a field as an unsigned value. ok is false when the field is
// absent (the running version does not have it) and also when a signed
// (type 3) field holds a negative value, which has no unsigned reading: use
// [Stats.Int] for memory_available_bytes.
func (s *Stats) Uint(name string) (v uint64, ok bool) {
	r, ok := s.lookup(name)
	if !ok {
		return 0, false
	}
	if r.typ == TypeInt64 && int64(r.val) < 0 {
		return 0, false
	}
	return r.val, true
}

// Int returns a field as a signed value. ok is false when the field is
// absent. An unsigned (type 4) value above math.MaxInt64 is clamped to
// math.MaxInt64.
func (s *Stats) Int(name string) (v int64, ok bool) {
	r, ok := s.lookup(name)
	if !ok {
		return 0, false
	}
	if r.typ == TypeUint64 && r.val > math.MaxInt64 {
		return math.MaxInt64, true
	}
	return int64(r.val), true
}

// Type returns the kstat data type of a field: [TypeInt64] or [TypeUint64].
func (s *Stats) Type(name string) (typ int, ok bool) {
	r, ok := s.lookup(name)
	if !ok {
		return 0, false
	}
	return int(r.typ), true
}

// Len returns the number of rows.
func (s *Stats) Len() int { return len(s.rows) }

// Names returns the field names in file order, in a new slice.
func (s *Stats) Names() []string {
	names := make([]string, len(s.rows))
	for i := range s.rows {
		names[i] = s.rows[i].name
	}
	return names
}

// CheckRows reports whether Header.NData matches the number of rows. The
// kernel always writes them equal; files edited by hand or by other tools
// (PCP and node_exporter test data) do not, which is why Parse accepts a
// mismatch.
func (s *Stats) CheckRows() error {
	if s.Header.NData != len(s.rows) {
		return fmt.Errorf("header promises %d rows, file has %d", s.Header.NData, len(s.rows))
	}
	return nil
}
