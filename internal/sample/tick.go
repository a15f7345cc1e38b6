package sample

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/meminfo"
)

// Paths of the files a tick reads, relative to the root.
const (
	ArcstatsPath = arcstats.Path
	MeminfoPath  = meminfo.Path
	PSIPath      = meminfo.PSIPath
	VMStatPath   = meminfo.VMStatPath
)

// Arc holds the arcstats fields a tick keeps.
type Arc struct {
	Size     uint64 // size: bytes the ARC holds
	C        uint64 // c: the adaptive target
	CMin     uint64 // c_min: the floor of c
	CMax     uint64 // c_max: the ceiling of c
	NoGrow   bool   // arc_no_grow is 1
	NeedFree uint64 // arc_need_free
	// MemAvail is memory_available_bytes (OpenZFS 0.7.3 and later): free
	// memory minus arc_sys_free; negative means the ARC shrinks.
	MemAvail    int64
	HasMemAvail bool
	Throttle    uint64 // memory_throttle_count
	Direct      uint64 // memory_direct_count: ARC shrinker calls from direct reclaim
	Indirect    uint64 // memory_indirect_count: ARC shrinker calls from kswapd
}

// Tick is one reading of every source file, taken at At.
type Tick struct {
	At     time.Time
	Arc    Arc
	Mem    meminfo.Info
	PSI    meminfo.PSI
	HasPSI bool // proc/pressure/memory was readable
	VM     meminfo.VMStat
	HasVM  bool // proc/vmstat was readable
}

// Source produces ticks. Next fills t in place; it returns io.EOF when the
// source has no more ticks (a replay after its last snapshot).
type Source interface {
	Next(ctx context.Context, t *Tick) error
}

// file is one source file read into reused buffers. The bytes of the last
// read are kept so that a file whose content did not change is not parsed
// again.
type file struct {
	rel  string // path relative to the root, for messages
	cur  []byte
	prev []byte
	have bool // prev holds a previous read
}

// load reads path into the buffer and reports whether its content differs
// from the previous read. On success f.prev holds the bytes just read.
func (f *file) load(path string) (changed bool, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return false, err
	}
	b := f.cur[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, rerr := fh.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			fh.Close()
			f.cur = b
			return false, rerr
		}
	}
	fh.Close()
	changed = !f.have || !bytes.Equal(b, f.prev)
	f.cur, f.prev = f.prev, b
	f.have = true
	return changed, nil
}

// forget drops the previous read so that the next load parses again.
func (f *file) forget() { f.have = false }

// reader reads and parses the four files under a root. Parsed values are kept
// between calls and reused when a file did not change.
type reader struct {
	arc, mem, psi, vm file
	br                bytes.Reader
	stats             arcstats.Stats

	lastArc Arc
	lastMem meminfo.Info
	lastPSI meminfo.PSI
	lastVM  meminfo.VMStat
}

func newReader() *reader {
	return &reader{
		arc: file{rel: ArcstatsPath},
		mem: file{rel: MeminfoPath},
		psi: file{rel: PSIPath},
		vm:  file{rel: VMStatPath},
	}
}

// paths holds the absolute paths of the four files under one root.
type paths struct {
	arc, mem, psi, vm string
}

func pathsUnder(root string) paths {
	return paths{
		arc: filepath.Join(root, ArcstatsPath),
		mem: filepath.Join(root, MeminfoPath),
		psi: filepath.Join(root, PSIPath),
		vm:  filepath.Join(root, VMStatPath),
	}
}

