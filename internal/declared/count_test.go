package declared

import (
	"strings"
	"testing"
)

// counted is what Count should decide for one guest: counted or not, how
// many bytes, and a piece of the why.
type counted struct {
	id      string
	counted bool
	bytes   uint64
	why     string
}

// A VM's QEMU process holds 64 MiB + RAM/512 of its own (oVirt's static
// overhead): 66 MiB for 1 GiB of RAM, 68 for 2, 72 for 4, 80 for 8.
func checkCount(t *testing.T, got []Guest, want []counted) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d guests, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || g.Counted != w.counted || g.CountedBytes != w.bytes || !strings.Contains(g.Why, w.why) {
			t.Errorf("%s %s: counted %v, %d bytes, why %q; want %v, %d bytes, why containing %q",
				g.Source, g.ID, g.Counted, g.CountedBytes, g.Why, w.counted, w.bytes, w.why)
		}
	}
}

func TestCountRules(t *testing.T) {
	gs := []Guest{
		{Source: PVEQemu, ID: "100", DeclaredBytes: 8 * gib, Running: true, BalloonMinBytes: 2 * gib},
		{Source: PVEQemu, ID: "101", DeclaredBytes: 4 * gib, OnBoot: true},
		{Source: PVEQemu, ID: "102", DeclaredBytes: 2 * gib},
		{Source: PVEQemu, ID: "103", DeclaredBytes: 16 * gib, Template: true, OnBoot: true},
		{Source: Libvirt, ID: "web", DeclaredBytes: 3 * gib, OnBoot: true},
	}
	for _, tc := range []struct {
		rule Rule
		want []counted
		sum  uint64
	}{
		{Boot, []counted{
			{"100", true, 8*gib + 80*mib, "running; QEMU's own 80 MiB (64 MiB + RAM/512); balloon minimum 2 GiB shown, not used"},
			{"101", true, 4*gib + 72*mib, "starts at boot (onboot: 1); QEMU's own 72 MiB"},
			{"102", false, 0, "does not start at boot"},
			{"103", false, 0, "template"},
			{"web", true, 3*gib + 70*mib, "starts at boot (autostart); QEMU's own 70 MiB"},
		}, 15*gib + 222*mib}, // 8 + 4 + 3 GiB, 80 + 72 + 70 MiB
		{Running, []counted{
			{"100", true, 8*gib + 80*mib, "running"},
			{"101", false, 0, "--guests running"},
			{"102", false, 0, "--guests running"},
			{"103", false, 0, "template"},
			{"web", false, 0, "--guests running"},
		}, 8*gib + 80*mib},
		{All, []counted{
			{"100", true, 8*gib + 80*mib, "running"},
			{"101", true, 4*gib + 72*mib, "starts at boot"},
			{"102", true, 2*gib + 68*mib, "--guests all"},
			{"103", false, 0, "template"},
			{"web", true, 3*gib + 70*mib, "starts at boot"},
		}, 17*gib + 290*mib}, // 8 + 4 + 2 + 3 GiB, 80 + 72 + 68 + 70 MiB
	} {
		t.Run(tc.rule.String(), func(t *testing.T) {
			got := Count(gs, tc.rule, Host{MemTotal: 64 * gib})
			checkCount(t, got, tc.want)
			if s := Sum(got); s != tc.sum {
				t.Errorf("Sum = %d, want %d", s, tc.sum)
			}
		})
	}
	if gs[0].Counted {
		t.Error("Count changed its input")
	}
}

func TestParseRule(t *testing.T) {
	for s, want := range map[string]Rule{"boot": Boot, "running": Running, "all": All} {
		if r, err := ParseRule(s); err != nil || r != want || r.String() != s {
			t.Errorf("ParseRule(%q) = %v, %v", s, r, err)
		}
	}
	if _, err := ParseRule("onboot"); err == nil {
		t.Error("ParseRule(onboot): no error")
	}
	var zero Rule
	if zero != Boot {
		t.Error("the zero Rule is not the default, Boot")
	}
}

