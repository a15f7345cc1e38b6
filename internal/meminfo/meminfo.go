// Package meminfo reads the kernel's view of memory from /proc/meminfo,
// /proc/pressure/memory and /proc/vmstat under a root directory.
package meminfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
)

// Path is the location of the meminfo file below the root directory.
const Path = "proc/meminfo"

// Values of Info.HugepagesSource.
const (
	HugepagesFromHugetlb = "Hugetlb"
	HugepagesFromPages   = "HugePages_Total × Hugepagesize"
)

// Info holds the /proc/meminfo values arcadvise uses, in bytes. A line that
// the kernel does not print leaves its field at 0.
//
// The ARC is not part of MemAvailable, nor of Cached, Buffers or the file
// LRU lists: no OpenZFS version reports it to the kernel as available
// memory (openzfs/zfs#10255; see shared/research/zfs-internals.md §4.1).
// Its scatter buffers show up in no meminfo line at all and only lower
// MemFree. Since 2.2.7 and 2.3.0 some small slab-backed ARC objects count in
// SReclaimable (§4.3). Callers that want "memory the workload can get" must
// add the shrinkable part of the ARC themselves.
type Info struct {
	MemTotal, MemFree, MemAvailable uint64

	// HasMemAvailable is false on kernels older than 3.14, which have no
	// MemAvailable line. MemAvailable is then estimated (see
	// MemAvailableEstimated) rather than left at 0.
	HasMemAvailable bool
	// MemAvailableEstimated reports that MemAvailable was computed here as
	//
	//	MemFree + Active(file)/2 + Inactive(file)/2 + SReclaimable/2
	//
	// This is the kernel's si_mem_available() with the low-watermark terms,
	// which a meminfo file does not show, replaced by their largest
	// discount (half of the page cache and half of the reclaimable slab), and
	// without the reserve that the kernel subtracts. The half discounts
	// usually put it below the kernel's figure; the missing reserve
	// (totalreserve_pages, typically tens of MiB) can put it above.
	MemAvailableEstimated bool

	ActiveFile, InactiveFile, SReclaimable, SUnreclaim, Shmem, SwapTotal, SwapFree uint64

	// Hugepages is the memory set aside for hugetlb pages: the Hugetlb line
	// when the kernel prints it (it covers every huge page size), else
	// HugePages_Total × Hugepagesize (the default size only).
	Hugepages uint64
	// HugepagesSource names the lines Hugepages came from: HugepagesFromHugetlb,
	// HugepagesFromPages, or "" when the file has neither.
	HugepagesSource string
}

// LineError reports a malformed line of a /proc file. Path is empty for the
// errors of the pure parsers, which do not know the file name.
type LineError struct {
	Path   string
	Line   int    // 1-based
	Text   string // the line as read
	Reason string
	Err    error // underlying error, if any
}

func (e *LineError) Error() string {
	where := "line " + strconv.Itoa(e.Line)
	if e.Path != "" {
		where = e.Path + ":" + strconv.Itoa(e.Line)
	}
	return fmt.Sprintf("%s: malformed line %q: %s", where, e.Text, e.Reason)
}

func (e *LineError) Unwrap() error { return e.Err }

// fileError names path in a file-access error without repeating the path
// that os errors already carry.
func fileError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// field returns the byte value of a procfs field, or 0 when the line was
// absent. raw is the number as printed, b the byte value procfs computed
// from it; procfs multiplies kB values by 1024 without an overflow check, so
// a kB value that does not fit in 64 bits is detected here.
func field(name string, raw, b *uint64) (uint64, error) {
	if b == nil {
		return 0, nil
	}
	if raw != nil && *raw > math.MaxUint64/1024 && *b != *raw {
		return 0, fmt.Errorf("%s: %d kB overflows 64-bit bytes", name, *raw)
	}
	return *b, nil
}

