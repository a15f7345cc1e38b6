package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/declared"
	"github.com/arcadvise/arcadvise/internal/policy"
)

// TestReservationSection: with --reserve auto the text has a Reservation
// section, a row per declaration within 80 columns (a long cgroup path
// wraps), and the JSON its sources; the answer stays on the first line.
func TestReservationSection(t *testing.T) {
	const mib = 1 << 20
	s := lab(t, "zfs-2.1.11-arc-filled")
	gs := declared.Count([]declared.Guest{
		{Source: declared.PVEQemu, ID: "100", Name: "web", Path: "/etc/pve/qemu-server/100.conf", DeclaredBytes: 1024 * mib,
			BalloonMinBytes: 512 * mib, Running: true},
		{Source: declared.PVEQemu, ID: "9000", Name: "tmpl", Path: "/etc/pve/qemu-server/9000.conf", DeclaredBytes: 512 * mib, Template: true},
		{Source: declared.Libvirt, ID: "gpu", Name: "gpu", Path: "/etc/libvirt/qemu/gpu.xml", DeclaredBytes: 512 * mib, OnBoot: true,
			Pinned: true, Hugepages: []declared.HugePageUse{{PageSize: 2 * mib, Bytes: 512 * mib}}},
		{Source: declared.Cgroup, ID: "system.slice/postgresql.service", Name: "postgresql.service",
			Path: "/sys/fs/cgroup/system.slice/postgresql.service/memory.min", Unlimited: true, Running: true},
	}, declared.Boot, declared.Host{MemTotal: s.Mem.MemTotal})
	// 1024 MiB (running) + 512 MiB (huge pages with no pool: counted), each
	// VM's QEMU, 64 MiB + RAM/512 (66 and 65 MiB), and MemTotal for
	// memory.min max: more than the host; the report shows the
	// declarations as they are whatever the policy makes of them.
	d := &Declared{Rule: declared.Boot, Guests: gs}
	rec := recommend(t, s, policy.Input{Reservations: []policy.Reservation{{Label: "auto", Bytes: 1536 * mib, Source: "--reserve auto"}}})
	r := New(Input{Tool: "t", Root: "r", Host: s, Recommendation: rec, Declared: d})

	var text bytes.Buffer
	if err := r.WriteText(&text, TextOptions{Width: 80}); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	if !strings.HasPrefix(out, "Recommendation: ") {
		t.Errorf("the answer is not first:\n%s", out)
	}
	for _, want := range []string{
		"\nReservation: what the host declares (--reserve auto, --guests boot)\n",
		"  3 of 4 declarations count, ",
		"pve-qemu 1 of 2, libvirt 1 of 1, cgroup 1\n  of 1.\n",
		"     1 GiB  1.06 GiB  pve-qemu 100 \"web\", /etc/pve/qemu-server/100.conf:\n",
		"   512 MiB         -  pve-qemu 9000 \"tmpl\", /etc/pve/qemu-server/9000.conf:\n",
		"       max  3.82 GiB  cgroup /sys/fs/cgroup/system.slice/postgresql.service:\n", // memory.min max: MemTotal
		"  libvirt gpu, /etc/libvirt/qemu/gpu.xml: stopped, starts",                      // no name beside an ID that is the name
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	for i, l := range strings.Split(out, "\n") {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("line %d is %d columns: %q", i+1, n, l)
		}
	}

	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Reservation Reservation `json:"reservation"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	res := doc.Reservation
	if res.Guests != "boot" || len(res.Sources) != 4 {
		t.Fatalf("reservation %+v", res)
	}
	web, gpu, pg := res.Sources[0], res.Sources[2], res.Sources[3]
	if web.CountedBytes != 1090*mib || !web.Counted || web.BalloonMinBytes != 512*mib || !web.Running {
		t.Errorf("web %+v", web)
	}
	if gpu.HugepagesBytes != 512*mib || !gpu.Pinned || !gpu.OnBoot || gpu.CountedBytes != 577*mib {
		t.Errorf("gpu %+v", gpu)
	}
	if !pg.Unlimited || pg.CountedBytes != s.Mem.MemTotal {
		t.Errorf("postgresql %+v", pg)
	}
	if want := 1090*mib + 577*mib + s.Mem.MemTotal; res.CountedBytes != want {
		t.Errorf("counted_bytes %d, want %d", res.CountedBytes, want)
	}
}

// TestNothingDeclared: --reserve auto that found nothing warns, and says
// whether the observed reading stands in.
func TestNothingDeclared(t *testing.T) {
	s := lab(t, "zfs-2.1.11-arc-filled")
	rec := recommend(t, s, policy.Input{})
	r := New(Input{Tool: "t", Root: "r", Host: s, Recommendation: rec, Declared: &Declared{Rule: declared.Boot}})
	if len(r.Warnings) != 1 || !strings.HasSuffix(r.Warnings[0], "the reservation is observed, and --diff, --write, --live and --check refuse it") {
		t.Errorf("warnings %q", r.Warnings)
	}
	if len(s.Warnings) != 0 {
		t.Errorf("the snapshot's own warnings changed: %q", s.Warnings)
	}
	if r.Reservation == nil || len(r.Reservation.Sources) != 0 || r.Reservation.Sources == nil {
		t.Errorf("reservation %+v: want an empty list of sources", r.Reservation)
	}
}
