// Package meminfo reads the kernel's view of memory from /proc/meminfo,
// /proc/pressure/memory and /proc/vmstat under a root directory.
package meminfo

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/rootfs"

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

	// What the kernel and the host's processes hold, for the breakdown of
	// the measured host term (policy): Buffers and Cached (page cache,
	// Cached includes Shmem), AnonPages (process memory), and the kernel's
	// own KernelStack, PageTables and Percpu.
	Buffers, Cached, AnonPages, KernelStack, PageTables, Percpu uint64

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
	info.Buffers = get("Buffers", m.Buffers, m.BuffersBytes)
	info.Cached = get("Cached", m.Cached, m.CachedBytes)
	info.AnonPages = get("AnonPages", m.AnonPages, m.AnonPagesBytes)
	info.KernelStack = get("KernelStack", m.KernelStack, m.KernelStackBytes)
	info.PageTables = get("PageTables", m.PageTables, m.PageTablesBytes)
	info.Percpu = get("Percpu", m.Percpu, m.PercpuBytes)
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

	if info.MemAvailable > info.MemTotal {
		return Info{}, fmt.Errorf("malformed: MemAvailable (%d bytes) is above MemTotal (%d bytes)", info.MemAvailable, info.MemTotal)
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
	if info.Hugepages > info.MemTotal {
		return Info{}, fmt.Errorf("malformed: hugepages (%d bytes, %s) are above MemTotal (%d bytes)", info.Hugepages, info.HugepagesSource, info.MemTotal)
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

// Read reads <root>/proc/meminfo, confined to the root (internal/rootfs: no
// FIFO, device or symlink out of it, at most 256 KiB), and parses it with
// procfs, the one parser of this file. Errors name the file; procfs names the malformed line by its text
// where it can (a bad unit, a wrong number of fields), not by its number.
func Read(fsys *rootfs.FS) (Info, error) {
	path := fsys.Path(Path)
	data, err := fsys.ReadFile(Path, maxRead)
	if err != nil {
		return Info{}, err
	}
	var m procfs.Meminfo
	err = withProcfs("meminfo", data, func(fsys procfs.FS) (err error) {
		m, err = fsys.Meminfo()
		return err
	})
	if err != nil {
		if errors.Is(err, procfs.ErrFileParse) {
			return Info{}, parseError(path, err)
		}
		return Info{}, fileError(path, err)
	}
	info, err := FromProcfs(m)
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}

// parseError names path in a procfs parse error, without procfs's
// repeated "error parsing file: " prefixes; errors.Is still finds
// procfs.ErrFileParse.
func parseError(path string, err error) error {
	msg := err.Error()
	for {
		rest, ok := strings.CutPrefix(msg, procfs.ErrFileParse.Error()+": ")
		if !ok {
			break
		}
		msg = rest
	}
	return &procfsError{msg: path + ": malformed: " + msg, err: err}
}

type procfsError struct {
	msg string
	err error
}

func (e *procfsError) Error() string { return e.msg }
func (e *procfsError) Unwrap() error { return e.err }
