// Package meminfo reads the kernel's view of memory from /proc/meminfo,
// /proc/pressure/memory and /proc/vmstat under a root directory.
package meminfo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/arcadvise/arcadvise/internal/rootfs"
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
	// Hugepagesize is the default huge page size in bytes (the page size
	// of a hugetlb mapping that names none, such as libvirt's
	// <hugepages/>), 0 when the kernel prints none.
	Hugepagesize uint64
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

// maxRead bounds how much of a /proc memory file is read: a real
// /proc/meminfo is under 2 KiB, /proc/pressure/memory under 200 bytes.
const maxRead = 256 << 10

// Read reads <root>/proc/meminfo, confined to the root (internal/rootfs: no
// FIFO, device or symlink out of it, at most 256 KiB), and parses it with
// ParseMeminfo. Errors name the file, and the line for a malformed one.
func Read(fsys *rootfs.FS) (Info, error) {
	data, err := fsys.ReadFile(Path, maxRead)
	if err != nil {
		return Info{}, err
	}
	info, err := ParseMeminfo(bytes.NewReader(data))
	if err != nil {
		return Info{}, withPath(fsys.Path(Path), err)
	}
	return info, nil
}

// withPath names the file in a parse error: a *LineError gets its Path,
// anything else the "path: " prefix.
func withPath(path string, err error) error {
	var le *LineError
	if errors.As(err, &le) {
		le.Path = path
		return le
	}
	return fmt.Errorf("%s: %w", path, err)
}

// meminfoKey is a /proc/meminfo line that Info uses.
type meminfoKey int

const (
	kMemTotal meminfoKey = iota
	kMemFree
	kMemAvailable
	kActiveFile
	kInactiveFile
	kSReclaimable
	kSUnreclaim
	kShmem
	kSwapTotal
	kSwapFree
	kBuffers
	kCached
	kAnonPages
	kKernelStack
	kPageTables
	kPercpu
	kHugetlb
	kHugepagesize
	kHugePagesTotal
	numMeminfoKeys
)

// meminfoKeys maps the name of a line, with its colon, to its key. The
// kernel prints them in fs/proc/meminfo.c meminfo_proc_show (hugetlb lines:
// mm/hugetlb.c hugetlb_report_meminfo).
var meminfoKeys = map[string]meminfoKey{
	"MemTotal:": kMemTotal, "MemFree:": kMemFree, "MemAvailable:": kMemAvailable,
	"Active(file):": kActiveFile, "Inactive(file):": kInactiveFile,
	"SReclaimable:": kSReclaimable, "SUnreclaim:": kSUnreclaim, "Shmem:": kShmem,
	"SwapTotal:": kSwapTotal, "SwapFree:": kSwapFree,
	"Buffers:": kBuffers, "Cached:": kCached, "AnonPages:": kAnonPages,
	"KernelStack:": kKernelStack, "PageTables:": kPageTables, "Percpu:": kPercpu,
	"Hugetlb:": kHugetlb, "Hugepagesize:": kHugepagesize, "HugePages_Total:": kHugePagesTotal,
}

// meminfoLine is the last line seen of one key.
type meminfoLine struct {
	n     int    // 1-based line number, 0 when the key was absent
	text  string // the line, for errors
	value uint64 // the number as printed (a page count for HugePages_Total)
	bytes uint64 // in bytes: value × 1024 with "kB", else value
}

