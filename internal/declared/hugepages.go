package declared

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/size"
)

// HugePool is the host's pool of huge pages of one size, in pages, from
// /sys/kernel/mm/hugepages/hugepages-<size>kB/ (the kernel's
// Documentation/admin-guide/mm/hugetlbpage.rst): nr_hugepages,
// free_hugepages and resv_hugepages. Reserved pages are promised to a
// mapping and not yet faulted in; they are counted in Free.
type HugePool struct {
	PageSize              uint64 // bytes
	Total, Free, Reserved uint64 // pages
}

// Available is the pages a guest that starts can still take: free and
// not reserved.
func (p HugePool) Available() uint64 {
	if p.Reserved > p.Free {
		return 0
	}
	return p.Free - p.Reserved
}

// HugePages is the host's huge page pools. Default is the default page
// size (Hugepagesize in /proc/meminfo), 0 when the kernel has none.
type HugePages struct {
	Default uint64
	Pools   []HugePool
}

// Pool returns the pool of pages of sz bytes.
func (h HugePages) Pool(sz uint64) (HugePool, bool) {
	for _, p := range h.Pools {
		if p.PageSize == sz {
			return p, true
		}
	}
	return HugePool{}, false
}

// Host is what Count needs to know of the host.
type Host struct {
	// MemTotal (bytes, /proc/meminfo) is what a memory.min of "max"
	// protects, and the most any protection can.
	MemTotal  uint64
	HugePages HugePages
}

const hugepagesDir = "sys/kernel/mm/hugepages"

// ReadHugePages reads the huge page pools under the root: one per
// directory hugepages-<N>kB in /sys/kernel/mm/hugepages (a size the host
// supports, as qemu-server's hugepages_chunk_size_supported checks,
// src/PVE/QemuServer/Memory.pm:559), and the default size from
// /proc/meminfo. A host without them has none.
func ReadHugePages(fsys *rootfs.FS) (HugePages, error) {
	var h HugePages
	b, ok, err := readOpt(fsys, "proc/meminfo", 256<<10)
	if err != nil {
		return HugePages{}, err
	}
	if ok {
		if h.Default, err = ParseHugepagesize(bytes.NewReader(b), fsys.Path("proc/meminfo")); err != nil {
			return HugePages{}, err
		}
	}
	des, err := readDir(fsys, hugepagesDir, 64)
	if err != nil {
		return HugePages{}, err
	}
	for _, de := range des {
		kb, ok := strings.CutPrefix(de.Name(), "hugepages-")
		if !ok {
			continue
		}
		kb, ok = strings.CutSuffix(kb, "kB")
		n, err := strconv.ParseUint(kb, 10, 64)
		if !ok || err != nil || n == 0 || n > MaxBytes/size.KiB {
			return HugePages{}, fmt.Errorf("%s: not a huge page size directory (want hugepages-<N>kB)",
				fsys.Path(path.Join(hugepagesDir, de.Name())))
		}
		p := HugePool{PageSize: n * size.KiB}
		for _, f := range []struct {
			name string
			v    *uint64
		}{{"nr_hugepages", &p.Total}, {"free_hugepages", &p.Free}, {"resv_hugepages", &p.Reserved}} {
			rel := path.Join(hugepagesDir, de.Name(), f.name)
			b, err := fsys.ReadFile(rel, maxSmall)
			if err != nil {
				return HugePages{}, err
			}
			if *f.v, err = parseCount(string(b), fsys.Path(rel)); err != nil {
				return HugePages{}, err
			}
		}
		h.Pools = append(h.Pools, p)
	}
	return h, nil
}

// parseCount reads a sysfs number: decimal digits and a newline.
func parseCount(s, name string) (uint64, error) {
	v, _ := strings.CutSuffix(s, "\n")
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || v == "" || v[0] == '+' {
		return 0, lineError(name, 1, "%q is not a count of pages", clip(v))
	}
	return n, nil
}

// ParseHugepagesize finds the Hugepagesize line of /proc/meminfo
// ("Hugepagesize:    2048 kB") and returns the size in bytes; 0 when the
// kernel prints none (no hugetlb support). name is for messages.
func ParseHugepagesize(r io.Reader, name string) (uint64, error) {
	sc := bufio.NewScanner(io.LimitReader(r, 256<<10))
	for n := 1; sc.Scan(); n++ {
		rest, ok := strings.CutPrefix(sc.Text(), "Hugepagesize:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, lineError(name, n, "Hugepagesize: %q: want a number of kB", clip(rest))
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil || v == 0 || v > MaxBytes/size.KiB || f[0][0] == '+' {
			return 0, lineError(name, n, "Hugepagesize: %q is not a page size in kB", clip(f[0]))
		}
		return v * size.KiB, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return 0, nil
}
