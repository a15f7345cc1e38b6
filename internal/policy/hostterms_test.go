package policy

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/meminfo"
	"github.com/arcadvise/arcadvise/internal/size"
	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// TestHostTermsRealSnapshots: on real captures from the lab and the lane,
// the measured terms are what /proc/meminfo and arcstats say, by hand:
// host in use = MemTotal − MemFree − Inactive(file) − ARC size − hugepages
// − AnonPages − Shmem, and the process excess is what AnonPages + Shmem
// hold above the reservation.
func TestHostTermsRealSnapshots(t *testing.T) {
	const kB = 1024
	const page = 4096
	for _, tc := range []struct {
		root          string
		reserve       uint64
		inUse, excess uint64
		pcp           int64  // per-CPU lists: Σ bound − Σ count over /proc/zoneinfo's pagesets (0: no zoneinfo)
		overrun       uint64 // ARC overrun, for c = what is left after the floor
		floor         uint64 // the free floor: low + high × vm.watermark_boost_factor/10000 of zoneinfo (1.5 × without the sysctl), arc_sys_free without zoneinfo
		cap           uint64
	}{
		// 2.1.11 at rest: 4007108 − 1764076 − 16032 − 8516 − 308 kB − size 2089128752.
		// The cap: the budget rounded down to a multiple of the largest
		// power of two ≤ 1/64 of it, 16 MiB here: MemTotal 4103278592 −
		// 2 GiB − the host in use − arc_sys_free 189698176 (no zoneinfo in
		// the lab's snapshots: the floor, and no per-CPU term) =
		// 1583813296; the overrun 3/2 · MAX(16 MiB, c/256) = 24 MiB (2.1.11)
		// leaves 1558647472: 92 × 16 MiB = 1543503872.
		{"testdata/snapshots/zfs-2.1.11-arc-filled", 2 * size.GiB,
			(4007108-1764076-16032-8516-308)*kB - 2089128752, 0, 0, 24 * size.MiB, 189698176, 1543503872},
		// 2.1.11, 45 s into a stress-ng run holding 3.33 GiB: 1.33 GiB of
		// it is above the 2 GiB declared. Over-committed: less than the
		// smallest useful cap is left, so no cap; the overrun (3/2 · 16
		// MiB) still counts against what little is.
		{"testdata/snapshots/zfs-2.1.11-pressure", 2 * size.GiB, 177752208, 1433391104, 0, 24 * size.MiB, 189698176, 0},
		// The same run declared at 3.5 GiB: no excess, and the host in use
		// is the same; nothing is left for an ARC, so no overrun either.
		{"testdata/snapshots/zfs-2.1.11-pressure", 3584 * size.MiB, 177752208, 0, 0, 0, 189698176, 0},
		// 2.3.2 at rest: 4103278592 − 2 GiB − 187092408 − arc_sys_free
		// 189721216 = 1578981320; overrun 16 MiB + 3 · ((1578981320 >> 8)
		// / 2) = 26029057; 1552952263 left: 92 × 16 MiB.
		{"testdata/snapshots/zfs-2.3.2-arc-filled", 2 * size.GiB, 187092408, 0, 0, 26029057, 189721216, 92 * 16 * size.MiB},
		// The lane's frontier guest at rest (2.3.2, 4 GiB, ARC warm at the
		// default cap, the fio reader going: the vm frontier of 2026-12-07
		// 03:24, its line in docs/frontier/2.3-4096M-R2G/history.tsv), with
		// /proc/zoneinfo: the floor is the zones' low watermarks 81 + 16133
		// + 4902 = 21116 pages and 1.5 × their high 97 + 19359 + 5882 =
		// 25338 pages (raised by THP's recommended min_free_kbytes): 21116
		// + 38007 = 59123 pages, 242167808 bytes (arc_sys_free 189721472
		// below it). 4007116 − 777216 − 109964 − 16024 − 2580 kB − size
		// 3034539544. The per-CPU lists: high 2 × (40 + 8066 + 2451) pages,
		// holding 103 + 367 + 845 + 229 now: 19570 pages to fill. Budget
		// 4103286784 − 2 GiB − 141224424 − 80158720 − 242167808 =
		// 1492252184; overrun 16 MiB + 3 · ((1492252184 >> 8) / 2) =
		// 25520881; 1466731303 left: 87 × 16 MiB, as the model of
		// arc_sys_free and a growth margin c/32 gave. C* measured 1344 MiB
		// in that run.
		{"testdata/vm/2.3.2-2~bpo12+2/50-frontier-rest-4096M", 2 * size.GiB,
			(4007116-777216-109964-16024-2580)*kB - 3034539544, 0, (2*(40+8066+2451) - (103 + 367 + 845 + 229)) * page, 25520881, 59123 * page, 87 * 16 * size.MiB},
		// The same on 2.1.11, the reader going (docs/frontier/2.1-4096M-R2G
		// of 03:53, C* = 1.5 GiB there): 4007108 − 1703712 − 110820 − 15920
		// − 2580 kB − size 2074117424; the lists: high 21116 pages, 7614
		// held; the floor: low 81 + 15848 + 5188 = 21117 pages + 1.5 × high
		// (97 + 19017 + 6225 = 25339) = 38008.5: 59125.5 pages, 242178048
		// bytes; budget 4103278592 − 2 GiB − 152136400 − 55304192 −
		// 242178048 = 1506176304, less the overrun 24 MiB: 1481010928, 88
		// × 16 MiB.
		{"testdata/vm/2.1.11-1+deb12u1/50-frontier-rest-4096M", 2 * size.GiB,
			(4007108-1703712-110820-15920-2580)*kB - 2074117424, 0, (21116 - 7614) * page, 24 * size.MiB, 59125*page + page/2, 88 * 16 * size.MiB},
		// The 8 GiB guest at rest before the held-out frontier of
		// 2026-12-07 (docs/frontier/2.3-8192M-R4G-steps): 8129740 − 721076
		// − 110060 − 15996 − 2580 kB − size 7280884880; the lists 21116
		// pages high, 9648 held. The floor: low 40 + 7907 + 13171 = 21118
		// pages + 1.5 × high (48 + 9488 + 15805 = 25341) = 38011.5: 59129.5
		// pages, 242194432 bytes, below arc_sys_free (332 MiB), which the
		// model before took. R = 4G: 8324853760 − 4 GiB − 173863792 −
		// 46972928 − 242194432 = 3566855312; overrun 16 MiB + 3 ·
		// ((3566855312 >> 8) / 2) = 37676758; 3529178554 left, rounded to
		// 32 MiB (≤ 1/64): 105 × 32 MiB (C* = 3456 MiB there: 0.97 ×). R =
		// 5G: 1 GiB less, 2493113488; overrun 31385302; 2461728186 left:
		// 73 × 32 MiB (C* 2496 MiB in the 5G run: 0.94 ×).
		// The same guest with vm.watermark_boost_factor at 0 (the lane's
		// -boost0 frontier of 2026-12-07 21:47, the first at ea66f12; the
		// snapshot records the sysctl): no boost, the floor is the low
		// watermarks alone, 81 + 16133 + 4902 = 21116 pages, 86491136
		// bytes. 4007116 − 750808 − 109852 − 16156 − 2580 kB − size
		// 3052342712 = 150442568; the lists: high 2 × (40 + 8066 + 2451) =
		// 21114 pages, 5129 + 4630 + 289 + 117 = 10165 held: 10949 pages.
		// Budget 4103286784 − 2 GiB − 150442568 − 44847104 − 86491136 =
		// 1674022328; overrun 16 MiB + 3 · ((1674022328 >> 8) / 2) =
		// 26585938; 1647436390 left: 98 × 16 MiB (1568 MiB). With the
		// default factor the floor would be 242167808 and the cap 88 × 16
		// MiB (1408 MiB): the 148 MiB of boost and a 16 MiB step of
		// rounding. The run's own reading a moment later recommended 1536
		// MiB, clean in its window; 1600 MiB fought.
		{"testdata/vm/2.3.2-2~bpo12+2/50-frontier-rest-4096M-boost0", 2 * size.GiB,
			(4007116-750808-109852-16156-2580)*kB - 3052342712, 0, 10949 * page, 26585938, 21116 * page, 98 * 16 * size.MiB},
		{"testdata/vm/2.3.2-2~bpo12+2/50-frontier-rest-8192M", 4 * size.GiB,
			(8129740-721076-110060-15996-2580)*kB - 7280884880, 0, (21116 - 9648) * page, 37676758, 59129*page + page/2, 105 * 32 * size.MiB},
		{"testdata/vm/2.3.2-2~bpo12+2/50-frontier-rest-8192M", 5 * size.GiB,
			(8129740-721076-110060-15996-2580)*kB - 7280884880, 0, (21116 - 9648) * page, 31385302, 59129*page + page/2, 73 * 32 * size.MiB},
	} {
		t.Run(tc.root+"/"+size.Format(tc.reserve), func(t *testing.T) {
			s, err := host.Read(testutil.OpenRoot(t, filepath.Join(testutil.RepoRoot(t), tc.root)))
			if err != nil {
				t.Fatal(err)
			}
			m := s.Mem
			want := m.MemTotal - m.MemFree - m.InactiveFile - s.ArcSize() - m.Hugepages - m.AnonPages - m.Shmem
			if want != tc.inUse {
				t.Fatalf("by hand the host in use is %d, the table says %d", want, tc.inUse)
			}
			r, err := Recommend(Input{Host: s, Reservations: []Reservation{{Bytes: tc.reserve, Source: "test"}}})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]Term{}
			for _, tm := range r.Terms {
				got[tm.Name] = tm
			}
			if got["host in use"].Bytes != int64(tc.inUse) || got["process excess"].Bytes != int64(tc.excess) {
				t.Errorf("host in use %d, process excess %d; want %d, %d", got["host in use"].Bytes, got["process excess"].Bytes, tc.inUse, tc.excess)
			}
			if got["per-CPU lists"].Bytes != tc.pcp || r.Overrun != tc.overrun || got["ARC overrun"].Bytes != int64(tc.overrun) {
				t.Errorf("per-CPU lists %d, overrun %d; want %d, %d", got["per-CPU lists"].Bytes, r.Overrun, tc.pcp, tc.overrun)
			}
			if !strings.Contains(got["host in use"].Source, "kernel ") || int64(r.HostBase) != int64(tc.inUse+tc.excess)+tc.pcp {
				t.Errorf("source %q, host %d", got["host in use"].Source, r.HostBase)
			}
			if fl := got["free floor"]; fl.Bytes != int64(tc.floor) || r.FreeFloor != tc.floor {
				t.Errorf("free floor %+v, want %d", fl, tc.floor)
			}
			if r.ArcMax != tc.cap || sumTerms(r) != int64(m.MemTotal) && r.Status == StatusOK {
				t.Errorf("cap %d (%s), want %d; terms add up to %d", r.ArcMax, r.Status, tc.cap, sumTerms(r))
			}
		})
	}
}

