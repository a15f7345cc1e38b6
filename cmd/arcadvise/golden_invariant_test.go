package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The goldens record what the command prints; this file checks the numbers
// in every JSON golden against the README's arithmetic ("The arithmetic"),
// restated here without policy's code:
//
//	MemTotal = hugepages + reservation + host in use + per-CPU lists + process excess
//	           + free floor + observed excess + ARC overrun + rounding + zfs_arc_max
//
// and recomputes the host terms from the root the golden was made from. A
// model change then shows up here, not only as rewritten goldens.

// goldenDoc is the part of the JSON document the invariants look at.
type goldenDoc struct {
	Root string `json:"root"`
	Host struct {
		MemTotal     uint64 `json:"mem_total_bytes"`
		MemFree      uint64 `json:"mem_free_bytes"`
		InactiveFile uint64 `json:"inactive_file_bytes"`
		Hugepages    uint64 `json:"hugepages_bytes"`
		NonARC       uint64 `json:"non_arc_used_bytes"`
	} `json:"host"`
	Arc struct {
		Size uint64 `json:"size_bytes"`
	} `json:"arc"`
	Rec struct {
		Status          string `json:"status"`
		ArcMax          uint64 `json:"zfs_arc_max_bytes"`
		Reserve         uint64 `json:"reserve_bytes"`
		ReserveObserved bool   `json:"reserve_observed"`
		Reservations    []struct {
			Label  string `json:"label"`
			Bytes  uint64 `json:"bytes"`
			Source string `json:"source"`
		} `json:"reservations"`
		Terms []struct {
			Name  string `json:"name"`
			Bytes int64  `json:"bytes"`
		} `json:"terms"`
		HostBase     uint64 `json:"host_base_bytes"`
		FreeFloor    uint64 `json:"free_floor_bytes"`
		Overrun      uint64 `json:"arc_overrun_bytes"`
		MemTotal     uint64 `json:"mem_total_bytes"`
		Budget       int64  `json:"budget_bytes"`
		Granularity  uint64 `json:"granularity_bytes"`
		Short        uint64 `json:"short_bytes"`
		WindowExcess uint64 `json:"window_excess_bytes"`
	} `json:"recommendation"`
	WhatIf *struct {
		PeakNonARC     uint64 `json:"peak_non_arc_bytes"`
		PeakAtEnd      bool   `json:"peak_at_end"`
		FightLine      uint64 `json:"fight_line_bytes"`
		PredictedCStar uint64 `json:"predicted_c_star_bytes"`
	} `json:"whatif"`
	Reservation *struct {
		Guests       string `json:"guests"`
		CountedBytes uint64 `json:"counted_bytes"`
		Sources      []struct {
			Source        string `json:"source"`
			ID            string `json:"id"`
			DeclaredBytes uint64 `json:"declared_bytes"`
			CountedBytes  uint64 `json:"counted_bytes"`
			Counted       bool   `json:"counted"`
		} `json:"sources"`
	} `json:"reservation"`
}

// declaredCounts are what --reserve auto (--guests boot) counts on each
// host of testdata/declared, declaration by declaration, worked by hand
// from its files (testdata/declared/README.md); a declaration not listed
// does not count.
var declaredCounts = map[string]map[string]uint64{
	"pve-libvirt-2.3.2-8G": {
		// A VM also counts its QEMU's own 64 MiB + RAM/512 (oVirt's static
		// overhead): 68 MiB for 2 GiB, 66 MiB for 1 GiB.
		"pve-qemu 100":                           2048*mib + 68*mib, // memory: 2048, running
		"pve-qemu 102":                           1024*mib + 66*mib, // memory: 1024 on 2 MiB pages, onboot; the pool is empty
		"pve-lxc 200":                            512 * mib,         // memory: 512, running; a container, no QEMU
		"libvirt ci-runner":                      gib + 66*mib,      // <memory unit='KiB'>1048576</memory>, autostart
		"cgroup system.slice/postgresql.service": 256 * mib,         // memory.min 268435456
		// not counted: VM 101 (stopped, not onboot), VM 9000 (template)
	},
	// The lane's declare scenario on 2.3.2 (--reserve auto alone): a unit
	// started by systemd-run --slice=lane.slice -p MemoryMin=2G, ...
	"70-declare-unit": {
		"cgroup lane.slice/lane-work.service": 2 * gib, // memory.min 2147483648 (the slice's 0 bounds it: said in its why)
	},
	// ... and with MemoryMin=2G on lane.slice too: the slice's 2 GiB is
	// within the unit's, counted once.
	"71-declare-slice": {
		"cgroup lane.slice/lane-work.service": 2 * gib,
	},
}

