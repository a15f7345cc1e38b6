package meminfo

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// zoneRoot lays out a root holding proc/zoneinfo with content.
func zoneRoot(t testing.TB, content string) string {
	root := t.TempDir()
	testutil.WriteTree(t, root, map[string]string{ZoneinfoPath: content})
	return root
}

func TestReadWatermarks(t *testing.T) {
	const page = 4096
	for _, tc := range []struct {
		name     string
		file     string // under testdata/zoneinfo
		memTotal uint64
		want     Watermarks
	}{
		// This project's build machine (x86-64, one node; Movable and
		// Device zones are empty and skipped). Its MemTotal does not
		// match the managed pages (a hot-plugged VM), and the page size
		// still comes out at 4 KiB. Its kernel (6.18) tunes the per-CPU
		// lists' high and shows high_min, the bound: DMA 9 + 9, DMA32 1898
		// + 1898, Normal 8696 + 8696 over its two CPUs; the lists hold
		// 17357 + 7166 pages in Normal, more than that bound.
		{"sandbox", "sandbox-6.18-24g", 24683652 << 10, Watermarks{
			Min: (15 + 3025 + 13855) * page, Low: (18 + 3797 + 17393) * page, High: (21 + 4569 + 20931) * page,
			Managed: (3840 + 772807 + 3538944) * page, Zones: 3, PageSize: page,
			PCPCount: (17357 + 7166) * page, PCPBound: (18 + 3796 + 17392) * page, HasPCP: true}},
		// The lane's 4 GiB guest (Debian 12, 6.1, OpenZFS 2.3.2): THP raises
		// min_free_kbytes to 67584 kB, so min sums to 66 MiB.
		{"lane guest", "../../../../testdata/vm/2.3.2-2~bpo12+2/50-frontier-rest-4096M/proc/zoneinfo", 4007116 << 10, Watermarks{
			Min: (65 + 12907 + 3922) * page, Low: (81 + 16133 + 4902) * page, High: (97 + 19359 + 5882) * page,
			Managed: (3840 + 765914 + 232025) * page, Zones: 3, PageSize: page,
			// 6.1: no high_min, high is the bound (DMA 40 × 2 CPUs, DMA32
			// 8066 × 2, Normal 2451 × 2); the lists hold DMA32 470 and
			// Normal 1074 pages at this reading.
			PCPCount: (470 + 1074) * page, PCPBound: (80 + 16132 + 4902) * page, HasPCP: true}},
		// The same guest under a stress-ng run at a capped ARC: a watermark
		// boost of 3072 pages in force in Normal, which zoneinfo adds to its
		// min 7221, low 8258 and high 9295 (min_wmark_pages() and the others,
		// include/linux/mmzone.h). The watermarks without it: 4149, 5186,
		// 6223; the kernel's own per-CPU high for Normal, 2593 × 2 CPUs =
		// 5186, is that low, computed without the boost.
		{"lane guest, a boost in force", "../../../../testdata/vm/2.3.2-2~bpo12+2/30-capped-pressure/proc/zoneinfo", 4007108 << 10, Watermarks{
			Min: (65 + 12680 + 4149) * page, Low: (81 + 15850 + 5186) * page, High: (97 + 19020 + 6223) * page, Boost: 3072 * page,
			Managed: (3840 + 754596 + 243341) * page, Zones: 3, PageSize: page,
			PCPCount: (10369 + 2767) * page, PCPBound: (80 + 15850 + 5186) * page, HasPCP: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "zoneinfo", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ReadWatermarks(testutil.OpenRoot(t, zoneRoot(t, string(data))), tc.memTotal)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ReadWatermarks = %+v\nwant             %+v", got, tc.want)
			}
		})
	}
}

// TestParseWatermarksPagesets: the per-CPU lists summed over CPUs and
// zones, high the bound unless the kernel shows high_min; a file without
// pagesets says so (HasPCP false) rather than a bound of 0.
func TestParseWatermarksPagesets(t *testing.T) {
	const head = "Node 0, zone   Normal\n        min      10\n        low      20\n        high     30\n        managed  1000\n  pagesets\n"
	cpu := func(lines string) string { return "    cpu: 0\n" + lines }
	for _, tc := range []struct {
		name         string
		content      string
		count, bound uint64 // pages
		hasPCP       bool
	}{
		{"none", head, 0, 0, false},
		{"static high (to 6.6)", head + cpu("              count: 5\n              high:  40\n              batch: 7\n") +
			cpu("              count: 6\n              high:  40\n              batch: 7\n"), 11, 80, true},
		{"tuned high (6.7 on): high_min bounds", head + cpu("              count: 500\n              high:  900\n              batch: 7\n              high_min: 60\n              high_max: 9000\n"), 500, 60, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseWatermarks(strings.NewReader(tc.content), 1000*4096)
			if err != nil {
				t.Fatal(err)
			}
			if w.PCPCount != tc.count*4096 || w.PCPBound != tc.bound*4096 || w.HasPCP != tc.hasPCP {
				t.Errorf("count %d bound %d has %v; want %d, %d pages, %v", w.PCPCount, w.PCPBound, w.HasPCP, tc.count, tc.bound, tc.hasPCP)
			}
		})
	}
}