// TestFreeFloorWatermarks: the floor is where kswapd wakes after a
// watermark boost, low + 1.5 × high of /proc/zoneinfo's zones (the default
// vm.watermark_boost_factor: TestFreeFloorBoostFactor for others), whatever
// arc_sys_free is; arc_sys_free only without zoneinfo. By hand, the lane's
// 4 GiB and 8 GiB guests (min 65.99 MiB, vm.min_free_kbytes 67584 KiB
// raised by THP): low 82.49 MiB = 84464 KiB, high 98.98 MiB = 101352 KiB;
// 84464 + 1.5 × 101352 = 236492 KiB = 242167808 bytes (230.95 MiB), below
// the 8 GiB guest's arc_sys_free 331.63 MiB and above the 4 GiB guest's
// 180.93 MiB: the same floor for both.
func TestFreeFloorWatermarks(t *testing.T) {
	s := &host.Snapshot{}
	if f, src := freeFloor(s, 100, "arc_sys_free"); f != 100 || !strings.Contains(src, "no /proc/zoneinfo") {
		t.Errorf("no zoneinfo: %d %q", f, src)
	}
	s.HasZones, s.Zones = true, meminfo.Watermarks{Min: 67584 << 10, Low: 84464 << 10, High: 101352 << 10, Zones: 3}
	for _, sysFree := range []uint64{347742080, 189721216} {
		if f, src := freeFloor(s, sysFree, "arc_sys_free"); f != 242167808 || !strings.Contains(src, "the low watermarks 82.48 MiB + a watermark boost of 1.5 × high 98.97 MiB") {
			t.Errorf("arc_sys_free %d: %d %q", sysFree, f, src)
		}
	}
	// mult_frac: no overflow for a high watermark of 2^62 and more, no loss
	// to the division for one not a multiple of 10000
	s.Zones = meminfo.Watermarks{Low: 1, High: 10000<<49 + 9999}
	if f, _ := freeFloor(s, 0, ""); f != 1+15000<<49+14998 {
		t.Errorf("large watermarks: %d", f)
	}
	s.Zones = meminfo.Watermarks{Low: 0, High: 3}
	if f, _ := freeFloor(s, 0, ""); f != 4 {
		t.Errorf("high 3 bytes: boost %d, want 4 (3 × 1.5 rounded down)", f)
	}
}