const (
	mib = 1 << 20
	gib = 1 << 30
)

// readGolden decodes a JSON golden, without the "# exit N" line of an
// over-committed one.
func readGolden(t *testing.T, path string) goldenDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if rest, ok := strings.CutPrefix(string(b), "# exit "); ok {
		_, rest, _ = strings.Cut(rest, "\n")
		b = []byte(rest)
	}
	var doc goldenDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

// hostReading is what the test reads itself from one snapshot directory.
type hostReading struct {
	meminfo     map[string]uint64 // bytes ("kB" lines × 1024), counts as printed
	arcSize     uint64
	arcSysFree  uint64
	zoneHigh    uint64 // the zones' high watermarks summed, in bytes
	zoneLow     uint64 // and their low watermarks
	hasZoneinfo bool
	boostFactor uint64 // vm.watermark_boost_factor, 15000 when the root does not have it
	// The per-CPU lists over every zone, in bytes: what they hold
	// ("count:") and their bound ("high_min:" where the kernel shows it,
	// else "high:"); hasPCP when the file has pagesets.
	pcpCount, pcpBound uint64
	hasPCP             bool
	// The module: its version's major, minor and patch (0s when the root
	// does not say) and zfs_max_recordsize (0 when absent).
	version       [3]int
	maxRecordsize uint64
}

// readHostDir reads proc/meminfo, the arcstats rows size and arc_sys_free,
// and proc/zoneinfo's low and high watermarks under dir, each in a few lines.
func readHostDir(t *testing.T, dir string) hostReading {
	t.Helper()
	r := hostReading{meminfo: map[string]uint64{}}
	read := func(rel string) (string, bool) {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if os.IsNotExist(err) {
			return "", false
		} else if err != nil {
			t.Fatal(err)
		}
		return string(b), true
	}
	num := func(s string) uint64 {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		return n
	}
	mem, _ := read("proc/meminfo")
	for line := range strings.Lines(mem) {
		f := strings.Fields(line) // "MemTotal:  4007108 kB"
		n := num(f[1])
		if len(f) == 3 && f[2] == "kB" {
			n *= 1024
		}
		r.meminfo[strings.TrimSuffix(f[0], ":")] = n
	}
	arc, _ := read("proc/spl/kstat/zfs/arcstats")
	for line := range strings.Lines(arc) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "size" {
			r.arcSize = num(f[2])
		} else if len(f) == 3 && f[0] == "arc_sys_free" {
			r.arcSysFree = num(f[2])
		}
	}
	// The first "low N" and "high N" of each "Node N, zone NAME" block, in 4 KiB pages
	// (x86-64, where every bundled root was taken).
	zi, ok := read("proc/zoneinfo")
	r.hasZoneinfo = ok
	inZone := false
	var high, highMin uint64 // the pagesets' of the zone being read
	var boost uint64         // the watermark boost in force in that zone
	hasMin := false
	endZone := func() {
		if hasMin {
			high = highMin
		}
		r.pcpBound += high * 4096
		high, highMin, hasMin = 0, 0, false
	}
	for line := range strings.Lines(zi) {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "Node":
			endZone()
			inZone = true
		case inZone && len(f) == 2 && f[0] == "boost":
			boost = num(f[1]) // printed before min, low and high, which include it
		case inZone && len(f) == 2 && f[0] == "low":
			r.zoneLow += (num(f[1]) - boost) * 4096
		case inZone && len(f) == 2 && f[0] == "high":
			r.zoneHigh += (num(f[1]) - boost) * 4096
			boost = 0
			inZone = false
		case len(f) == 2 && f[0] == "count:":
			r.pcpCount += num(f[1]) * 4096
			r.hasPCP = true
		case len(f) == 2 && f[0] == "high:":
			high += num(f[1])
		case len(f) == 2 && f[0] == "high_min:":
			highMin += num(f[1])
			hasMin = true
		}
	}
	endZone()
	if v, ok := read("sys/module/zfs/version"); ok {
		// "2.3.2-2~bpo12+2", "zfs-2.1.5", "0.6.5.3-1": the first three numbers
		v = strings.TrimPrefix(strings.TrimSpace(v), "zfs-")
		for i, part := range strings.SplitN(strings.FieldsFunc(v, func(c rune) bool { return c == '-' })[0], ".", 4) {
			if i < 3 {
				r.version[i] = int(num(part))
			}
		}
	}
	if v, ok := read("sys/module/zfs/parameters/zfs_max_recordsize"); ok {
		r.maxRecordsize = num(strings.TrimSpace(v))
	}
	r.boostFactor = 15000
	if v, ok := read("proc/sys/vm/watermark_boost_factor"); ok {
		r.boostFactor = num(strings.TrimSpace(v))
	}
	return r
}

