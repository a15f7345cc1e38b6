package metrics

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/apply"
	"github.com/arcadvise/arcadvise/internal/guard"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/pressure"
	"github.com/arcadvise/arcadvise/internal/report"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

func text(t *testing.T, run Run) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteText(&b, Registry(run)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A failed run still says when it ran and that it failed, and nothing else.
func TestFailedRun(t *testing.T) {
	got := text(t, Run{Version: "1.2.3", Kernel: "6.1.0-57-amd64", At: time.Unix(1796172000, 0)})
	want := `# HELP arcadvise_info arcadvise's version, the OpenZFS module's version and the kernel release; always 1.
# TYPE arcadvise_info gauge
arcadvise_info{kernel="6.1.0-57-amd64",version="1.2.3",zfs_version=""} 1
# HELP arcadvise_last_run_success 1 when the last run read the host and advised, 0 when it failed.
# TYPE arcadvise_last_run_success gauge
arcadvise_last_run_success 0
# HELP arcadvise_last_run_timestamp_seconds When arcadvise last ran, in seconds since the epoch.
# TYPE arcadvise_last_run_timestamp_seconds gauge
arcadvise_last_run_timestamp_seconds 1.796172e+09
`
	if got != want {
		t.Errorf("failed run:\n%s\nwant:\n%s", got, want)
	}
}

// The gauges follow the report: drift, reboot pending, the configured
// values by source, the pressure level, uncovered bugs only.
func TestReportGauges(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	// next boot 8 GiB, in effect 16 GiB: a write waits for its reboot
	rep := &report.Report{
		ZFS:            report.ZFS{Version: "2.3.2", Advisories: []report.Advisory{{Covered: true}, {Covered: false}}},
		Arc:            report.Arc{Size: 1 << 30, CMax: 2 << 30},
		Pressure:       pressure.Pressure{Level: pressure.High},
		Drift:          true, // report.New sets it from Config.Drift
		Recommendation: report.Recommendation{Recommendation: policy.Recommendation{ArcMax: 8 << 30, Reserve: 20 << 30, DefaultCMax: 16 << 30}},
		Config: &apply.Result{Drift: []string{"running: ..."}, Params: []apply.ParamSources{{
			Param: zfsmod.ArcMax, NextBoot: &apply.Source{Bytes: u(8 << 30)}, Running: u(0), InEffect: u(16 << 30)}}},
	}
	got := text(t, Run{Version: "dev", At: time.Unix(0, 0), Report: rep})
	for _, want := range []string{
		"arcadvise_recommended_arc_max_bytes 8.589934592e+09\n",
		`arcadvise_reservation_bytes{source="typed"} 2.147483648e+10` + "\n",
		`arcadvise_configured_arc_max_bytes{source="next_boot"} 8.589934592e+09` + "\n",
		`arcadvise_configured_arc_max_bytes{source="running"} 0` + "\n",
		"arcadvise_effective_arc_max_bytes 2.147483648e+09\n",
		"arcadvise_arc_size_over_c_max_ratio 0.5\n",
		"arcadvise_drift 1\n",
		"arcadvise_reboot_required 1\n",
		"arcadvise_pressure_level 3\n",
		"arcadvise_known_bugs 1\n",
		"arcadvise_overcommitted 0\n",
		"arcadvise_last_run_success 1\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

// reboot_required without a configured value: 1 only when a live value
// is set (a reboot would undo it), whatever the version.
func TestRebootRequiredDefault(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	for _, tc := range []struct {
		running uint64
		want    string
	}{{0, "0"}, {4 << 30, "1"}} {
		rep := &report.Report{Config: &apply.Result{Params: []apply.ParamSources{{Param: zfsmod.ArcMax, Running: u(tc.running), InEffect: u(2 << 30)}}}}
		if got := text(t, Run{Report: rep}); !strings.Contains(got, "arcadvise_reboot_required "+tc.want+"\n") {
			t.Errorf("running %d: %s", tc.running, got)
		}
	}
}

// TextfileDir.Write leaves one file, 0644, and nothing else in the
// directory; a missing directory is an error when it is opened.
func TestWriteTextfile(t *testing.T) {
	dir := t.TempDir()
	tf, err := OpenTextfileDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	for range 2 { // the second replaces the first
		if err := tf.Write(Registry(Run{Version: "dev", At: time.Unix(0, 0)})); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != Textfile {
		t.Fatalf("directory holds %v, want only %s", entries, Textfile)
	}
	fi, err := os.Stat(filepath.Join(dir, Textfile))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v (%v), want 0644", fi.Mode(), err)
	}
	if _, err := OpenTextfileDir(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing: no such file or directory") {
		t.Errorf("missing directory: %v", err)
	}
}

// The reservation by source: with --reserve auto each declared source has
// its series (0 when it counts nothing), the typed sizes theirs, and they
// add up to the reservation; arcadvise_guests counts the declarations.
func TestReservationGauges(t *testing.T) {
	const mib = 1 << 20
	// 4 GiB typed + VM 100 (2048 MiB) + a cgroup's 512 MiB; VM 101 and a
	// libvirt domain do not count.
	rep := &report.Report{
		Host: report.Host{AvailableWithARC: 3 << 30},
		Recommendation: report.Recommendation{Recommendation: policy.Recommendation{Reserve: 4<<30 + 2560*mib,
			Reservations: []policy.Reservation{{Label: "auto", Bytes: 2560 * mib}, {Bytes: 4 << 30}}}},
		Reservation: &report.Reservation{Guests: "boot", CountedBytes: 2560 * mib, Sources: []report.Source{
			{Source: "pve-qemu", ID: "100", Counted: true, CountedBytes: 2048 * mib},
			{Source: "pve-qemu", ID: "101"},
			{Source: "libvirt", ID: "win"},
			{Source: "cgroup", ID: "system.slice/db.service", Counted: true, CountedBytes: 512 * mib},
		}},
	}
	got := text(t, Run{Version: "dev", At: time.Unix(0, 0), Report: rep})
	for _, want := range []string{
		`arcadvise_reservation_bytes{source="typed"} 4.294967296e+09`,
		`arcadvise_reservation_bytes{source="pve-qemu"} 2.147483648e+09`,
		`arcadvise_reservation_bytes{source="pve-lxc"} 0`,
		`arcadvise_reservation_bytes{source="libvirt"} 0`,
		`arcadvise_reservation_bytes{source="cgroup"} 5.36870912e+08`,
		`arcadvise_guests{counted="true",source="pve-qemu"} 1`,
		`arcadvise_guests{counted="false",source="pve-qemu"} 1`,
		`arcadvise_guests{counted="false",source="libvirt"} 1`,
		`arcadvise_guests{counted="true",source="cgroup"} 1`,
		`arcadvise_guests{counted="true",source="pve-lxc"} 0`,
		`arcadvise_memory_available_bytes 3.221225472e+09`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\narcadvise_reservation_bytes{"); n != 5 {
		t.Errorf("%d reservation series, want typed and the 4 sources", n)
	}
	// Observed: one series, no typed.
	rep = &report.Report{Recommendation: report.Recommendation{Recommendation: policy.Recommendation{Reserve: 700 * mib, ReserveObserved: true}}}
	got = text(t, Run{Version: "dev", At: time.Unix(0, 0), Report: rep})
	if !strings.Contains(got, `arcadvise_reservation_bytes{source="observed"} 7.340032e+08`+"\n") || strings.Contains(got, `source="typed"`) || strings.Contains(got, "arcadvise_guests") {
		t.Errorf("observed:\n%s", got)
	}
}

// arcadvise_initramfs_stale is 1 when an image the next boot uses is
// drift (stale, zfs loads from it), not for a stale image zfs does not
// load from.
func TestInitramfsStale(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		images []apply.InitramfsImage
		want   string
	}{
		{nil, "0"},
		{[]apply.InitramfsImage{{Path: "/boot/initrd.img-a", Read: true, Stale: &yes, LoadsModule: false}}, "0"},
		{[]apply.InitramfsImage{{Path: "/boot/initrd.img-a", Read: true, Stale: &yes}, {Path: "/boot/initrd.img-b", Read: true, Stale: &yes, LoadsModule: true, RunningKernel: true, Drift: true}}, "1"},
	} {
		rep := &report.Report{Config: &apply.Result{Initramfs: tc.images}}
		if got := text(t, Run{Report: rep}); !strings.Contains(got, "arcadvise_initramfs_stale "+tc.want+"\n") {
			t.Errorf("%d images: want %s in\n%s", len(tc.images), tc.want, got)
		}
	}
}

// TestGuardTextfile: the guard's metrics as node_exporter reads them, and
// the counter read back from them.
func TestGuardTextfile(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var b bytes.Buffer
	if err := WriteText(&b, GuardRegistry(GuardRun{Version: "0.1.0", Decision: guard.Lowered, At: at, LoweredTotal: 7})); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, w := range []string{
		"arcadvise_guard_last_decision{decision=\"lowered\"} 1\n",
		"arcadvise_guard_last_decision{decision=\"fits\"} 0\n",
		"arcadvise_guard_last_decision{decision=\"refused\"} 0\n",
		"arcadvise_guard_last_decision{decision=\"timeout\"} 0\n",
		"arcadvise_guard_last_decision_timestamp_seconds 1.767323045e+09\n",
		"# TYPE arcadvise_guard_lowered_total counter\narcadvise_guard_lowered_total 7\n",
		"arcadvise_guard_info{version=\"0.1.0\"} 1\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("lacks %q:\n%s", w, out)
		}
	}
	if n, err := ParseGuardLowered(strings.NewReader(out)); err != nil || n != 7 {
		t.Errorf("read back %d, %v; want 7", n, err)
	}
	for in, want := range map[string]string{
		"arcadvise_guard_lowered_total -1\n":                                                   "not a count",
		"arcadvise_guard_lowered_total 1.5\n":                                                  "not a count",
		"arcadvise_guard_lowered_total{a=\"b\"} 1\narcadvise_guard_lowered_total{a=\"c\"} 1\n": "appears 2 times",
		"{\n": "",
	} {
		if _, err := ParseGuardLowered(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", in, err, want)
		}
	}
	if n, err := ParseGuardLowered(strings.NewReader("other_metric 5\n")); n != 0 || err != nil {
		t.Errorf("without the counter: %d, %v", n, err)
	}
}

// FuzzParseGuardLowered: a count or an error, never a panic.
func FuzzParseGuardLowered(f *testing.F) {
	f.Add([]byte("arcadvise_guard_lowered_total 3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ParseGuardLowered(bytes.NewReader(data))
		if err == nil && n > 1<<53 {
			t.Fatalf("%d", n)
		}
	})
}