func TestCountCaps(t *testing.T) {
	gs := []Guest{
		// memtune hard_limit 1 GiB below memory 4 GiB + QEMU's 72 MiB: 1 GiB.
		{Source: Libvirt, ID: "capped", DeclaredBytes: 4 * gib, HardLimitBytes: gib, Running: true},
		// hard_limit above memory and QEMU's own: both.
		{Source: Libvirt, ID: "loose", DeclaredBytes: 2 * gib, HardLimitBytes: 3 * gib, Running: true},
		// 16 GiB with a 512 MiB nvdimm: 15.5 GiB of RAM, QEMU's own
		// 64 MiB + 15.5 GiB/512 = 64 + 31 MiB.
		{Source: Libvirt, ID: "pmem", DeclaredBytes: 16 * gib, PmemBytes: 512 * mib, Running: true},
	}
	checkCount(t, Count(gs, Boot, Host{}), []counted{
		{"capped", true, gib, "capped by memtune hard_limit 1 GiB"},
		{"loose", true, 2*gib + 68*mib, "running"},
		{"pmem", true, 15*gib + 512*mib + 95*mib, "512 MiB of nvdimm/virtio-pmem is host files, not RAM; QEMU's own 95 MiB"},
	})
}

// TestCountHugepages checks the huge page rule: a running guest counts 0,
// a stopped one 0 only while the free pool covers it, first come first
// served; each VM also counts its QEMU's own memory, in normal pages.
func TestCountHugepages(t *testing.T) {
	host := Host{MemTotal: 128 * gib, HugePages: HugePages{Default: 2 * mib, Pools: []HugePool{
		// 3100 free 2 MiB pages of which 100 reserved: 3000 available.
		{PageSize: 2 * mib, Total: 8192, Free: 3100, Reserved: 100},
		// 1 GiB pages: 4 free.
		{PageSize: gib, Total: 10, Free: 4},
	}}}
	gs := []Guest{
		// Running: its pages are in HugePages_Total already.
		{Source: PVEQemu, ID: "100", DeclaredBytes: 10 * gib, Running: true,
			Hugepages: []HugePageUse{{PageSize: 2 * mib, Bytes: 10 * gib}}},
		// Stopped, onboot, 4 GiB = 2048 pages of 2 MiB: covered (3000 → 952 left).
		{Source: PVEQemu, ID: "101", DeclaredBytes: 4 * gib, OnBoot: true,
			Hugepages: []HugePageUse{{PageSize: 2 * mib, Bytes: 4 * gib}}},
		// Stopped, onboot, 4 GiB more: 952 < 2048 left: counted in full.
		{Source: PVEQemu, ID: "102", DeclaredBytes: 4 * gib, OnBoot: true,
			Hugepages: []HugePageUse{{PageSize: 2 * mib, Bytes: 4 * gib}}},
		// hugepages: any, 4 GiB, a multiple of 1 GiB, the host has 1 GiB
		// pages: 4 pages, 4 free: covered.
		{Source: PVEQemu, ID: "103", DeclaredBytes: 4 * gib, OnBoot: true,
			Hugepages: []HugePageUse{{Any: true, Bytes: 4 * gib}}},
		// hugepages: any, 1.5 GiB: 2 MiB pages, 768 of the 952 left: covered.
		{Source: PVEQemu, ID: "104", DeclaredBytes: gib + 512*mib, OnBoot: true,
			Hugepages: []HugePageUse{{Any: true, Bytes: gib + 512*mib}}},
		// Stopped and not at boot: not counted, takes no page.
		{Source: PVEQemu, ID: "105", DeclaredBytes: 64 * mib,
			Hugepages: []HugePageUse{{PageSize: 2 * mib, Bytes: 64 * mib}}},
		// libvirt default size (2 MiB here), 256 MiB = 128 pages, 184 left: covered.
		{Source: Libvirt, ID: "dflt", DeclaredBytes: 256 * mib, OnBoot: true,
			Hugepages: []HugePageUse{{Bytes: 256 * mib}}},
		// 16 MiB pages: the host has no such pool: counted.
		{Source: Libvirt, ID: "odd", DeclaredBytes: 32 * mib, OnBoot: true,
			Hugepages: []HugePageUse{{PageSize: 16 * mib, Bytes: 32 * mib}}},
		// Mixed sizes: 1 GiB pages wanted (none left) and 2 MiB ones
		// (56 left, 64 MiB = 32 pages: covered): the 1 GiB part counts.
		{Source: Libvirt, ID: "mixed", DeclaredBytes: gib + 64*mib, OnBoot: true,
			Hugepages: []HugePageUse{{PageSize: gib, Bytes: gib}, {PageSize: 2 * mib, Bytes: 64 * mib}}},
	}
	got := Count(gs, Boot, host)
	checkCount(t, got, []counted{
		{"100", true, 84 * mib, "QEMU's own 84 MiB (64 MiB + RAM/512); 10 GiB on 2 MiB pages, in HugePages_Total"}, // 64 + 10 GiB/512
		{"101", true, 72 * mib, "2048 free pages of the pool cover it"},
		{"102", true, 4*gib + 72*mib, "the pool has 952 free pages, it needs 2048"},
		{"103", true, 72 * mib, "4 GiB on 1 GiB pages: 4 free pages"},
		{"104", true, 67 * mib, "768 free pages"}, // 64 + 1.5 GiB/512
		{"105", false, 0, "does not start at boot"},
		{"dflt", true, 64*mib + 512*kib, "128 free pages"},                               // 64 MiB + 256 MiB/512
		{"odd", true, 32*mib + 64*mib + 64*kib, "no pool"},                               // 32 MiB + 64 MiB + 32 MiB/512
		{"mixed", true, gib + 66*mib + 128*kib, "the pool has 0 free pages, it needs 1"}, // 1 GiB + 64 MiB + 1088 MiB/512
	})
	// 4 GiB (102) + 32 MiB (odd) + 1 GiB (mixed), and QEMU's own of the
	// eight counted VMs: 84 + 72 + 72 + 72 + 67 + 64.5 + 64.0625 + 66.125 MiB.
	if want := uint64(5*gib + 32*mib + 561*mib + 704*kib); Sum(got) != want {
		t.Errorf("Sum = %d, want %d", Sum(got), want)
	}
}