// overrun is the README's ARC overrun for a cap of c: how far
// arc_is_overflowing lets the ARC run above c, by generation.
func (r hostReading) overrun(c uint64) uint64 {
	v := r.version[0]*10000 + r.version[1]*100 + r.version[2]
	big := max(16*mib, c/256)
	switch {
	case v != 0 && v < 20101: // to 2.1.0
		return big
	case v != 0 && v < 20209: // 2.1.1 to 2.2.8
		return big / 2 * 3
	}
	rs := uint64(16 * mib)
	if r.maxRecordsize != 0 {
		rs = r.maxRecordsize
	}
	return rs + c/256/2*3
}

// hugepages are Hugetlb, or HugePages_Total × Hugepagesize (README, the
// hugepages term).
func (r hostReading) hugepages() uint64 {
	if v, ok := r.meminfo["Hugetlb"]; ok {
		return v
	}
	return r.meminfo["HugePages_Total"] * r.meminfo["Hugepagesize"]
}

// nonARC is MemTotal − MemFree − Inactive(file) − ARC size − hugepages,
// floored at zero (README, "The arithmetic").
func (r hostReading) nonARC() uint64 {
	m := r.meminfo
	used := int64(m["MemTotal"]) - int64(m["MemFree"]) - int64(m["Inactive(file)"]) - int64(r.arcSize) - int64(r.hugepages())
	return uint64(max(used, 0))
}

// goldenRoots returns the directory the golden's host terms come from, and
// every directory of its window: a snapshot root is both; a replay's host
// is its last snapshot, its window every snapshot of the manifest.
func goldenRoots(t *testing.T, root string) (last string, all []string) {
	t.Helper()
	manifest, err := os.ReadFile(filepath.Join(root, "arcadvise-replay"))
	if os.IsNotExist(err) {
		return root, []string{root}
	} else if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(manifest)), "\n") {
		line = strings.TrimSpace(line)
		if i == 0 || line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "start ") {
			continue
		}
		_, dir, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " ")
		all = append(all, filepath.Join(root, strings.TrimSpace(dir)))
	}
	if len(all) == 0 {
		t.Fatalf("%s: no snapshot in the manifest", root)
	}
	return all[len(all)-1], all
}

// granularity is the README's rounding step: the largest power of two
// that is at most 1/64 of what is left, between 1 MiB and 1 GiB.
func granularity(left uint64) uint64 {
	g := uint64(gib)
	for g > mib && g > left/64 {
		g /= 2
	}
	return g
}