// FromProcfs converts what procfs parsed from /proc/meminfo. It fails when
// MemTotal is missing or 0, or when a value it uses overflows in bytes.
func FromProcfs(m procfs.Meminfo) (Info, error) {
	var info Info
	var err error
	get := func(name string, raw, b *uint64) uint64 {
		v, e := field(name, raw, b)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	info.MemTotal = get("MemTotal", m.MemTotal, m.MemTotalBytes)
	info.MemFree = get("MemFree", m.MemFree, m.MemFreeBytes)
	info.MemAvailable = get("MemAvailable", m.MemAvailable, m.MemAvailableBytes)
	info.ActiveFile = get("Active(file)", m.ActiveFile, m.ActiveFileBytes)
	info.InactiveFile = get("Inactive(file)", m.InactiveFile, m.InactiveFileBytes)
	info.SReclaimable = get("SReclaimable", m.SReclaimable, m.SReclaimableBytes)
	info.SUnreclaim = get("SUnreclaim", m.SUnreclaim, m.SUnreclaimBytes)
	info.Shmem = get("Shmem", m.Shmem, m.ShmemBytes)
	info.SwapTotal = get("SwapTotal", m.SwapTotal, m.SwapTotalBytes)
	info.SwapFree = get("SwapFree", m.SwapFree, m.SwapFreeBytes)
	hugetlb := get("Hugetlb", m.Hugetlb, m.HugetlbBytes)
	pageSize := get("Hugepagesize", m.Hugepagesize, m.HugepagesizeBytes)
	if err != nil {
		return Info{}, err
	}
	if m.MemTotalBytes == nil {
		return Info{}, errors.New("no MemTotal line: not a Linux /proc/meminfo")
	}
	if info.MemTotal == 0 {
		return Info{}, errors.New("MemTotal is 0")
	}

	info.HasMemAvailable = m.MemAvailableBytes != nil
	if !info.HasMemAvailable {
		info.MemAvailable = estimateAvailable(info)
		info.MemAvailableEstimated = true
	}

	switch {
	case m.HugetlbBytes != nil:
		info.Hugepages = hugetlb
		info.HugepagesSource = HugepagesFromHugetlb
	case m.HugePagesTotal != nil && m.HugepagesizeBytes != nil:
		hi, lo := bits.Mul64(*m.HugePagesTotal, pageSize)
		if hi != 0 {
			return Info{}, fmt.Errorf("HugePages_Total × Hugepagesize (%d × %d bytes) overflows 64 bits",
				*m.HugePagesTotal, pageSize)
		}
		info.Hugepages = lo
		info.HugepagesSource = HugepagesFromPages
	}
	return info, nil
}

// estimateAvailable computes MemAvailable for kernels that do not print it;
// see Info.MemAvailableEstimated. It saturates instead of overflowing.
func estimateAvailable(info Info) uint64 {
	v := info.MemFree
	for _, add := range []uint64{info.ActiveFile / 2, info.InactiveFile / 2, info.SReclaimable / 2} {
		if v > math.MaxUint64-add {
			return math.MaxUint64
		}
		v += add
	}
	return v
}

// Read reads <root>/proc/meminfo with procfs. Errors name the file; for a
// malformed file they also give the line, which procfs does not report:
// after a procfs error the file is read again to find the first bad line.
func Read(root string) (Info, error) {
	path := filepath.Join(root, Path)
	fsys, err := procfs.NewFS(filepath.Join(root, "proc"))
	if err != nil {
		return Info{}, fileError(path, err)
	}
	m, err := fsys.Meminfo()
	if err == nil {
		var info Info
		if info, err = FromProcfs(m); err == nil {
			return info, nil
		}
	} else if !errors.Is(err, procfs.ErrFileParse) {
		return Info{}, fileError(path, err)
	}
	if b, rerr := os.ReadFile(path); rerr == nil {
		var le *LineError
		if _, perr := Parse(bytes.NewReader(b)); errors.As(perr, &le) {
			le.Path = path
			le.Err = err
			return Info{}, le
		}
	}
	return Info{}, fmt.Errorf("%s: %w", path, err)
}

// Parse reads a /proc/meminfo file. It is a small equivalent of procfs's
// private meminfo parser, with the same rules: every line is "Key: value" or
// "Key: value kB" split on white space, the value is an unsigned integer as
// strconv.ParseUint reads it with base 0 (so "0x10" and "010" are accepted
// as procfs accepts them), a kB value is multiplied by 1024, unknown keys
// are ignored and a repeated key takes the last value. The result then goes
// through FromProcfs, so Parse and Read agree on every file a kernel can
// produce; the tests and FuzzParse check this against procfs itself.
//
// Parse is stricter than procfs in two ways that no kernel output reaches:
// a line longer than 64 KiB is an error (procfs silently stops reading
// there), and the whole stream is read (procfs reads at most 1 MiB).
//
// A malformed line gives a *LineError with the 1-based line number; so does
// a used value whose kB count overflows 64-bit bytes.
func Parse(r io.Reader) (Info, error) {
	type seen struct {
		line   int
		text   string
		raw, b uint64
	}
	last := make(map[string]seen, len(usedKeys))
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		key, raw, b, err := parseMeminfoLine(line)
		if err != nil {
			err.Line = n
			return Info{}, err
		}
		if _, ok := usedKeys[key]; ok {
			last[key] = seen{n, line, raw, b}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Info{}, &LineError{Line: n + 1, Reason: "longer than 64 KiB", Err: err}
		}
		return Info{}, fmt.Errorf("reading meminfo: %w", err)
	}

	// Report the first line, in file order, whose kB value overflows.
	var bad *LineError
	for key, v := range last {
		if key != "HugePages_Total:" && v.raw > math.MaxUint64/1024 && v.b != v.raw && (bad == nil || v.line < bad.Line) {
			bad = &LineError{Line: v.line, Text: v.text,
				Reason: fmt.Sprintf("%d kB overflows 64-bit bytes", v.raw)}
		}
	}
	if bad != nil {
		return Info{}, bad
	}

	var m procfs.Meminfo
	for key, v := range last {
		raw, b := v.raw, v.b
		switch key {
		case "MemTotal:":
			m.MemTotal, m.MemTotalBytes = &raw, &b
		case "MemFree:":
			m.MemFree, m.MemFreeBytes = &raw, &b
		case "MemAvailable:":
			m.MemAvailable, m.MemAvailableBytes = &raw, &b
		case "Active(file):":
			m.ActiveFile, m.ActiveFileBytes = &raw, &b
		case "Inactive(file):":
			m.InactiveFile, m.InactiveFileBytes = &raw, &b
		case "SReclaimable:":
			m.SReclaimable, m.SReclaimableBytes = &raw, &b
		case "SUnreclaim:":
			m.SUnreclaim, m.SUnreclaimBytes = &raw, &b
		case "Shmem:":
			m.Shmem, m.ShmemBytes = &raw, &b
		case "SwapTotal:":
			m.SwapTotal, m.SwapTotalBytes = &raw, &b
		case "SwapFree:":
			m.SwapFree, m.SwapFreeBytes = &raw, &b
		case "Hugetlb:":
			m.Hugetlb, m.HugetlbBytes = &raw, &b
		case "Hugepagesize:":
			m.Hugepagesize, m.HugepagesizeBytes = &raw, &b
		case "HugePages_Total:":
			// A page count: procfs keeps only the number as printed.
			m.HugePagesTotal = &raw
		}
	}
	return FromProcfs(m)
}