// ParseMeminfo parses a /proc/meminfo file: one "Name: value [kB]" line per
// entry (fs/proc/meminfo.c), value an unsigned decimal integer, "kB" the
// only unit (1024 bytes); a value without a unit is taken as it is (the
// HugePages_ counts). Blank lines are skipped, unknown names ignored but
// checked, and of a repeated name the last line counts. A malformed line,
// and a value that contradicts another (MemTotal 0, MemAvailable or
// hugepages above MemTotal), give a *LineError with the line's number.
// At most 256 KiB is read.
func ParseMeminfo(r io.Reader) (Info, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRead+1))
	if err != nil {
		return Info{}, fmt.Errorf("reading meminfo: %w", err)
	}
	if len(data) > maxRead {
		return Info{}, fmt.Errorf("larger than %d bytes: not a /proc/meminfo", maxRead)
	}
	var lines [numMeminfoKeys]meminfoLine
	n := 0
	for line := range strings.Lines(string(data)) {
		n++
		line = strings.TrimSuffix(line, "\n")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 && len(f) != 3 {
			return Info{}, lineError(n, line, `want "Name: value" or "Name: value kB"`)
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return Info{}, lineError(n, line, "value is not an unsigned decimal 64-bit integer")
		}
		b := v
		if len(f) == 3 {
			if f[2] != "kB" {
				return Info{}, lineError(n, line, fmt.Sprintf("unit %q is not kB", f[2]))
			}
			if v > math.MaxUint64/1024 {
				return Info{}, lineError(n, line, fmt.Sprintf("%d kB overflows 64-bit bytes", v))
			}
			b = v * 1024
		}
		if k, ok := meminfoKeys[f[0]]; ok {
			lines[k] = meminfoLine{n: n, text: line, value: v, bytes: b}
		}
	}
	return infoFrom(&lines)
}

// infoFrom builds an Info from the lines ParseMeminfo kept.
func infoFrom(l *[numMeminfoKeys]meminfoLine) (Info, error) {
	info := Info{
		MemTotal: l[kMemTotal].bytes, MemFree: l[kMemFree].bytes, MemAvailable: l[kMemAvailable].bytes,
		ActiveFile: l[kActiveFile].bytes, InactiveFile: l[kInactiveFile].bytes,
		SReclaimable: l[kSReclaimable].bytes, SUnreclaim: l[kSUnreclaim].bytes, Shmem: l[kShmem].bytes,
		SwapTotal: l[kSwapTotal].bytes, SwapFree: l[kSwapFree].bytes,
		Buffers: l[kBuffers].bytes, Cached: l[kCached].bytes, AnonPages: l[kAnonPages].bytes,
		KernelStack: l[kKernelStack].bytes, PageTables: l[kPageTables].bytes, Percpu: l[kPercpu].bytes,
		Hugepagesize: l[kHugepagesize].bytes,
	}
	bad := func(k meminfoKey, format string, a ...any) error {
		return lineError(l[k].n, l[k].text, fmt.Sprintf(format, a...))
	}
	if l[kMemTotal].n == 0 {
		return Info{}, errors.New("no MemTotal line: not a Linux /proc/meminfo")
	}
	if info.MemTotal == 0 {
		return Info{}, bad(kMemTotal, "MemTotal is 0")
	}
	info.HasMemAvailable = l[kMemAvailable].n != 0
	if info.MemAvailable > info.MemTotal {
		return Info{}, bad(kMemAvailable, "MemAvailable (%d bytes) is above MemTotal (%d bytes)", info.MemAvailable, info.MemTotal)
	}
	if !info.HasMemAvailable {
		info.MemAvailable = estimateAvailable(info)
		info.MemAvailableEstimated = true
	}

	from := kHugetlb
	switch {
	case l[kHugetlb].n != 0:
		info.Hugepages = l[kHugetlb].bytes
		info.HugepagesSource = HugepagesFromHugetlb
	case l[kHugePagesTotal].n != 0 && l[kHugepagesize].n != 0:
		from = kHugePagesTotal
		count, size := l[kHugePagesTotal].value, l[kHugepagesize].bytes
		hi, lo := bits.Mul64(count, size)
		if hi != 0 {
			return Info{}, bad(from, "HugePages_Total × Hugepagesize (%d × %d bytes) overflows 64 bits", count, size)
		}
		info.Hugepages = lo
		info.HugepagesSource = HugepagesFromPages
	}
	if info.Hugepages > info.MemTotal {
		return Info{}, bad(from, "hugepages (%d bytes, %s) are above MemTotal (%d bytes)", info.Hugepages, info.HugepagesSource, info.MemTotal)
	}
	return info, nil
}

// lineError is a *LineError for line n, quoting at most 80 bytes of it.
func lineError(n int, line, reason string) error {
	const max = 80
	if len(line) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut] + "…"
	}
	return &LineError{Line: n, Text: line, Reason: reason}
}