// checkGolden returns every invariant doc breaks; last and all are the
// readings of the host and of the window (goldenRoots).
func checkGolden(doc goldenDoc, last hostReading, all []hostReading) []string {
	var bad []string
	fail := func(format string, a ...any) { bad = append(bad, fmt.Sprintf(format, a...)) }
	rec := doc.Rec
	terms := map[string]int64{}
	var sum int64
	for _, t := range rec.Terms {
		if _, dup := terms[t.Name]; dup {
			fail("term %q appears twice", t.Name)
		}
		terms[t.Name] = t.Bytes
		sum += t.Bytes
	}
	memTotal := last.meminfo["MemTotal"]

	// The host section is the snapshot's own meminfo and arcstats.
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"host.mem_total_bytes", doc.Host.MemTotal, memTotal},
		{"recommendation.mem_total_bytes", rec.MemTotal, memTotal},
		{"host.mem_free_bytes", doc.Host.MemFree, last.meminfo["MemFree"]},
		{"host.inactive_file_bytes", doc.Host.InactiveFile, last.meminfo["Inactive(file)"]},
		{"host.hugepages_bytes", doc.Host.Hugepages, last.hugepages()},
		{"arc.size_bytes", doc.Arc.Size, last.arcSize},
		{"host.non_arc_used_bytes", doc.Host.NonARC, last.nonARC()},
	} {
		if c.got != c.want {
			fail("%s is %d, the snapshot gives %d", c.name, c.got, c.want)
		}
	}

	// The sum: the terms are MemTotal when there is a cap; over-committed,
	// what is left (the budget, below 256 MiB) is what they lack.
	switch rec.Status {
	case "ok":
		if sum != int64(memTotal) {
			fail("the terms add up to %d, not MemTotal %d (off by %d)", sum, memTotal, sum-int64(memTotal))
		}
		if terms["zfs_arc_max"] != int64(rec.ArcMax) {
			fail("the zfs_arc_max term %d is not zfs_arc_max_bytes %d", terms["zfs_arc_max"], rec.ArcMax)
		}
		left := uint64(terms["rounding"] + terms["zfs_arc_max"])
		if int64(left) != rec.Budget {
			fail("rounding + cap = %d, not budget_bytes %d", left, rec.Budget)
		}
		g := granularity(left)
		if rec.Granularity != g {
			fail("granularity_bytes is %d, the rule gives %d for %d left", rec.Granularity, g, left)
		}
		if rec.ArcMax%g != 0 || terms["rounding"] < 0 || uint64(terms["rounding"]) >= g {
			fail("the cap %d is not %d left rounded down to a multiple of %d (rounding %d)", rec.ArcMax, left, g, terms["rounding"])
		}
	case "overcommitted":
		if sum+rec.Budget != int64(memTotal) {
			fail("the terms (%d) and the budget (%d) add up to %d, not MemTotal %d", sum, rec.Budget, sum+rec.Budget, memTotal)
		}
		if rec.Budget >= 256*mib || rec.Short != uint64(256*mib-rec.Budget) || rec.ArcMax != 0 {
			fail("over-committed with a budget of %d, short_bytes %d and a cap of %d: want a budget below 256 MiB, 256 MiB − budget short, no cap", rec.Budget, rec.Short, rec.ArcMax)
		}
	default:
		fail("status %q: the goldens run --reserve 2G, which gives ok or overcommitted", rec.Status)
	}

	// The terms and their fields. The reservation is the sum of its parts:
	// the typed --reserve 2G, and on a host that declares its workload
	// what --reserve auto counted, declaration by declaration.
	var reserved int64
	for _, t := range rec.Terms {
		if strings.HasPrefix(t.Name, "reservation") {
			reserved += t.Bytes
		}
	}
	var typed, auto uint64
	for _, r := range rec.Reservations {
		if r.Label == "auto" {
			auto += r.Bytes
		} else {
			typed += r.Bytes
		}
	}
	wantTyped := uint64(2 * gib)
	if laneDeclares(doc.Root) {
		wantTyped = 0 // --reserve auto alone
	}
	if typed != wantTyped || rec.ReserveObserved {
		fail("the typed reservation is %d (observed %v): the goldens declare --reserve 2G, none on the lane's declare captures", typed, rec.ReserveObserved)
	}
	if rec.Reserve != typed+auto || reserved != int64(rec.Reserve) {
		fail("reserve_bytes is %d and the reservation terms %d, not the typed %d + auto %d", rec.Reserve, reserved, typed, auto)
	}
	want, declares := declaredCounts[filepath.Base(doc.Root)]
	switch d := doc.Reservation; {
	case declares && d == nil:
		fail("the host declares its workload, and the golden has no reservation (--reserve auto)")
	case !declares && (d != nil || auto != 0):
		fail("a reservation from --reserve auto (%d) on a host that declares nothing", auto)
	case d != nil:
		var sum uint64
		for _, src := range d.Sources {
			key := src.Source + " " + src.ID
			w, ok := want[key]
			if src.Counted != ok || src.CountedBytes != w {
				fail("%s counts %d (counted %v), by hand %d (counted %v)", key, src.CountedBytes, src.Counted, w, ok)
			}
			if src.Counted {
				sum += src.CountedBytes
			}
		}
		if d.CountedBytes != sum || auto != sum {
			fail("reservation.counted_bytes is %d and the auto reservation %d, the counted sources add up to %d", d.CountedBytes, auto, sum)
		}
		if d.Guests != "boot" {
			fail("reservation.guests is %q, the goldens count by the default rule, boot", d.Guests)
		}
	}
	if terms["hugepages"] != int64(last.hugepages()) {
		fail("the hugepages term is %d, the snapshot's meminfo gives %d", terms["hugepages"], last.hugepages())
	}

	// The host terms, measured from the host reading: the non-ARC memory
	// less the processes' (AnonPages + Shmem), and the processes' memory
	// above the reservation.
	nonARC := last.nonARC()
	procs := last.meminfo["AnonPages"] + last.meminfo["Shmem"]
	var wantHost, wantExcess uint64
	if procs < nonARC {
		wantHost = nonARC - procs
	}
	if procs > rec.Reserve {
		wantExcess = procs - rec.Reserve
	}
	if nonARC == 0 { // nothing measured: the guess 1 GiB + MemTotal/32
		if want := int64(gib + memTotal/32); terms["host base"] != want {
			fail("the host measures 0: want the guessed host base %d, got %d", want, terms["host base"])
		}
		wantHost, wantExcess = gib+memTotal/32, 0
	} else {
		if terms["host in use"] != int64(wantHost) {
			fail("host in use is %d, the snapshot gives %d (non-ARC %d − AnonPages − Shmem %d)", terms["host in use"], wantHost, nonARC, procs)
		}
		if terms["process excess"] != int64(wantExcess) {
			fail("process excess is %d, the snapshot gives %d (AnonPages + Shmem %d − reservation %d)", terms["process excess"], wantExcess, procs, rec.Reserve)
		}
	}
	// The per-CPU lists, on a measured host whose zoneinfo has pagesets:
	// their bound less what they hold at the reading.
	var wantPCP int64
	if nonARC != 0 && last.hasPCP {
		wantPCP = int64(last.pcpBound) - int64(last.pcpCount)
		if got, ok := terms["per-CPU lists"]; !ok || got != wantPCP {
			fail("the per-CPU lists term is %d (present %v), the snapshot's pagesets give %d − %d = %d", got, ok, last.pcpBound, last.pcpCount, wantPCP)
		}
	} else if _, ok := terms["per-CPU lists"]; ok {
		fail("a per-CPU lists term without pagesets in the snapshot")
	}
	if int64(rec.HostBase) != int64(wantHost+wantExcess)+wantPCP {
		fail("host_base_bytes is %d, want host in use + process excess + per-CPU lists = %d", rec.HostBase, int64(wantHost+wantExcess)+wantPCP)
	}

	// The free floor: where kswapd wakes after a watermark boost, the zones'
	// low watermarks + their high × vm.watermark_boost_factor / 10000 (1.5 ×
	// by default; the snapshots' watermarks are far from overflowing the
	// product); arc_sys_free without zoneinfo.
	wantFloor := last.arcSysFree
	if last.hasZoneinfo {
		wantFloor = last.zoneLow + last.zoneHigh*last.boostFactor/10000
	}
	if terms["free floor"] != int64(wantFloor) || rec.FreeFloor != wantFloor {
		fail("the free floor is %d (free_floor_bytes %d), the snapshot gives %d", terms["free floor"], rec.FreeFloor, wantFloor)
	}

	// The window: its peak of non-ARC memory over every snapshot, and the
	// excess of that peak over the reservation and the host terms.
	if len(all) > 1 {
		var peak uint64
		for _, r := range all {
			peak = max(peak, r.nonARC())
		}
		if doc.WhatIf == nil || doc.WhatIf.PeakNonARC != peak {
			fail("whatif.peak_non_arc_bytes is %v, the window's snapshots give %d", doc.WhatIf, peak)
		}
		// The peak is at the window's end when the last snapshot holds more
		// than every one before it.
		var before uint64
		for _, r := range all[:len(all)-1] {
			before = max(before, r.nonARC())
		}
		if atEnd := all[len(all)-1].nonARC() > before; doc.WhatIf != nil && doc.WhatIf.PeakAtEnd != atEnd {
			fail("whatif.peak_at_end is %v, the window's last snapshot holds %d against %d before", doc.WhatIf.PeakAtEnd, all[len(all)-1].nonARC(), before)
		}

		// The prediction: what the peak leaves above the free floor, less
		// the overrun for a c of that room.
		fight := wantFloor
		room := int64(last.meminfo["MemTotal"]) - int64(last.hugepages()) - int64(peak) - int64(fight)
		if room > 0 {
			room -= int64(last.overrun(uint64(room)))
		}
		if doc.WhatIf != nil && (doc.WhatIf.FightLine != fight || doc.WhatIf.PredictedCStar != uint64(max(room, 0))) {
			fail("the what-if's fight line is %d and predicted C* %d, the snapshot gives %d and %d", doc.WhatIf.FightLine, doc.WhatIf.PredictedCStar, fight, max(room, 0))
		}
		var wantWin uint64
		if base := int64(rec.Reserve+wantHost+wantExcess) + wantPCP; int64(peak) > base {
			wantWin = uint64(int64(peak) - base)
		}
		if rec.WindowExcess != wantWin || terms["observed excess"] != int64(wantWin) {
			fail("the observed excess is %d (window_excess_bytes %d), the window gives %d", terms["observed excess"], rec.WindowExcess, wantWin)
		}
	} else if _, ok := terms["observed excess"]; ok {
		fail("an observed excess without a window")
	}

	// The ARC overrun, for a cap of what is left before it (the budget
	// after the floor and any observed excess).
	if left := rec.Budget + int64(rec.Overrun); left > 0 {
		if want := last.overrun(uint64(left)); rec.Overrun != want || terms["ARC overrun"] != int64(want) {
			fail("the ARC overrun is %d (arc_overrun_bytes %d), the rule for version %v and c = %d gives %d", terms["ARC overrun"], rec.Overrun, last.version, left, want)
		}
	}
	return bad
}