// read fills every field of t except At.
func (r *reader) read(p *paths, t *Tick) error {
	changed, err := r.arc.load(p.arc)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w: %w; is the zfs module loaded? (modprobe zfs)", p.arc, arcstats.ErrNotLoaded, fs.ErrNotExist)
		}
		return fileError(p.arc, err)
	}
	if changed {
		r.br.Reset(r.arc.prev)
		err := r.stats.ParseFrom(&r.br)
		if err == nil {
			err = arcFrom(&r.stats, &r.lastArc)
		}
		if err != nil {
			r.arc.forget()
			return inFile(p.arc, err)
		}
	}
	t.Arc = r.lastArc

	changed, err = r.mem.load(p.mem)
	if err != nil {
		return fileError(p.mem, err)
	}
	if changed {
		r.br.Reset(r.mem.prev)
		info, err := meminfo.Parse(&r.br)
		if err != nil {
			r.mem.forget()
			return inFile(p.mem, err)
		}
		r.lastMem = info
	}
	t.Mem = r.lastMem

	t.HasPSI = false
	changed, err = r.psi.load(p.psi)
	switch {
	case err != nil:
		r.psi.forget()
		// No PSI: the kernel is older than 4.20 or built without
		// CONFIG_PSI (no file), or was booted with psi=0 (reading fails
		// with EOPNOTSUPP). Both are normal.
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.EOPNOTSUPP) {
			return fileError(p.psi, err)
		}
	case changed:
		r.br.Reset(r.psi.prev)
		psi, err := meminfo.ParsePSI(&r.br)
		if err != nil {
			r.psi.forget()
			return inFile(p.psi, err)
		}
		r.lastPSI = psi
		t.PSI, t.HasPSI = psi, true
	default:
		t.PSI, t.HasPSI = r.lastPSI, true
	}

	t.HasVM = false
	changed, err = r.vm.load(p.vm)
	switch {
	case err != nil:
		r.vm.forget()
		if !errors.Is(err, fs.ErrNotExist) {
			return fileError(p.vm, err)
		}
	case changed:
		if err := meminfo.ParseVMStatBytes(r.vm.prev, &r.lastVM); err != nil {
			r.vm.forget()
			return inFile(p.vm, err)
		}
		t.VM, t.HasVM = r.lastVM, true
	default:
		t.VM, t.HasVM = r.lastVM, true
	}
	return nil
}

// fileError names path in a file-access error without repeating the path
// that os errors already carry.
func fileError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// inFile names path in a parse error. The parsers' line errors get the path
// in their own field, so that they print as "path:line: ...".
func inFile(path string, err error) error {
	if pe, ok := errors.AsType[*arcstats.ParseError](err); ok && pe.File == "" {
		pe.File = path
		return err
	}
	if le, ok := errors.AsType[*meminfo.LineError](err); ok && le.Path == "" {
		le.Path = path
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// arcFrom copies the fields a tick keeps from s into a.
func arcFrom(s *arcstats.Stats, a *Arc) error {
	var ok bool
	for _, f := range [...]struct {
		name string
		dst  *uint64
	}{
		{"size", &a.Size},
		{"c", &a.C},
		{"c_min", &a.CMin},
		{"c_max", &a.CMax},
		{"memory_throttle_count", &a.Throttle},
		{"memory_direct_count", &a.Direct},
		{"memory_indirect_count", &a.Indirect},
	} {
		if *f.dst, ok = s.Uint(f.name); !ok {
			return fmt.Errorf("no %s field", f.name)
		}
	}
	noGrow, _ := s.Uint("arc_no_grow")
	a.NoGrow = noGrow != 0
	a.NeedFree, _ = s.Uint("arc_need_free")
	a.MemAvail, a.HasMemAvail = s.Int("memory_available_bytes")
	return nil
}

// Live reads the files of a running system under a root directory ("/" on
// the host itself). Each Next reads each file once into reused buffers; a
// file whose bytes did not change since the previous tick is not parsed
// again (at rest that is /proc/pressure/memory; arcstats changes on every
// read, its header carries the snapshot time). Memory use does not grow
// from tick to tick. Live is not safe for concurrent use.
type Live struct {
	p paths
	r *reader
}

// NewLive returns a Live source reading under root.
func NewLive(root string) *Live {
	return &Live{p: pathsUnder(root), r: newReader()}
}

// Next reads one tick. t.At is the time the reading started.
func (l *Live) Next(ctx context.Context, t *Tick) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.At = time.Now()
	return l.r.read(&l.p, t)
}