// TestFreeFloorBoostFactor: the boost is the one vm.watermark_boost_factor
// allows, read from the root; its default, 15000, when the root does not
// have the file. By hand, on the lane's guest watermarks (low 84464 KiB,
// high 101352 KiB):
//
//	factor 0:     no boost, the floor is low: 84464 KiB = 86491136 bytes
//	              (82.48 MiB), 148.47 MiB under the default's 230.95 MiB;
//	factor 5000:  84464 + 101352 × 5000/10000 = 84464 + 50676 = 135140 KiB
//	              = 138383360 bytes;
//	factor 15000 read from the file: 242167808, as without the file.
func TestFreeFloorBoostFactor(t *testing.T) {
	z := meminfo.Watermarks{Min: 67584 << 10, Low: 84464 << 10, High: 101352 << 10, Zones: 3}
	for _, tc := range []struct {
		name   string
		sys    *host.System
		want   uint64
		source string
	}{
		{"no System", nil, 242167808, "a watermark boost of 1.5 × high 98.97 MiB (/proc/zoneinfo; boost_watermark(), vm.watermark_boost_factor 15000, its default: the root does not have the sysctl)"},
		{"no file", &host.System{}, 242167808, "vm.watermark_boost_factor 15000, its default: the root does not have the sysctl"},
		{"15000", &host.System{BoostFactor: 15000, HasBoostFactor: true}, 242167808, "a watermark boost of 1.5 × high 98.97 MiB (/proc/zoneinfo; boost_watermark(), vm.watermark_boost_factor 15000); below"},
		{"0", &host.System{BoostFactor: 0, HasBoostFactor: true}, 86491136, "the low watermarks 82.48 MiB (/proc/zoneinfo), no watermark boost (vm.watermark_boost_factor 0); below arc_sys_free"},
		{"5000", &host.System{BoostFactor: 5000, HasBoostFactor: true}, 138383360, "the low watermarks 82.48 MiB + a watermark boost of 0.5 × high 98.97 MiB (/proc/zoneinfo; boost_watermark(), vm.watermark_boost_factor 5000)"},
	} {
		s := &host.Snapshot{HasZones: true, Zones: z, System: tc.sys}
		f, src := freeFloor(s, 189721216, "arc_sys_free")
		if f != tc.want || !strings.Contains(src, tc.source) {
			t.Errorf("%s: floor %d, want %d; source %q, want it to hold %q", tc.name, f, tc.want, src, tc.source)
		}
	}
	// The default boost is what the factor at 0 gives back to the cap.
	s := &host.Snapshot{HasZones: true, Zones: z}
	if d := freeFloorOf(s, 15000) - freeFloorOf(s, 0); d != 155676672 {
		t.Errorf("the default boost is %d bytes, want 101352 KiB × 1.5 = 152028 KiB = 155676672", d)
	}
}

