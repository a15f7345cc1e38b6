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
// [Parse] reads any reader; [Read] reads the file under a root directory.
package arcstats

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// Path is the location of the ARC kstat, relative to a root directory.
const Path = "proc/spl/kstat/zfs/arcstats"

// ErrNotLoaded is wrapped by [Read] when the arcstats file is
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
}

// Stats is one parsed arcstats file.
type Stats struct {
	Header Header

	rows  []row          // in file order
	index map[string]int // name → position in rows
}

// Parse parses an arcstats file. It reads at most 1 MiB: a real one is
// under 7 KiB.
func Parse(r io.Reader) (*Stats, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading arcstats: %w", err)
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("input larger than %d bytes is not an arcstats file", maxSize)
	}
	return parse(string(data))
}

// Read reads and parses the arcstats file under the root, confined to it (see
// internal/rootfs): a FIFO, a device or a symlink out of the root is
// refused, and at most 256 KiB are read (a real file is under 7 KiB). A
// missing file wraps [ErrNotLoaded]; a parse error is a *[ParseError] that
// names the file.
func Read(fsys *rootfs.FS) (*Stats, error) {
	path := fsys.Path(Path)
	data, err := fsys.ReadFile(Path, maxRead)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w: %w", path, ErrNotLoaded, fs.ErrNotExist)
		}
		return nil, err
	}
	s, err := parse(string(data))
	if err != nil {
		if pe, ok := errors.AsType[*ParseError](err); ok {
			pe.File = path
		}
		return nil, err
	}
	return s, nil
}

// maxRead bounds what Read takes from the file.
const maxRead = 256 << 10

func (s *Stats) lookup(name string) (*row, bool) {
	i, ok := s.index[name]
	if !ok {
		return nil, false
	}
	return &s.rows[i], true
}

// Line is the line of the file that holds the named field (the kstat
// header and the column names are lines 1 and 2), 0 when it is missing.
func (s *Stats) Line(name string) int {
	i, ok := s.index[name]
	if !ok {
		return 0
	}
	return i + 3
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