// TestGoldenInvariants checks every JSON golden with checkGolden against
// the root it was made from.
func TestGoldenInvariants(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found %d JSON goldens, want every bundled root (at least 20)", len(files))
	}
	withWindow := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			doc := readGolden(t, f)
			lastDir, dirs := goldenRoots(t, doc.Root)
			var all []hostReading
			for _, d := range dirs {
				all = append(all, readHostDir(t, d))
			}
			if len(all) > 1 {
				withWindow++
			}
			for _, p := range checkGolden(doc, readHostDir(t, lastDir), all) {
				t.Errorf("%s: %s", f, p)
			}
		})
	}
	if withWindow == 0 {
		t.Error("no golden of a recorded window: the window checks never ran")
	}

	// The checks bite: each hand edit of one golden, made on a copy in
	// memory, breaks the invariant it names, even when the edit keeps the
	// sum.
	path := filepath.Join("testdata", "golden", "snapshots_zfs-2.1.11-arc-filled.json")
	orig := readGolden(t, path)
	host := readHostDir(t, orig.Root)
	if bad := checkGolden(orig, host, []hostReading{host}); len(bad) > 0 {
		t.Fatalf("%s breaks the invariants: %q", path, bad)
	}
	term := func(doc *goldenDoc, name string) *int64 {
		for i := range doc.Rec.Terms {
			if doc.Rec.Terms[i].Name == name {
				return &doc.Rec.Terms[i].Bytes
			}
		}
		t.Fatalf("%s has no term %q", path, name)
		return nil
	}
	for _, tc := range []struct {
		name, want string
		edit       func(d *goldenDoc)
	}{
		{"one term changed", "the terms add up to", func(d *goldenDoc) { *term(d, "free floor") += 4096 }},
		{"host in use moved into rounding", "host in use is", func(d *goldenDoc) {
			*term(d, "host in use") += mib
			*term(d, "rounding") -= mib
			d.Rec.HostBase += mib
		}},
		{"the cap off its step, rounding compensating", "left rounded down to a multiple of", func(d *goldenDoc) {
			*term(d, "zfs_arc_max") -= mib
			*term(d, "rounding") += mib
			d.Rec.ArcMax -= mib
		}},
		{"the ARC overrun grown, rounding compensating", "the ARC overrun is", func(d *goldenDoc) {
			*term(d, "ARC overrun") += mib
			*term(d, "rounding") -= mib
			d.Rec.Overrun += mib
		}},
		{"MemTotal changed in the host section", "host.mem_total_bytes is", func(d *goldenDoc) { d.Host.MemTotal += 4096 }},
		{"a process excess that the snapshot does not have", "process excess is", func(d *goldenDoc) {
			d.Rec.Terms = append(d.Rec.Terms, d.Rec.Terms[0])
			d.Rec.Terms[len(d.Rec.Terms)-1].Name, d.Rec.Terms[len(d.Rec.Terms)-1].Bytes = "process excess", mib
			*term(d, "rounding") -= mib
		}},
	} {
		t.Run("bites/"+tc.name, func(t *testing.T) {
			doc := orig
			doc.Rec.Terms = append(doc.Rec.Terms[:0:0], orig.Rec.Terms...)
			tc.edit(&doc)
			bad := checkGolden(doc, host, []hostReading{host})
			if !strings.Contains(strings.Join(bad, "\n"), tc.want) {
				t.Errorf("after the edit the check reports %q, want %q", bad, tc.want)
			}
		})
	}

	// And on a window's golden: a prediction from a lower line, as if the
	// snapshot's floor were 64 MiB lower.
	wpath := filepath.Join("testdata", "golden", "vm_2.3.2-2_bpo12_2_replay-default.json")
	worig := readGolden(t, wpath)
	wlast, wdirs := goldenRoots(t, worig.Root)
	var wall []hostReading
	for _, d := range wdirs {
		wall = append(wall, readHostDir(t, d))
	}
	whost := readHostDir(t, wlast)
	if bad := checkGolden(worig, whost, wall); len(bad) > 0 || worig.WhatIf == nil {
		t.Fatalf("%s breaks the invariants or has no what-if: %q", wpath, bad)
	}
	t.Run("bites/window/the prediction from a line the snapshot does not give", func(t *testing.T) {
		doc := worig
		wi := *worig.WhatIf
		wi.FightLine -= 64 * mib
		wi.PredictedCStar += 64 * mib
		doc.WhatIf = &wi
		if bad := checkGolden(doc, whost, wall); !strings.Contains(strings.Join(bad, "\n"), "the what-if's fight line is") {
			t.Errorf("after the edit the check reports %q", bad)
		}
	})

	// And on the golden of a host that declares its workload.
	dpath := filepath.Join("testdata", "golden", "declared_pve-libvirt-2.3.2-8G.json")
	dorig := readGolden(t, dpath)
	dhost := readHostDir(t, dorig.Root)
	if bad := checkGolden(dorig, dhost, []hostReading{dhost}); len(bad) > 0 {
		t.Fatalf("%s breaks the invariants: %q", dpath, bad)
	}
	for _, tc := range []struct {
		name, want string
		edit       func(d *goldenDoc)
	}{
		{"a guest counted twice its memory", "pve-qemu 100 counts", func(d *goldenDoc) { d.Reservation.Sources[0].CountedBytes *= 2 }},
		{"a template counted", "pve-qemu 9000 counts", func(d *goldenDoc) {
			for i := range d.Reservation.Sources {
				if d.Reservation.Sources[i].ID == "9000" {
					d.Reservation.Sources[i].Counted, d.Reservation.Sources[i].CountedBytes = true, 512*mib
				}
			}
		}},
		{"the auto sum off the sources", "the counted sources add up to", func(d *goldenDoc) { d.Reservation.CountedBytes += mib }},
		{"reserve_bytes without the typed part", "not the typed", func(d *goldenDoc) { d.Rec.Reserve -= 2 * gib }},
	} {
		t.Run("bites/declared/"+tc.name, func(t *testing.T) {
			doc := dorig
			r := *dorig.Reservation
			r.Sources = append(r.Sources[:0:0], dorig.Reservation.Sources...)
			doc.Reservation = &r
			tc.edit(&doc)
			bad := checkGolden(doc, dhost, []hostReading{dhost})
			if !strings.Contains(strings.Join(bad, "\n"), tc.want) {
				t.Errorf("after the edit the check reports %q, want %q", bad, tc.want)
			}
		})
	}
}
