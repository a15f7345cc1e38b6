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
)

// TestHostTermsRealSnapshots: on real captures from the lab and the lane,
// the measured terms are what /proc/meminfo and arcstats say, by hand:
// host in use = MemTotal − MemFree − Inactive(file) − ARC size − hugepages
// − AnonPages − Shmem, and the process excess is what AnonPages + Shmem
// hold above the reservation.
func TestHostTermsRealSnapshots(t *testing.T) {
	const kB = 1024
	for _, tc := range []struct {
		root          string
		reserve       uint64
		inUse, excess uint64
		cap           uint64
	}{
		// 2.1.11 at rest: 4007108 − 1764076 − 16032 − 8516 − 308 kB − size 2089128752.
		{"testdata/snapshots/zfs-2.1.11-arc-filled", 2 * size.GiB,
			(4007108-1764076-16032-8516-308)*kB - 2089128752, 0, 1476395008},
		// 2.1.11, 45 s into a stress-ng run holding 3.33 GiB: 1.33 GiB of
		// it is above the 2 GiB declared.
		{"testdata/snapshots/zfs-2.1.11-pressure", 2 * size.GiB, 177752208, 1433391104, 0},
		// The same run declared at 3.5 GiB: no excess, and the host in use
		// is the same.
		{"testdata/snapshots/zfs-2.1.11-pressure", 3584 * size.MiB, 177752208, 0, 0},
		// 2.3.2 at rest.
		{"testdata/snapshots/zfs-2.3.2-arc-filled", 2 * size.GiB, 187092408, 0, 1476395008},
		// The lane's frontier guest at rest (2.3.2, 4 GiB, ARC warm at the
		// default cap), with /proc/zoneinfo: the kernel's high watermarks
		// (99 MiB, raised by THP's recommended min_free_kbytes) are below
		// arc_sys_free. The frontier measured C* = 1.5 GiB on this guest
		// with R = 2G held; the cap is 1.37 GiB.
		{"testdata/vm/2.3.2-2~bpo12+2/50-frontier-rest-4096M", 2 * size.GiB, 148841336, 0, 1476395008},
		// The same on 2.1.11: C* = 1.37 GiB there, the cap itself.
		{"testdata/vm/2.1.11-1+deb12u1/50-frontier-rest-4096M", 2 * size.GiB, 161608160, 0, 1476395008},
		// The held-out 8 GiB guest, R = 5G: C* = 2.25 GiB there, the cap
		// 2 GiB (0.89 x C*). arc_sys_free (332 MiB) is the floor.
		{"testdata/vm/2.3.2-2~bpo12+2/50-frontier-rest-8192M", 5 * size.GiB, 162859144, 0, 2147483648},
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
			if !strings.Contains(got["host in use"].Source, "kernel ") || r.HostBase != tc.inUse+tc.excess {
				t.Errorf("source %q, host %d", got["host in use"].Source, r.HostBase)
			}
			sysFree, _ := s.Arc.Uint("arc_sys_free")
			if fl := got["free floor"]; fl.Bytes != int64(sysFree) || r.FreeFloor != sysFree {
				t.Errorf("free floor %+v, want arc_sys_free %d", fl, sysFree)
			}
			if r.ArcMax != tc.cap || sumTerms(r) != int64(m.MemTotal) && r.Status == StatusOK {
				t.Errorf("cap %d (%s), want %d; terms add up to %d", r.ArcMax, r.Status, tc.cap, sumTerms(r))
			}
		})
	}
}

// TestFreeFloorWatermarks: the kernel's high watermarks replace
// arc_sys_free in the floor only when they are above it (someone raised
// vm.min_free_kbytes), and the source says which.
func TestFreeFloorWatermarks(t *testing.T) {
	s := &host.Snapshot{}
	if f, src := freeFloor(s, 100, "arc_sys_free"); f != 100 || !strings.Contains(src, "no /proc/zoneinfo") {
		t.Errorf("no zoneinfo: %d %q", f, src)
	}
	s.HasZones, s.Zones = true, meminfo.Watermarks{Min: 40, Low: 50, High: 60, Zones: 3}
	if f, src := freeFloor(s, 100, "arc_sys_free"); f != 100 || !strings.Contains(src, "above the kernel high watermarks") {
		t.Errorf("low watermarks: %d %q", f, src)
	}
	s.Zones.High = 1 << 30
	if f, src := freeFloor(s, 100, "arc_sys_free"); f != 1<<30 || !strings.HasPrefix(src, "kernel high watermarks 1 GiB (/proc/zoneinfo; min 40 B, vm.min_free_kbytes), above arc_sys_free") {
		t.Errorf("raised min_free_kbytes: %d %q", f, src)
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