// TestCountCgroups checks that nested protections count once, that a
// cgroup inside a guest's does not count, and that a protected parent of
// guests counts only what the guests leave.
func TestCountCgroups(t *testing.T) {
	cg := func(p string, min uint64) Guest {
		return Guest{Source: Cgroup, ID: p, Cgroup: p, DeclaredBytes: min, Running: true}
	}
	gs := []Guest{
		{Source: PVEQemu, ID: "100", DeclaredBytes: 8 * gib, Running: true, Cgroup: "qemu.slice/100.scope"},
		{Source: PVEQemu, ID: "101", DeclaredBytes: 4 * gib, OnBoot: true, Cgroup: "qemu.slice/101.scope"},
		{Source: PVEQemu, ID: "102", DeclaredBytes: 2 * gib, Cgroup: "qemu.slice/102.scope"},
		{Source: PVELXC, ID: "200", DeclaredBytes: gib, Running: true, Cgroup: "lxc/200"},
		// qemu.slice protects 32 GiB; 100 and 101 count 12 GiB and 152 MiB
		// (QEMU's own 80 + 72) under it (102 is not counted): the rest.
		cg("qemu.slice", 32*gib),
		// Inside VM 100's scope: the VM counts.
		cg("qemu.slice/100.scope", gib),
		// Inside container 200's cgroup.
		cg("lxc/200/ns/system.slice", 256*mib),
		// A slice of 8 GiB around services of 2 and 3 GiB: 3 GiB more.
		cg("workload.slice", 8*gib),
		cg("workload.slice/a.service", 2*gib),
		cg("workload.slice/b.service", 3*gib),
		// A slice of 4 GiB around services asking 3 + 3 GiB: nothing more.
		cg("over.slice", 4*gib),
		cg("over.slice/c.service", 3*gib),
		cg("over.slice/d.service", 3*gib),
		// A protection below an unprotected parent counts as declared.
		cg("system.slice/db.service", gib),
		// max: all of MemTotal; a service inside adds nothing.
		{Source: Cgroup, ID: "all.slice", Cgroup: "all.slice", Unlimited: true, Running: true},
		cg("all.slice/e.service", gib),
		// Above MemTotal: MemTotal.
		cg("huge.slice", 1<<45),
	}
	const memTotal = 128 * gib
	checkCount(t, Count(gs, Boot, Host{MemTotal: memTotal}), []counted{
		{"100", true, 8*gib + 80*mib, "running"},
		{"101", true, 4*gib + 72*mib, "starts at boot"},
		{"102", false, 0, "does not start at boot"},
		{"200", true, gib, "running"}, // a container: no QEMU
		{"qemu.slice", true, 20*gib - 152*mib, "memory.min 32 GiB less the 12.14 GiB counted below it (pve-qemu 100, pve-qemu 101)"},
		{"qemu.slice/100.scope", false, 0, "inside the cgroup of pve-qemu 100"},
		{"lxc/200/ns/system.slice", false, 0, "inside the cgroup of pve-lxc 200"},
		{"workload.slice", true, 3 * gib, "less the 5 GiB counted below it (cgroup workload.slice/a.service, cgroup workload.slice/b.service)"},
		{"workload.slice/a.service", true, 2 * gib, "memory.min 2 GiB"},
		{"workload.slice/b.service", true, 3 * gib, "memory.min 3 GiB"},
		{"over.slice", false, 0, "within the 6 GiB counted below it"},
		{"over.slice/c.service", true, 3 * gib, ""},
		{"over.slice/d.service", true, 3 * gib, ""},
		{"system.slice/db.service", true, gib, ""},
		{"all.slice", true, memTotal - gib, "memory.min max"},
		{"all.slice/e.service", true, gib, ""},
		{"huge.slice", true, memTotal, "more than MemTotal"},
	})
}

