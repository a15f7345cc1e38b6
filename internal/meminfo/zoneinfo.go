package meminfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/rootfs"
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
	// Min, Low and High are the zones' watermarks without the boost in
	// force at the reading (zoneinfo prints them with it: min_wmark_pages()
	// and the others add zone->watermark_boost, include/linux/mmzone.h from
	// Linux 5.0); Boost is that boost, summed (0 before 5.0, whose zoneinfo
	// has no "boost" line).
	Min, Low, High uint64
	Boost          uint64
	Managed        uint64 // pages the buddy allocator manages, in bytes
	Zones          int    // zones with managed pages
	PageSize       uint64 // bytes per page, derived from MemTotal / managed pages
	// PCPCount and PCPBound are the per-CPU free lists (the zones'
	// "pagesets"), summed over every CPU of every zone, in bytes: the free
	// pages they hold now, and the most they keep while memory is short.
	// Pages on these lists are free but counted neither in MemFree
	// (NR_FREE_PAGES drops when rmqueue_bulk moves them there and rises
	// only when free_pcppages_bulk gives them back to the buddy lists) nor
	// by the watermark check, nor by the ARC's arc_free_memory(). The bound
	// is each CPU's "high" (a static limit up to 6.6: zone_highsize() in
	// mm/page_alloc.c, about the zone's low watermark split over its CPUs
	// by default); from 6.7 the kernel tunes high at run time between
	// "high_min" and "high_max" and, while a zone is below its high
	// watermark, pulls it down to high_min (nr_pcp_high, decay_pcp_high),
	// so high_min is the bound where the file shows it. HasPCP is false
	// when the file has no pagesets.
	PCPCount, PCPBound uint64
	HasPCP             bool
}

// zone is one "Node N, zone NAME" block's watermarks, in pages.
type zone struct {
	name                    string
	min, low, high, managed uint64
	boost                   uint64
	has                     [5]bool
	// The pagesets' lines, summed over the zone's CPUs.
	pcpCount, pcpHigh, pcpHighMin uint64
	hasPCP, hasHighMin            bool
}

// ParseWatermarks reads /proc/zoneinfo's "Node N, zone NAME" blocks and
// sums the min, low, high and managed page counts of the zones that have
// managed pages (mm/vmstat.c zoneinfo_show_print: one "name value" pair a
// line), each watermark less the zone's boost in force ("boost"), and the pagesets' per-CPU "count:", "high:" and "high_min:" lines
// (with a colon) over every zone.
// memTotal (bytes, from /proc/meminfo) gives the page size: MemTotal is the
// sum of the zones' managed pages, so MemTotal / managed is the page size
// the file counts in (4 KiB on x86-64; 4, 16 or 64 KiB on arm64); when the
// two do not fit a power of two between 4 and 64 KiB, 4 KiB is assumed.
//
// By hand rather than with procfs's Zoneinfo, which matches a regular
// expression against every line: on the lane's guest that parse alone cost
// 2.5 M instructions a run, a fifth of arcadvise's whole run.
func ParseWatermarks(r io.Reader, memTotal uint64) (Watermarks, error) {
	var zones []zone
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte("Node ")); ok {
			_, name, found := strings.Cut(string(rest), ", zone")
			if !found {
				return Watermarks{}, fmt.Errorf("line %d: %q is not a \"Node N, zone NAME\" header", n, line)
			}
			zones = append(zones, zone{name: strings.TrimSpace(name)})
			continue
		}
		if len(zones) == 0 {
			continue
		}
		f := bytes.Fields(line)
		if len(f) != 2 {
			continue
		}
		z := &zones[len(zones)-1]
		var i int
		var dst *uint64
		switch string(f[0]) {
		case "count:", "high:", "high_min:":
			v, err := strconv.ParseUint(string(f[1]), 10, 64)
			if err != nil {
				return Watermarks{}, fmt.Errorf("line %d: zone %s pageset %s %q is not a page count", n, z.name, f[0], f[1])
			}
			sum := &z.pcpCount
			switch string(f[0]) {
			case "high:":
				sum = &z.pcpHigh
			case "high_min:":
				sum, z.hasHighMin = &z.pcpHighMin, true
			}
			var carry uint64
			if *sum, carry = bits.Add64(*sum, v, 0); carry != 0 {
				return Watermarks{}, fmt.Errorf("line %d: pageset page counts overflow 64 bits", n)
			}
			z.hasPCP = true
			continue
		case "min":
			i, dst = 0, &z.min
		case "low":
			i, dst = 1, &z.low
		case "high":
			i, dst = 2, &z.high
		case "managed":
			i, dst = 3, &z.managed
		case "boost":
			i, dst = 4, &z.boost
		default:
			continue
		}
		if z.has[i] {
			continue // the first one of a block counts
		}
		v, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			return Watermarks{}, fmt.Errorf("line %d: zone %s %s: %q is not a page count", n, z.name, f[0], f[1])
		}
		*dst, z.has[i] = v, true
	}
	if err := sc.Err(); err != nil {
		return Watermarks{}, fmt.Errorf("line %d: %w", n+1, err)
	}
	return sumZones(zones, memTotal)
}