func TestReadWatermarksErrors(t *testing.T) {
	if _, err := ReadWatermarks(testutil.OpenRoot(t, t.TempDir()), 1<<30); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no zoneinfo: %v, want fs.ErrNotExist", err)
	}
	zone := func(min, low, high, managed string) string {
		return "Node 0, zone   Normal\n  pages free     100\n        min      " + min + "\n        low      " + low +
			"\n        high     " + high + "\n        spanned  300\n        present  300\n        managed  " + managed + "\n"
	}
	for _, tc := range []struct{ name, content, want string }{
		{"empty", "", "no zone with managed pages"},
		{"only empty zones", zone("32", "32", "32", "0"), "no zone with managed pages"},
		{"out of order", zone("30", "20", "40", "1000"), "watermarks out of order"},
		{"boost above min", strings.Replace(zone("30", "40", "50", "1000"), "pages free     100\n", "pages free     100\n        boost    31\n", 1), "zone Normal: boost 31 pages is above its min 30, which includes it"},
		{"boost not a number", strings.Replace(zone("30", "40", "50", "1000"), "pages free     100\n", "pages free     100\n        boost    x\n", 1), `line 3: zone Normal boost: "x" is not a page count`},
		{"negative", zone("-1", "20", "40", "1000"), `line 3: zone Normal min: "-1" is not a page count`},
		{"not a number", zone("x", "20", "40", "1000"), `line 3: zone Normal min: "x" is not a page count`},
		{"bad header", "Node 0 zone Normal\n", "is not a \"Node N, zone NAME\" header"},
		{"no watermarks", "Node 0, zone   Normal\n        managed  1000\n", "has no min, low or high line"},
		{"pageset count not a number", zone("10", "20", "40", "1000") + "  pagesets\n    cpu: 0\n              count: -3\n", `line 11: zone Normal pageset count: "-3" is not a page count`},
		{"overflow", zone("1", "2", "9223372036854775807", "9223372036854775807") + zone("1", "2", "9223372036854775807", "9223372036854775807") + zone("1", "2", "9223372036854775807", "9223372036854775807"), "overflow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadWatermarks(testutil.OpenRoot(t, zoneRoot(t, tc.content)), 1<<30)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ZoneinfoPath) {
				t.Errorf("err = %v, want one naming %s and saying %q", err, ZoneinfoPath, tc.want)
			}
		})
	}
}

func TestPageSize(t *testing.T) {
	for _, tc := range []struct{ memTotal, managed, want uint64 }{
		{4007108 << 10, 1001777, 4096},        // the lane's 4 GiB guest
		{16 << 30, (16 << 30) / 65536, 65536}, // arm64 with 64 KiB pages
		{16 << 30, (16 << 30) / 16384, 16384},
		{0, 100, 4096}, {100, 0, 4096}, {1 << 30, 1, 4096}, // nonsense: 4 KiB
	} {
		if got := pageSize(tc.memTotal, tc.managed); got != tc.want {
			t.Errorf("pageSize(%d, %d) = %d, want %d", tc.memTotal, tc.managed, got, tc.want)
		}
	}
}

// FuzzParseWatermarks: whatever the file, ParseWatermarks returns
// watermarks in order or an error naming the line or the zone; it never
// panics. ReadWatermarks adds only the confined, bounded read.
func FuzzParseWatermarks(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "zoneinfo", "sandbox-6.18-24g"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, uint64(24683652<<10))
	f.Add([]byte("Node 0, zone Normal\n min 1\n low 2\n high 3\n managed 10\n"), uint64(40960))
	f.Fuzz(func(t *testing.T, data []byte, memTotal uint64) {
		w, err := ParseWatermarks(bytes.NewReader(data), memTotal)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") && !strings.HasPrefix(err.Error(), "zone ") &&
				!strings.Contains(err.Error(), "watermarks") && !strings.Contains(err.Error(), "overflow") && !strings.Contains(err.Error(), "no zone") {
				t.Fatalf("error %q names neither a line nor a zone", err)
			}
			return
		}
		if w.Min > w.Low || w.Low > w.High || w.Zones == 0 || w.PageSize < 4096 || w.PageSize > 65536 {
			t.Fatalf("inconsistent watermarks %+v", w)
		}
	})
}