// TestCountStartingStopping: the guard's marks override the rule. A
// stopped guest that does not start at boot counts in full when it is
// starting, even under --guests running; one on 2 MiB huge pages counts 0
// when the free pool covers it and in full when it does not (its pages
// are allocated at its start); a running guest marked stopping counts 0.
func TestCountStartingStopping(t *testing.T) {
	host := Host{MemTotal: 8 * gib, HugePages: HugePages{Default: 2 * mib,
		Pools: []HugePool{{PageSize: 2 * mib, Total: 256, Free: 256}}}}
	gs := []Guest{
		{Source: PVEQemu, ID: "100", DeclaredBytes: 2 * gib, Starting: true},
		{Source: PVEQemu, ID: "101", DeclaredBytes: 512 * mib, Starting: true,
			Hugepages: []HugePageUse{{PageSize: 2 * mib, Bytes: 512 * mib}}},
		{Source: PVEQemu, ID: "102", DeclaredBytes: gib, Starting: true,
			Hugepages: []HugePageUse{{PageSize: 2 * mib, Bytes: gib}}},
		{Source: PVELXC, ID: "200", DeclaredBytes: gib, Running: true, OnBoot: true, Stopping: true},
		{Source: Libvirt, ID: "tpl", DeclaredBytes: gib, Template: true, Starting: true},
	}
	for _, rule := range []Rule{Running, Boot, All} {
		checkCount(t, Count(gs, rule, host), []counted{
			{"100", true, 2*gib + 68*mib, "starting"},
			// 512 MiB = 256 pages of 2 MiB: the whole free pool; QEMU's own
			// 64 MiB + 1 MiB.
			{"101", true, 65 * mib, "256 free pages of the pool cover it"},
			// 1 GiB = 512 pages; none are left.
			{"102", true, gib + 66*mib, "the pool has 0 free pages, it needs 512"},
			{"200", false, 0, "stopped (arcadvise --guard post-stop leaves it out)"},
			{"tpl", false, 0, "template"},
		})
	}
}
