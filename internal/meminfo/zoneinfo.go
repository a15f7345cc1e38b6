package meminfo

import (
	"errors"
	"fmt"
	"math/bits"
	"path/filepath"

	"github.com/arcadvise/arcadvise/internal/rootfs"

	"github.com/prometheus/procfs"
)

// ZoneinfoPath is the location of the zoneinfo file below the root directory.
const ZoneinfoPath = "proc/zoneinfo"

// maxZoneinfo bounds the read of /proc/zoneinfo: it grows with zones and
// CPUs (one pageset block per CPU per zone), about 100 KiB on a 2-socket
// 128-CPU host; 4 MiB leaves room for the largest and stops a hostile file.
const maxZoneinfo = 4 << 20

// Watermarks are the kernel's page-reclaim watermarks summed over every zone
// of every node, in bytes. kswapd wakes when a zone's free pages fall below
// low and reclaims until they are above high; an allocation that finds a zone
// below min reclaims itself (direct reclaim: allocstall). They already carry
// vm.min_free_kbytes (which sets min) and vm.watermark_scale_factor (the gap
// to low and high), so they are read here rather than recomputed from those
// sysctls (mm/page_alloc.c __setup_per_zone_wmarks).
type Watermarks struct {
	Min, Low, High uint64
	Managed        uint64 // pages the buddy allocator manages, in bytes
	Zones          int    // zones with managed pages
	PageSize       uint64 // bytes per page, derived from MemTotal / managed pages
}

// WatermarksFromProcfs sums the zones procfs parsed. memTotal (bytes, from
// /proc/meminfo) gives the page size: MemTotal is the sum of the zones'
// managed pages, so MemTotal / managed is the page size the file counts in
// (4 KiB on x86-64, 4, 16 or 64 KiB on arm64). When the two do not fit a
// power of two between 4 KiB and 64 KiB, 4 KiB is assumed.
func WatermarksFromProcfs(zones []procfs.Zoneinfo, memTotal uint64) (Watermarks, error) {
	var w Watermarks
	var minP, lowP, highP, managedP uint64
	add := func(sum *uint64, v *int64) error {
		if v == nil {
			return nil
		}
		if *v < 0 {
			return fmt.Errorf("negative page count %d", *v)
		}
		s, carry := bits.Add64(*sum, uint64(*v), 0)
		if carry != 0 {
			return errors.New("page counts overflow 64 bits")
		}
		*sum = s
		return nil
	}
	for _, z := range zones {
		if z.Managed == nil || *z.Managed == 0 {
			continue // an empty zone (Movable, Device) has watermarks of 0 anyway
		}
		if z.Min == nil || z.Low == nil || z.High == nil {
			return Watermarks{}, fmt.Errorf("node %s zone %s has no min, low or high line (or one procfs could not read)", z.Node, z.Zone)
		}
		w.Zones++
		for _, f := range []struct {
			sum *uint64
			v   *int64
		}{{&minP, z.Min}, {&lowP, z.Low}, {&highP, z.High}, {&managedP, z.Managed}} {
			if err := add(f.sum, f.v); err != nil {
				return Watermarks{}, fmt.Errorf("node %s zone %s: %w", z.Node, z.Zone, err)
			}
		}
	}
	if w.Zones == 0 {
		return Watermarks{}, errors.New("no zone with managed pages")
	}
	w.PageSize = pageSize(memTotal, managedP)
	for _, f := range []struct {
		dst *uint64
		p   uint64
	}{{&w.Min, minP}, {&w.Low, lowP}, {&w.High, highP}, {&w.Managed, managedP}} {
		hi, lo := bits.Mul64(f.p, w.PageSize)
		if hi != 0 {
			return Watermarks{}, errors.New("watermarks overflow 64-bit bytes")
		}
		*f.dst = lo
	}
	if w.High < w.Low || w.Low < w.Min {
		return Watermarks{}, fmt.Errorf("watermarks out of order: min %d, low %d, high %d pages", minP, lowP, highP)
	}
	return w, nil
}

// pageSize is MemTotal / managed pages rounded to the nearest power of two,
// when that is 4–64 KiB; else 4 KiB.
func pageSize(memTotal, managed uint64) uint64 {
	if managed == 0 || memTotal == 0 {
		return 4096
	}
	q := memTotal / managed
	if q < 3<<10 || q > 96<<10 {
		return 4096
	}
	p := uint64(1) << (bits.Len64(q) - 1)
	if q-p > 2*p-q { // nearer the next power of two
		p *= 2
	}
	return p
}

// ReadWatermarks reads <root>/proc/zoneinfo, confined to the root and at
// most 4 MiB, and parses it with procfs. memTotal is /proc/meminfo's, for
// the page size. A root without the file returns an error satisfying
// errors.Is(err, fs.ErrNotExist): snapshots from before it was recorded.
func ReadWatermarks(root string, memTotal uint64) (Watermarks, error) {
	path := filepath.Join(root, ZoneinfoPath)
	data, err := rootfs.ReadFile(root, ZoneinfoPath, maxZoneinfo)
	if err != nil {
		return Watermarks{}, err
	}
	var zones []procfs.Zoneinfo
	err = withProcfs("zoneinfo", data, func(fsys procfs.FS) (err error) {
		zones, err = fsys.Zoneinfo()
		return err
	})
	if err != nil {
		if errors.Is(err, procfs.ErrFileParse) {
			return Watermarks{}, parseError(path, err)
		}
		return Watermarks{}, fileError(path, err)
	}
	w, err := WatermarksFromProcfs(zones, memTotal)
	if err != nil {
		return Watermarks{}, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}