// freeFloorOf is the floor of s with the factor set.
func freeFloorOf(s *host.Snapshot, factor uint64) uint64 {
	c := *s
	c.System = &host.System{BoostFactor: factor, HasBoostFactor: true}
	f, _ := freeFloor(&c, 0, "")
	return f
}

// TestKernelFigureReclaimableSlab: on a 2.3 host whose SReclaimable holds
// ARC caches (testdata/zfs-2.3.2-reclaimable-slab, derived from the lane's
// real 2.3.2 capture as its README says), the kernel figure of the host in
// use no longer counts the ARC's slab objects a second time. By hand, in
// bytes (kB × 1024 from /proc/meminfo):
//
//	host in use = 4103278592 MemTotal − 827723776 MemFree − 47894528
//	              Inactive(file) − 3054069456 ARC size − 10047488 (AnonPages
//	              + Shmem) = 163543344
//	Slab        = 19968000 SUnreclaim + 354873344 SReclaimable = 374841344
//	ARC in slab = 67807648 hdr + 63296 dbuf + 268582064 dnode + 18240 bonus
//	            = 336471248
//	kernel      = 374841344 − 336471248 + 2002944 KernelStack + 593920
//	              PageTables + 778240 Percpu = 41745200 (39.81 MiB)
//	other       = 163543344 − 41745200 − 50065408 Active(file) = 71732736
//	              (68.40 MiB: size.Format truncates)
//
// Before, the kernel figure was 378216448 (360.69 MiB), more than the
// whole host in use, and "other" was clamped to 0.
func TestKernelFigureReclaimableSlab(t *testing.T) {
	s, err := host.Read(testutil.OpenRoot(t, "testdata/zfs-2.3.2-reclaimable-slab"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := ARCSlab(s); got != 336471248 || !ok {
		t.Errorf("ARCSlab = %d, want 336471248", got)
	}
	r, err := Recommend(Input{Host: s, Reservations: []Reservation{{Bytes: 2 * size.GiB, Source: "test"}}})
	if err != nil {
		t.Fatal(err)
	}
	var src string
	for _, term := range r.Terms {
		if term.Name == "host in use" {
			if term.Bytes != 163543344 {
				t.Errorf("host in use %d, want 163543344", term.Bytes)
			}
			src = term.Source
		}
	}
	for _, want := range []string{"kernel " + size.Format(41745200), "Slab less the ARC's " + size.Format(336471248), "other " + size.Format(71732736)} {
		if !strings.Contains(src, want) {
			t.Errorf("source %q lacks %q", src, want)
		}
	}
	if size.Format(41745200) != "39.81 MiB" || size.Format(71732736) != "68.40 MiB" {
		t.Errorf("formatted %s, %s", size.Format(41745200), size.Format(71732736))
	}
	// arcstats without the rows (the seed's composed 0.6.5.3 one): nothing
	// is taken out, and the term says that it cannot be.
	arc := hostArc(t, 32*size.GiB, zfsmod.V(0, 6, 5, 3))
	if n, ok := ARCSlab(&host.Snapshot{Arc: arc}); n != 0 || ok {
		t.Errorf("ARCSlab without rows = %d, %v", n, ok)
	}
	// A real capture of the lane (2.3.2, ARC filled, 2026-12-07): the ARC's
	// 906 KiB of headers, dbufs, dnodes and bonus buffers come out of the
	// kernel figure too: (19628 + 19440 kB Slab) 40005632 − (700912 + 62192
	// + 146608 + 17600) + (1936 + 500 + 784 kB KernelStack, PageTables,
	// Percpu) 3297280 = 42375600 (40.41 MiB).
	real, err := host.Read(testutil.OpenRoot(t, filepath.Join(testutil.RepoRoot(t), "testdata", "vm", "2.3.2-2~bpo12+2", "10-arc-filled")))
	if err != nil {
		t.Fatal(err)
	}
	r, err = Recommend(Input{Host: real, Reservations: []Reservation{{Bytes: 2 * size.GiB, Source: "test"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, term := range r.Terms {
		if term.Name == "host in use" && !strings.Contains(term.Source, "kernel 40.41 MiB") {
			t.Errorf("real capture: %q", term.Source)
		}
	}
}

// TestAvailableWithARC: MemAvailable plus the ARC above c_min, worked by
// hand.
func TestAvailableWithARC(t *testing.T) {
	// The bundled 2.3.2 snapshot under pressure: MemAvailable 687036 kB =
	// 703524864, arcstats size 2600375944 and c_min 128227456:
	// 703524864 + 2600375944 − 128227456 = 3175673352.
	snap, err := host.Read(testutil.OpenRoot(t, filepath.Join(testutil.RepoRoot(t), "testdata", "snapshots", "zfs-2.3.2-pressure")))
	if err != nil {
		t.Fatal(err)
	}
	if got := AvailableWithARC(snap); got != 3175673352 {
		t.Errorf("zfs-2.3.2-pressure: %d, want 3175673352", got)
	}
	arc := func(size, cMin uint64) *arcstats.Stats {
		s, err := arcstats.Parse(strings.NewReader(fmt.Sprintf(
			"13 1 0x01 2 96 1 2\nname                            type data\nc_min                           4    %d\nsize                            4    %d\n", cMin, size)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name              string
		avail, size, cMin uint64
		want              uint64
	}{
		// 2 GiB available, an 8 GiB ARC above a 1 GiB c_min: 2 + 7 GiB.
		{"above c_min", 2 * size.GiB, 8 * size.GiB, size.GiB, 9 * size.GiB},
		{"at c_min", 2 * size.GiB, size.GiB, size.GiB, 2 * size.GiB},
		{"below c_min (just loaded)", 2 * size.GiB, 100 * size.MiB, size.GiB, 2 * size.GiB},
		{"saturates", ^uint64(0) - 1, 8 * size.GiB, 0, ^uint64(0)},
	} {
		h := &host.Snapshot{Mem: meminfo.Info{MemAvailable: tc.avail}, Arc: arc(tc.size, tc.cMin)}
		if got := AvailableWithARC(h); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestARCOverrun: how far each generation lets the ARC's size run above c
// (arc_is_overflowing), worked by hand from the rules in arcOverrun's
// comment for a small and a large c.
func TestARCOverrun(t *testing.T) {
	const mib = size.MiB
	for _, tc := range []struct {
		v      zfsmod.Version
		params map[string]zfsmod.Param
		c      uint64
		want   uint64
		source string
	}{
		{zfsmod.V(0, 7, 13), nil, size.GiB, 16 * mib, "MAX(16 MiB, c/256) = 16 MiB"},    // c/256 = 4 MiB
		{zfsmod.V(2, 0, 7), nil, 8 * size.GiB, 32 * mib, "MAX(16 MiB, c/256) = 32 MiB"}, // c/256 = 32 MiB
		{zfsmod.V(2, 1, 0), nil, size.GiB, 16 * mib, "up to 2.1.0"},
		{zfsmod.V(2, 1, 1), nil, size.GiB, 24 * mib, "3/2 · MAX(16 MiB, c/256) = 24 MiB"},
		{zfsmod.V(2, 2, 8), nil, 8 * size.GiB, 48 * mib, "2.1.1 to 2.2.8"},
		{zfsmod.V(2, 2, 9), nil, size.GiB, 22 * mib, "2.2.9 and 2.3 on"}, // #16197 backported
		{zfsmod.V(2, 3, 2), nil, size.GiB, 16*mib + 3*2*mib, "16 MiB + 3/2 · c/256 = 22 MiB"},
		{zfsmod.V(2, 3, 2), map[string]zfsmod.Param{zfsmod.MaxRecordsize: {Value: mib, Present: true}}, size.GiB, mib + 3*2*mib, "the recordsize limit 1 MiB + 3/2"},
		{zfsmod.Version{}, nil, size.GiB, 22 * mib, "2.3 on"}, // unknown: the newest rule
	} {
		t.Run(tc.v.String(), func(t *testing.T) {
			got, src := arcOverrun(&host.Snapshot{Module: zfsmod.State{Version: tc.v, Params: tc.params}}, tc.c)
			if got != tc.want || !strings.Contains(src, tc.source) {
				t.Errorf("arcOverrun(%s) = %d %q; want %d, a source saying %q", size.Format(tc.c), got, src, tc.want, tc.source)
			}
		})
	}
}

// TestPCPTerm: the per-CPU lists' bound less their count, negative when
// the lists hold more than the kernel keeps there under pressure (6.7 on,
// the build machine's own zoneinfo: TestReadWatermarks), absent without
// pagesets.
func TestPCPTerm(t *testing.T) {
	s := &host.Snapshot{HasZones: true, Zones: meminfo.Watermarks{High: 1, HasPCP: false}}
	if _, ok := pcpTerm(s); ok {
		t.Error("a term without pagesets")
	}
	s.Zones.HasPCP, s.Zones.PCPCount, s.Zones.PCPBound = true, 24523*4096, 21206*4096
	if tm, ok := pcpTerm(s); !ok || tm.Bytes != -3317*4096 || !strings.Contains(tm.Source, "82.83 MiB under load, 95.79 MiB now") {
		t.Errorf("pcpTerm = %+v, %v", tm, ok)
	}
}
