package declared

import (
	"fmt"
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
// src/PVE/QemuServer/Memory.pm:559). defaultSize is the default page size,
// Hugepagesize in /proc/meminfo, which has one reader (meminfo.Read: its
// Info.Hugepagesize). A host without them has none.
func ReadHugePages(fsys *rootfs.FS, defaultSize uint64) (HugePages, error) {
	h := HugePages{Default: defaultSize}
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