// usedKeys are the lines FromProcfs uses.
var usedKeys = map[string]struct{}{
	"MemTotal:": {}, "MemFree:": {}, "MemAvailable:": {}, "Active(file):": {},
	"Inactive(file):": {}, "SReclaimable:": {}, "SUnreclaim:": {}, "Shmem:": {},
	"SwapTotal:": {}, "SwapFree:": {}, "Hugetlb:": {}, "Hugepagesize:": {},
	"HugePages_Total:": {},
}

// parseMeminfoLine applies procfs's rules to one line. b wraps around like
// procfs's 1024*val for a huge kB value; callers check for that.
func parseMeminfoLine(line string) (key string, raw, b uint64, _ *LineError) {
	fields := strings.Fields(line)
	if len(fields) < 2 || len(fields) > 3 {
		return "", 0, 0, &LineError{Text: line,
			Reason: fmt.Sprintf(`want "Key: value" or "Key: value kB", got %d fields`, len(fields))}
	}
	raw, err := strconv.ParseUint(fields[1], 0, 64)
	if err != nil {
		return "", 0, 0, &LineError{Text: line,
			Reason: fmt.Sprintf("value %q is not an unsigned 64-bit integer", fields[1]), Err: err}
	}
	b = raw
	if len(fields) == 3 {
		if fields[2] != "kB" {
			return "", 0, 0, &LineError{Text: line,
				Reason: fmt.Sprintf("unit %q is not kB", fields[2])}
		}
		b = 1024 * raw
	}
	return fields[0], raw, b, nil
}