func sumZones(zones []zone, memTotal uint64) (Watermarks, error) {
	var w Watermarks
	var minP, lowP, highP, managedP, countP, boundP, boostP uint64
	for _, z := range zones {
		if z.hasPCP {
			bound := z.pcpHigh
			if z.hasHighMin {
				bound = z.pcpHighMin
			}
			var c1, c2 uint64
			countP, c1 = bits.Add64(countP, z.pcpCount, 0)
			boundP, c2 = bits.Add64(boundP, bound, 0)
			if c1|c2 != 0 {
				return Watermarks{}, errors.New("pageset page counts overflow 64 bits")
			}
			w.HasPCP = true
		}
		if !z.has[3] || z.managed == 0 {
			continue // an empty zone (Movable, Device) has watermarks of 0 anyway
		}
		if !z.has[0] || !z.has[1] || !z.has[2] {
			return Watermarks{}, fmt.Errorf("zone %s has no min, low or high line", z.name)
		}
		w.Zones++
		// The boost in force is in every watermark printed; the base is
		// what the boost lifts again (boost_watermark() caps it at a share
		// of the base high). A boost above the printed min is no kernel's.
		boost := z.boost
		if boost > z.min {
			return Watermarks{}, fmt.Errorf("zone %s: boost %d pages is above its min %d, which includes it", z.name, z.boost, z.min)
		}
		for _, f := range []struct {
			sum *uint64
			v   uint64
		}{{&minP, z.min - boost}, {&lowP, z.low - boost}, {&highP, z.high - boost}, {&managedP, z.managed}, {&boostP, boost}} {
			s, carry := bits.Add64(*f.sum, f.v, 0)
			if carry != 0 {
				return Watermarks{}, errors.New("page counts overflow 64 bits")
			}
			*f.sum = s
		}
	}
	if w.Zones == 0 {
		return Watermarks{}, errors.New("no zone with managed pages")
	}
	w.PageSize = pageSize(memTotal, managedP)
	for _, f := range []struct {
		dst *uint64
		p   uint64
	}{{&w.Min, minP}, {&w.Low, lowP}, {&w.High, highP}, {&w.Managed, managedP}, {&w.PCPCount, countP}, {&w.PCPBound, boundP}, {&w.Boost, boostP}} {
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
// most 4 MiB. memTotal is /proc/meminfo's, for the page size. A root
// without the file returns an error satisfying errors.Is(err,
// fs.ErrNotExist): snapshots from before it was recorded.
func ReadWatermarks(fsys *rootfs.FS, memTotal uint64) (Watermarks, error) {
	data, err := fsys.ReadFile(ZoneinfoPath, maxZoneinfo)
	if err != nil {
		return Watermarks{}, err
	}
	w, err := ParseWatermarks(bytes.NewReader(data), memTotal)
	if err != nil {
		return Watermarks{}, fmt.Errorf("%s: %w", fsys.Path(ZoneinfoPath), err)
	}
	return w, nil
}
