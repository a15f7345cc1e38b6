package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// TestNodeExporterScrape runs the real node_exporter (Debian's
// prometheus-node-exporter) on 127.0.0.1 with only the textfile collector,
// on a directory arcadvise --textfile wrote, and scrapes it: the arcadvise
// metrics are there and node_textfile_scrape_error is 0. promtool check
// metrics lints the file itself.
func TestNodeExporterScrape(t *testing.T) {
	exporter := testutil.Tool(t, "prometheus-node-exporter", "prometheus-node-exporter")
	promtool := testutil.Tool(t, "promtool", "prometheus")
	dir := t.TempDir()
	// The bundled hypervisor (testdata/declared/README.md): what it
	// declares, guest by guest, plus 1 GiB.
	root := filepath.Join(testutil.RepoRoot(t), "testdata", "declared", "pve-libvirt-2.3.2-8G")
	if code := run(context.Background(), []string{"--root", root, "--reserve", "auto", "--reserve", "1G", "--textfile", dir}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("arcadvise --textfile: exit %d", code)
	}
	prom, err := os.ReadFile(filepath.Join(dir, "arcadvise.prom"))
	if err != nil {
		t.Fatal(err)
	}
	lint := exec.Command(promtool, "check", "metrics")
	lint.Stdin = bytes.NewReader(prom)
	if out, err := lint.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	// The listener is the test's, handed to node_exporter as systemd
	// socket activation does (sd_listen_fds(3): fd 3 on, LISTEN_FDS, and
	// LISTEN_PID the receiving process, which sh sets to its own pid before
	// it execs node_exporter; --web.systemd-socket in exporter-toolkit).
	// The port stays bound from here to the end, so no other process can
	// take it, and a scrape sent before node_exporter serves waits in the
	// backlog instead of failing.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lf, err := l.(*net.TCPListener).File()
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1; export LISTEN_PID LISTEN_FDS; exec "$@"`, "sh",
		exporter, "--web.systemd-socket", "--collector.disable-defaults",
		"--collector.textfile", "--collector.textfile.directory="+dir)
	cmd.ExtraFiles = []*os.File{lf}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	err = cmd.Start()
	lf.Close() // node_exporter holds the socket now: if it fails, the scrape is refused at once
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("no scrape from node_exporter at %s: %v\n%s", addr, err, logs.String())
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape of node_exporter at %s: %s, %v\n%s", addr, resp.Status, err, logs.String())
	}
	for _, want := range []string{
		`node_textfile_scrape_error 0`,
		// What is left after the guests, 1 GiB and the host in use,
		// 1778255736, less the free floor 242194432 (the zones' low
		// watermarks 21118 pages + 1.5 × their high 25341), the per-CPU
		// lists' 74391552 (the bound less what they hold) and the ARC
		// overrun 16 MiB + 3 · ((1461669752 >> 8) / 2) = 25341685,
		// rounded down to 16 MiB (≤ 1/64 of it): 85 × 16 MiB.
		`arcadvise_recommended_arc_max_bytes 1.42606336e+09`,
		// VMs 100 (2048 MiB + QEMU's own 68) and 102 (1024 + 66), container
		// 200 (512), the libvirt domain (1 GiB + 66 MiB), PostgreSQL's
		// memory.min (256 MiB), and the 1 GiB typed.
		`arcadvise_reservation_bytes{source="typed"} 1.073741824e+09`,
		`arcadvise_reservation_bytes{source="pve-qemu"} 3.361734656e+09`,
		`arcadvise_reservation_bytes{source="pve-lxc"} 5.36870912e+08`,
		`arcadvise_reservation_bytes{source="libvirt"} 1.14294784e+09`,
		`arcadvise_reservation_bytes{source="cgroup"} 2.68435456e+08`,
		`arcadvise_guests{counted="true",source="pve-qemu"} 2`,
		`arcadvise_guests{counted="false",source="pve-qemu"} 2`,
		`arcadvise_guests{counted="true",source="cgroup"} 1`,
		// MemAvailable 755356 kB + ARC size 7247394680 − c_min 260151424.
		`arcadvise_memory_available_bytes 7.7607278e+09`,
		`arcadvise_effective_arc_max_bytes 7.251103744e+09`,
		`arcadvise_drift 1`,
		`arcadvise_pressure_level 0`,
		`arcadvise_last_run_success 1`,
		`arcadvise_configured_arc_max_bytes{source="next_boot"} 0`,
	} {
		if !bytes.Contains(body, []byte("\n"+want+"\n")) {
			t.Errorf("the scrape lacks %q", want)
		}
	}
	// node_exporter stamps the file's modification time; arcadvise's own
	// run time is a gauge beside it.
	if !regexp.MustCompile(`(?m)^node_textfile_mtime_seconds\{file="[^"]*arcadvise.prom"\} `).Match(body) {
		t.Errorf("no node_textfile_mtime_seconds for arcadvise.prom in the scrape")
	}
	m := regexp.MustCompile(`(?m)^arcadvise_last_run_timestamp_seconds (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatal("no arcadvise_last_run_timestamp_seconds in the scrape")
	}
	if ts, err := strconv.ParseFloat(string(m[1]), 64); err != nil || time.Since(time.Unix(int64(ts), 0)) > time.Minute {
		t.Errorf("arcadvise_last_run_timestamp_seconds %s is not now", m[1])
	}
}

// TestAlertRules checks the alerting rules shipped in contrib/prometheus
// with promtool, and runs their unit tests (drift for an hour, pressure
// high, a known bug, arcadvise not running).
func TestAlertRules(t *testing.T) {
	promtool := testutil.Tool(t, "promtool", "prometheus")
	dir := filepath.Join(testutil.RepoRoot(t), "contrib", "prometheus")
	for _, args := range [][]string{{"check", "rules", "arcadvise.rules.yml"}, {"test", "rules", "arcadvise.rules.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestSystemdUnits verifies the service and timer shipped in contrib/systemd
// with systemd-analyze, the service's ExecStart pointed at this test's
// arcadvise stand-in (the real one is installed as /usr/bin/arcadvise).
func TestSystemdUnits(t *testing.T) {
	analyze := testutil.Tool(t, "systemd-analyze", "systemd")
	src := filepath.Join(testutil.RepoRoot(t), "contrib", "systemd")
	dir := t.TempDir()
	for _, name := range []string{"arcadvise-textfile.service", "arcadvise-textfile.timer"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "arcadvise-textfile.service" && !bytes.Contains(b, []byte("ExecStart=/usr/bin/arcadvise $ARCADVISE_ARGS --textfile ${TEXTFILE_DIR}\n")) {
			t.Fatalf("%s: ExecStart is not the arcadvise --textfile line", name)
		}
		b = bytes.ReplaceAll(b, []byte("/usr/bin/arcadvise"), []byte("/bin/true"))
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, "arcadvise-textfile.service"), filepath.Join(dir, "arcadvise-textfile.timer"))
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The sandbox: systemd's own exposure score, at most 1.5 (the unit
	// scored 5.2 "MEDIUM" before it was hardened; 1.0 now, the rest
	// being root, AF_UNIX and the whole of /proc, which it reads).
	cmd = exec.Command(analyze, "security", "--offline=yes", "--threshold=15", filepath.Join(dir, "arcadvise-textfile.service"))
	out, err := cmd.CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for arcadvise-textfile.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if score, _ := strconv.ParseFloat(string(m[1]), 64); score > 1.5 {
		t.Errorf("exposure %.1f, want at most 1.5:\n%s", score, out)
	}
}
