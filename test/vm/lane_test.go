package vm

// The host side of the lane (lane.sh, report.sh, lib-host.sh), run for real
// without a guest: lane.sh is sourced by bash (it then only defines its
// functions and traps) and its build and run functions are called on a
// t.TempDir() $LAB, with fakes first on PATH for what must not run on the
// test machine (chroot, mount, umount, mountpoint: no real mounts; qemu:
// no guest). Everything else is the real program: bash, cp, find, timeout,
// truncate, qemu-img, mkfs.ext4.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// The fake chroot: called as lane.sh's in_chroot does, `chroot ROOT
// /usr/bin/env -i VAR=... CMD ARG...`. It appends "CMD ARG..." to
// $LANE_TEST_LOG and fails (exit 1) when that line matches the shell pattern
// $LANE_TEST_FAIL; dkms status says the module is installed and dpkg-query
// gives zfs-dkms' version, as in the real 2.3 chroot.
const fakeChroot = `#!/bin/sh
shift 2
[ "$1" = -i ] && shift
while [ $# -gt 0 ]; do case $1 in *=*) shift ;; *) break ;; esac; done
printf '%s\n' "$*" >>"$LANE_TEST_LOG"
case "$*" in $LANE_TEST_FAIL) echo "fake chroot: $* failed" >&2; exit 1 ;; esac
case $1 in
  dkms) echo "zfs/2.3.2, 6.1.0-99-amd64, x86_64: installed" ;;
  dpkg-query) printf '2.3.2-2~bpo12+2\n' ;;
esac
exit 0
`

// The fake mount table: one file per mounted directory under $LANE_TEST_MNT,
// so that the test can see what is still mounted at the end.
const (
	fakeMount      = "#!/bin/sh\nfor a; do t=$a; done\ntouch \"$LANE_TEST_MNT/$(echo \"$t\" | tr / _)\"\n"
	fakeUmount     = "#!/bin/sh\nfor a; do t=$a; done\nrm -f \"$LANE_TEST_MNT/$(echo \"$t\" | tr / _)\"\n"
	fakeMountpoint = "#!/bin/sh\n[ \"$1\" = -q ] && shift\ntest -e \"$LANE_TEST_MNT/$(echo \"$1\" | tr / _)\"\n"
	// qemu: says it started (its pid, then the same pid as sleep's), then
	// runs until killed, or exits at once with LANE_TEST_QEMU_EXIT set.
	fakeQemu = "#!/bin/sh\n[ -n \"$LANE_TEST_QEMU_EXIT\" ] && exit \"$LANE_TEST_QEMU_EXIT\"\necho $$ >\"$LANE_TEST_QEMU_PID.tmp\"\nmv \"$LANE_TEST_QEMU_PID.tmp\" \"$LANE_TEST_QEMU_PID\"\nexec sleep 300\n"
)

const kver = "6.1.0-99-amd64"

// lane is a t.TempDir() $LAB with the fakes on PATH.
type lane struct {
	repo, dir, lab, log, mnt, qemuPid string
	env                               []string
}

func newLane(t *testing.T) *lane {
	t.Helper()
	d := t.TempDir()
	l := &lane{repo: testutil.RepoRoot(t), dir: d, lab: filepath.Join(d, "lab"), log: filepath.Join(d, "chroot.log"),
		mnt: filepath.Join(d, "mnt"), qemuPid: filepath.Join(d, "qemu.pid")}
	bin := filepath.Join(d, "bin")
	for name, body := range map[string]string{"chroot": fakeChroot, "mount": fakeMount, "umount": fakeUmount,
		"mountpoint": fakeMountpoint, "qemu-system-x86_64": fakeQemu} {
		testutil.WriteTree(t, bin, map[string]string{name: body})
		if err := os.Chmod(filepath.Join(bin, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(l.mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	l.env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH")+":/usr/sbin:/sbin", "LAB="+l.lab,
		"MIRROR=http://deb.invalid/debian", "SECMIRROR=http://deb.invalid/debian-security",
		"IMG_SIZE=8M", "POOLDISK_SIZE=16M", "FORCE=", "REPO="+l.repo,
		"LANE_TEST_LOG="+l.log, "LANE_TEST_MNT="+l.mnt, "LANE_TEST_QEMU_PID="+l.qemuPid)
	return l
}

// command runs lane.sh's functions: bash sources it, then runs args.
func (l *lane) command(env []string, args ...string) *exec.Cmd {
	script := filepath.Join(l.repo, "test", "vm", "lane.sh")
	cmd := exec.Command("bash", append([]string{"-c", `source "$0" && "$@"`, script}, args...)...)
	cmd.Env = append(append([]string{}, l.env...), env...)
	return cmd
}

// base lays out a debootstrapped, kernel-installed base rootfs: the files the
// build steps read or edit.
func (l *lane) base(t *testing.T, kernelDone bool) {
	t.Helper()
	files := map[string]string{
		".stamp-debootstrap":                           "",
		"etc/shadow":                                   "root:*:19000:0:99999:7:::\n",
		"etc/initramfs-tools/modules":                  "",
		"etc/initramfs-tools/initramfs.conf":           "MODULES=dep\n",
		"etc/apt/sources.list":                         "",
		"etc/systemd/system/multi-user.target.wants/x": "",
		"usr/sbin/.keep":                               "",
		"lib/modules/" + kver + "/updates/dkms/zfs.ko": "module",
		"boot/vmlinuz-" + kver:                         "kernel",
		"boot/initrd.img-" + kver:                      "initrd",
	}
	if kernelDone {
		files[".stamp-kernel"] = ""
	}
	testutil.WriteTree(t, filepath.Join(l.lab, "rootfs-base"), files)
}

func (l *lane) mounted(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(l.mnt)
	if err != nil {
		t.Fatal(err)
	}
	var m []string
	for _, e := range ents {
		m = append(m, e.Name())
	}
	return m
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

// TestStepFails: a command that fails inside a build step's function stops
// that function there and the lane with exit 3, naming the step; the chroot
// the step mounted is unmounted and the step's stamp is not written. The
// first case is the one `"$@" || rc=$?` let through: depmod, the last command
// of variant_zfs before its unmount, failed and the step reported rc=0.
func TestStepFails(t *testing.T) {
	testutil.Tool(t, "mkfs.ext4", "e2fsprogs")
	cases := []struct {
		name       string
		kernelDone bool   // the base's kernel step already done
		fail       string // shell pattern of the chroot command that fails
		call       string // lane.sh function run
		step       string // "" = succeeds
		lastCmd    string // the last command the fake chroot ran
		stamps     map[string]bool
	}{
		{name: "depmod in variant_zfs", kernelDone: true, fail: "depmod *", call: "build_variant",
			step: "apt install zfs-dkms zfsutils-linux + dkms build (2.3)", lastCmd: "depmod -a " + kver,
			stamps: map[string]bool{"2.3/rootfs/.stamp-copy": true, "2.3/rootfs/.stamp-zfs": false}},
		{name: "apt-get update in base_kernel", fail: "apt-get*update", call: "build_base",
			step: "install kernel, headers, stress-ng (base)", lastCmd: "apt-get -q --error-on=any update",
			stamps: map[string]bool{"rootfs-base/.stamp-kernel": false}},
		{name: "apt-get install in variant_tools", kernelDone: true, fail: "apt-get install*jq fio", call: "build_variant",
			step: "apt install jq fio (2.3)", lastCmd: "apt-get install -y -q --no-install-recommends jq fio",
			stamps: map[string]bool{"2.3/rootfs/.stamp-zfs": true, "2.3/rootfs/.stamp-lane-tools": false}},
		{name: "dpkg-query in variant_boot", kernelDone: true, fail: "dpkg-query*n zfs-dkms", call: "build_variant",
			step: "boot hook, kernel and initrd (2.3)", lastCmd: "dpkg-query -W -f=${Version}\\n zfs-dkms",
			stamps: map[string]bool{"2.3/rootfs/.stamp-lane-tools": true, "2.3/rootfs.img": false, "2.3/zfs-version": false}},
		{name: "nothing fails", kernelDone: true, call: "build_variant", lastCmd: "dpkg-query -W -f=${Version}\\n zfs-dkms",
			stamps: map[string]bool{"2.3/rootfs/.stamp-zfs": true, "2.3/rootfs/.stamp-lane-tools": true,
				"2.3/rootfs.img": true, "2.3/zfs-version": true, "2.3/vmlinuz": true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLane(t)
			l.base(t, c.kernelDone)
			args := []string{c.call}
			if c.call == "build_variant" {
				args = append(args, "2.3")
			}
			var stderr bytes.Buffer
			cmd := l.command([]string{"LANE_TEST_FAIL=" + c.fail}, args...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			want, wantMsg := 3, "ERROR: build step failed: "+c.step+" (rc=1)"
			if c.step == "" {
				want, wantMsg = 0, "variant 2.3 ready: kernel "+kver+", zfs-dkms 2.3.2-2~bpo12+2"
			}
			if got := testutil.ExitCode(err); got != want {
				t.Errorf("exit %d, want %d\n%s", got, want, stderr.String())
			}
			if !strings.Contains(stderr.String(), wantMsg) {
				t.Errorf("stderr lacks %q:\n%s", wantMsg, stderr.String())
			}
			log, _ := os.ReadFile(l.log)
			lines := strings.Split(strings.TrimSpace(string(log)), "\n")
			if last := lines[len(lines)-1]; last != c.lastCmd {
				t.Errorf("the step went on after %q: last chroot command %q\n%s", c.lastCmd, last, log)
			}
			if m := l.mounted(t); len(m) > 0 {
				t.Errorf("left mounted: %q", m)
			}
			for f, want := range c.stamps {
				if got := exists(filepath.Join(l.lab, f)); got != want {
					t.Errorf("%s exists: %v, want %v", f, got, want)
				}
			}
			if c.step != "" {
				tl, _ := os.ReadFile(filepath.Join(l.lab, "timings.log"))
				if !strings.Contains(string(tl), "lane: "+c.step) || !strings.HasSuffix(strings.TrimSpace(string(tl)), "rc=1") {
					t.Errorf("timings.log does not end with the failed step:\n%s", tl)
				}
			}
		})
	}
}

// runLab lays out a built 2.3 variant (a small raw image) and the binary.
func (l *lane) runLab(t *testing.T) string {
	t.Helper()
	testutil.WriteTree(t, l.lab, map[string]string{
		"2.3/zfs-version": "2.3.2-2~bpo12+2\n", "2.3/kernel-version": kver + "\n",
		"2.3/vmlinuz": "kernel", "2.3/initrd.img": "initrd", "lane/arcadvise": "binary",
	})
	img := filepath.Join(l.lab, "2.3", "rootfs.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	return img
}

// the run directory run_variant made (lane/runs/2.3/<time>)
func (l *lane) runDir(t *testing.T) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(l.lab, "lane", "runs", "2.3", "*"))
	if len(m) != 1 {
		t.Fatalf("run directories: %q, want one", m)
	}
	return m[0]
}

// TestRunInterrupted: a signal to the lane while the guest runs stops that
// guest's qemu (timeout's process group, which a Ctrl-C at the terminal does
// not reach) and removes the run's overlay and pool image, not the cached
// image; the lane exits 128+signal.
func TestRunInterrupted(t *testing.T) {
	testutil.Tool(t, "qemu-img", "qemu-utils")
	// A signal ignored by whatever started the tests (a background job's
	// SIGINT, nohup's SIGHUP) would stay ignored in bash, which cannot trap a
	// signal ignored at its start: handle the three here, so that children
	// get the default.
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(ch)
	for _, c := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGINT, "SIGINT"}, {syscall.SIGTERM, "SIGTERM"}, {syscall.SIGHUP, "SIGHUP"}} {
		t.Run(c.name, func(t *testing.T) {
			l := newLane(t)
			img := l.runLab(t)
			var stderr bytes.Buffer
			cmd := l.command([]string{"BUILD_COMMIT=test", "BUILD_DIRTY=0"}, "run_variant", "2.3", "parse")
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			pid := 0
			t.Cleanup(func() {
				if pid > 0 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			// readiness: the fake qemu wrote its pid (it is running under timeout)
			for deadline := time.Now().Add(60 * time.Second); pid == 0; {
				if b, err := os.ReadFile(l.qemuPid); err == nil {
					pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
				} else if time.Now().After(deadline) {
					t.Fatalf("qemu did not start:\n%s", stderr.String())
				} else {
					select {
					case err := <-done:
						t.Fatalf("run_variant ended before qemu started (%v):\n%s", err, stderr.String())
					case <-time.After(10 * time.Millisecond):
					}
				}
			}
			run := l.runDir(t)
			for _, f := range []string{"overlay.qcow2", "pool.img"} {
				if !exists(filepath.Join(run, f)) {
					t.Errorf("%s not there while qemu runs", f)
				}
			}
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("the lane did not exit after %s:\n%s", c.name, stderr.String())
			}
			if got, want := testutil.ExitCode(err), 128+int(c.sig); got != want {
				t.Errorf("exit %d, want %d\n%s", got, want, stderr.String())
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("qemu (pid %d) still there after the lane exited: kill -0: %v", pid, err)
			}
			for _, f := range []string{"overlay.qcow2", "pool.img"} {
				if exists(filepath.Join(run, f)) {
					t.Errorf("%s left behind", f)
				}
			}
			if !exists(img) || !exists(filepath.Join(run, "console.log")) {
				t.Errorf("the cached image or the run's console log is gone")
			}
			if want := "interrupted (" + c.name + ")"; !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
			}
		})
	}
}

// TestRunQemuExits: the usual end, qemu exiting by itself (the guest powered
// off, or failed): the overlay and pool image are removed, the boot and the
// scenarios that wrote no result are FAIL rows, the results are collected.
func TestRunQemuExits(t *testing.T) {
	testutil.Tool(t, "qemu-img", "qemu-utils")
	for _, c := range []struct {
		code string
		rows []string
	}{
		{"0", []string{"parse\tFAIL\t-\tno result"}},
		{"1", []string{"boot\tFAIL\twall_s=", "\tqemu exited 1\n", "parse\tFAIL\t-\tno result"}},
	} {
		t.Run("exit "+c.code, func(t *testing.T) {
			l := newLane(t)
			img := l.runLab(t)
			var stderr bytes.Buffer
			cmd := l.command([]string{"BUILD_COMMIT=test", "BUILD_DIRTY=0", "LANE_TEST_QEMU_EXIT=" + c.code}, "run_variant", "2.3", "parse")
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("run_variant: %v\n%s", err, stderr.String())
			}
			run := l.runDir(t)
			for _, f := range []string{"overlay.qcow2", "pool.img"} {
				if exists(filepath.Join(run, f)) {
					t.Errorf("%s left behind", f)
				}
			}
			if !exists(img) {
				t.Errorf("the cached image is gone")
			}
			res, err := os.ReadFile(filepath.Join(l.lab, "lane", "results", "2.3", "results.tsv"))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range c.rows {
				if !strings.Contains(string(res), r) {
					t.Errorf("results.tsv lacks %q:\n%s", r, res)
				}
			}
		})
	}
}

// TestReport: lane.sh report prints the table and report.sh writes the
// report from the same results (the one reader in lib-host.sh): each
// variant's status per scenario, "not run" where it has none.
func TestReport(t *testing.T) {
	l := newLane(t)
	repo := filepath.Join(l.dir, "repo")
	testutil.WriteTree(t, l.lab, map[string]string{
		"lane/results/2.3/results.tsv": "parse\tPASS\tdiffs=0\t\nlive\tFAIL\t-\tc_max did not move\nlive\tPASS\tc_max=1 GiB\t\n",
		"lane/results/2.3/env":         "variant=2.3\nzfs_dkms=2.3.2-2~bpo12+2\naccel=-accel tcg\nmem_mib=4096\nsmp=2\ncommit=abc1234\ndirty=0\n",
	})
	testutil.WriteTree(t, repo, map[string]string{"docs/.keep": ""})
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("bash", filepath.Join(testutil.RepoRoot(t), "test", "vm", "lane.sh"), "report")
	cmd.Env = append(append([]string{}, l.env...), "REPO="+repo)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("lane.sh report: %v\n%s", err, stderr.String())
	}
	table := stdout.String()
	md, err := os.ReadFile(filepath.Join(repo, "docs", "real-kernel.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := func(a, b, c string) string { return fmt.Sprintf("%-9s| %-28s| %-28s\n", a, b, c) } // print_table's printf
	for _, want := range []string{
		row("scenario", "2.1 ", "2.3 2.3.2-2~bpo12+2"),
		row("parse", "not run", "PASS") + "    2.3: diffs=0\n",
		row("live", "not run", "PASS") + "    2.3: c_max=1 GiB\n", // the last line of a scenario wins
		row("timing", "not run", "not run"),
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	for _, want := range []string{
		"| 2.1 | not run |",
		"| 2.3 | 2.3.2-2~bpo12+2 |  |  | 4096 MiB, 2 vCPU | TCG (software) |  (abc1234) |  |  s |",
		"| not run | PASS |\n| live |",
		"- **live, 2.3: PASS**. c_max=1 GiB\n",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("real-kernel.md lacks %q", want)
		}
	}
}

// TestUsage: --help prints the whole header comment (through its last line,
// the environment) and exits 0; an unknown command prints it to stderr, exit 2.
func TestUsage(t *testing.T) {
	script := filepath.Join(testutil.RepoRoot(t), "test", "vm", "lane.sh")
	out, err := exec.Command("bash", script, "--help").Output()
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"lane.sh - arcadvise's real-kernel test lane", "TIMING_RUNS / TIMING_SLOW_RUNS (f: 21 / 7).\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "set -euo") || strings.HasPrefix(string(out), "#") {
		t.Errorf("--help prints more than the header comment:\n%s", out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("bash", script, "bogus")
	cmd.Stderr = &stderr
	if got := testutil.ExitCode(cmd.Run()); got != 2 || !strings.Contains(stderr.String(), "Exit status") {
		t.Errorf("unknown command: exit %d, want 2 with the usage on stderr:\n%s", got, stderr.String())
	}
}

// TestFrontierHistory: a frontier run's line in history.tsv says whether the
// recommendation's window was clean by the same rule as C*'s rungs (here
// no reclaim but PSI some 25 ms over the 20 ms threshold: fought), and the
// report lists every run of the configuration with the range C* took on
// the 64 MiB ladder, worked by hand: 1344 and 1472 MiB, 128 MiB apart,
// 10% of the lower (128/1344 = 9.5%).
func TestFrontierHistory(t *testing.T) {
	l := newLane(t)
	repo := filepath.Join(l.dir, "repo")
	const cfg = "docs/frontier/2.3-4096M-R2G/"
	const mib = 1 << 20
	testutil.WriteTree(t, repo, map[string]string{
		cfg + "frontier.env": fmt.Sprintf("reserve=2G\nrecommended=%d\ndefault_cap=%d\nstep=%d\nfine_step=%d\npsi_ms=20\nkind=vm\nwall_s=600\nc_star=%d\npredicted=%d\nshrinker_limit=0\n",
			1488*mib, 2889*mib, 256*mib, 64*mib, 1472*mib, 1430*mib),
		cfg + "run.env": "variant=2.3\nzfs=2.3.2\nkernel=6.1.0\nmem_mib=4096\ndate=2026-12-07T04:35:25Z\ncommit=abc1234\ndirty=0\nresult=FAIL\n",
		cfg + "frontier.tsv": "label\tc_max\tdirect\tindirect\tallocstall\toom_kill\tpsi_some_ms\tpsi_full_ms\tc_low\thit_ratio\tghost_hits\tread_bps\treads\n" +
			fmt.Sprintf("fine-1472\t%d\t0\t98\t0\t0\t10\t9\t%d\t0.3\t1\t1\t1\n", 1472*mib, 1396*mib) +
			fmt.Sprintf("recommended\t%d\t0\t5\t0\t0\t25\t20\t%d\t0.3\t1\t1\t1\n", 1488*mib, 1450*mib),
		cfg + "history.tsv": "date\tcommit\tladder\tc_star\trecommended\trec_window\tpredicted\tresult\tfirst_fight\n" +
			fmt.Sprintf("2026-12-07T03:23:59Z\t513266e\t64\t%d\t%d\tfought\t%d\tFAIL\t%d\n", 1344*mib, 1488*mib, 1400*mib, 1280*mib) +
			fmt.Sprintf("2026-12-07T03:50:00Z\t5134567\t64\t%d\t%d\tfought\t%d\tFAIL\t%d\n", 1408*mib, 1488*mib, 1420*mib, 1472*mib),
		// the windows of three runs: 03:50 before the settle (its fight at 1300 MiB is left out),
		// 03:23 and 04:35 after it (taken together: below)
		cfg + "windows.tsv": "date\tsettled\tpsi_ms\tlabel\tc_max\tdirect\tindirect\tallocstall\toom_kill\tpsi_some_ms\tpsi_full_ms\tc_low\thit_ratio\tghost_hits\tread_bps\treads\n" +
			fmt.Sprintf("2026-12-07T03:50:00Z\t0\t20\trecommended\t%d\t1\t0\t1\t0\t0\t0\t0\t0\t0\t0\t0\n", 1300*mib) +
			fmt.Sprintf("2026-12-07T03:23:59Z\t1\t20\tcap-1408\t%d\t0\t9\t0\t0\t3\t0\t0\t0\t0\t0\t0\n", 1408*mib) +
			fmt.Sprintf("2026-12-07T03:23:59Z\t1\t20\tfine-1440\t%d\t1\t9\t1\t0\t4\t0\t0\t0\t0\t0\t0\n", 1440*mib) +
			fmt.Sprintf("2026-12-07T03:23:59Z\t1\t20\tfine-1472\t%d\t0\t9\t0\t0\t18\t0\t0\t0\t0\t0\t0\n", 1472*mib) +
			fmt.Sprintf("2026-12-07T04:35:25Z\t1\t20\tfine-1472\t%d\t0\t98\t0\t0\t10\t9\t0\t0\t0\t0\t0\n", 1472*mib) +
			fmt.Sprintf("2026-12-07T04:35:25Z\t1\t20\trecommended\t%d\t0\t5\t0\t0\t25\t20\t0\t0\t0\t0\t0\n", 1488*mib),
		cfg + "held-out.env": "date=2026-12-07T03:23:59Z\ncommit=513266e\nnote=chosen for the test\n",
	})
	dir := filepath.Join(repo, cfg)
	out, err := exec.Command("bash", "-c", `. "$1/test/vm/lib-host.sh" && frontier_history_row "$2" >>"$2/history.tsv" && tail -1 "$2/history.tsv"`,
		"-", testutil.RepoRoot(t), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("frontier_history_row: %v\n%s", err, out)
	}
	// the lowest window that fought: the recommendation's, 1488 MiB
	if want := fmt.Sprintf("2026-12-07T04:35:25Z\tabc1234\t64\t%d\t%d\tfought\t%d\tFAIL\t%d\n", 1472*mib, 1488*mib, 1430*mib, 1488*mib); string(out) != want {
		t.Errorf("history row %q, want %q", out, want)
	}
	cmd := exec.Command("bash", filepath.Join(testutil.RepoRoot(t), "test", "vm", "lane.sh"), "report")
	cmd.Env = append(append([]string{}, l.env...), "REPO="+repo)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lane.sh report: %v\n%s", err, out)
	}
	md, err := os.ReadFile(filepath.Join(repo, "docs", "real-kernel.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"### 2.3-4096M-R2G (held out: the run of 2026-12-07T03:23:59Z): FAIL (the latest run; 0 of the 3 runs on the 64 MiB ladder PASS)",
		"| 2.3-4096M-R2G (held out: the run of 2026-12-07T03:23:59Z) | 2026-12-07T04:35:25Z |",
		"| FAIL | 1408 MiB (2 runs): FAIL |", // the summary's last column: the settled runs together, below
		"Held out: the run of 2026-12-07T03:23:59Z (arcadvise 513266e), run once and reported as it came out, chosen for the test. Its verdict: FAIL. The runs after it are not held out.",
		// the two settled runs' five windows: the lowest that fought is 1440 MiB (direct
		// reclaim; 1488 fought by PSI, 1300 was before the settle), the largest below it 1408;
		// the recommendation 1488 is 1488/1408 = 1.06 x and above 1440; the what-if 1430:
		// (1430-1408)/1408 = +1.6%; FAIL (the recommendation is not below every cap that fought)
		"Over the 2 runs since the settle (e7f05e9) taken together (windows.tsv, 5 windows): the lowest cap that fought in any is 1440 MiB (1 of its 1 windows fought), and the largest measured below it, 1408 MiB, is the cap none of them saw fight. Against it the latest recommendation, 1488 MiB, is 1.06 × and not below every cap that fought, and the latest what-if is +1.6%: FAIL by the pass rule.",
		"| 1488 MiB | 0 | 0 | 5 | 0 | 25 ✗ | 20 |", // the recommendation's rung, over the PSI threshold
		"ARC shrinker limit: zfs_arc_shrinker_limit set to 0 by the lane at run time",
		"| 2026-12-07T03:23:59Z | 513266e | 64 MiB | 1344 MiB | 1280 MiB (below C\\*) | 1488 MiB (1.11 × C*) | fought | 1400 MiB (+4.2%) | FAIL |",
		"| 2026-12-07T04:35:25Z | abc1234 | 64 MiB | 1472 MiB | 1488 MiB | 1488 MiB (1.01 × C*) | fought | 1430 MiB (-2.9%) | FAIL |",
		// the first run's C*, 1344 MiB, lies above a cap that fought (1280 MiB): the older rule,
		// left out of the range, which is over the other two: C* 1408 and 1472 MiB, 64/1408 =
		// 4.5%; the prediction 1420 and 1430 MiB, 10/1420 = 0.7%
		"Left out of the range below: 1 run whose C\\* (the older rule: the largest clean cap) lies above a cap that fought.",
		"Over the 2 runs on the 64 MiB ladder C\\* ranged 1408–1472 MiB (64 MiB, 5% of the lowest), the recommendation 1488–1488 MiB and the what-if's prediction 1420–1430 MiB (1% of its lowest): the prediction moved less than C\\* did, so a miss of more than 5% on one run is mostly C\\*'s own move. The recommendation's window was clean in 0 and the verdict PASS in 0.",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("real-kernel.md lacks %q", want)
		}
	}
}

// TestFrontierLadder: the guest's ladder (s-frontier.sh, fr_ladder) with a
// fake window that writes fr_window's row into frontier.tsv: caps from FIGHT
// MiB up fight (direct reclaim), except LUCK, which stays clean by luck. C*
// is the largest clean cap below the first that fought, never a lucky one
// above it, and the fine steps run from C* up to that first fight. Worked
// by hand for a recommendation of 1392 MiB (rungs from 768 MiB) and the
// default 2889 MiB, both windows run before the ladder.
func TestFrontierLadder(t *testing.T) {
	const mib = 1 << 20
	script := filepath.Join(testutil.RepoRoot(t), "test", "vm", "guest", "s-frontier.sh")
	for _, tt := range []struct {
		name        string
		fight, luck int   // MiB: caps >= fight fight, except luck
		pre         []int // windows run before the ladder (the default's, the recommendation's)
		rec         int
		windows     []int // the ladder's windows, in order
		cstar       int
	}{
		// 1536 fights: C* is the recommendation, 1392; 1456 fights
		{"frontier above the recommendation", 1408, 0, []int{2889, 1392}, 1392,
			[]int{768, 1024, 1280, 1536, 1456}, 1392},
		// the recommendation fought: the fine steps stop below it
		{"the recommendation fought", 1380, 0, []int{2889, 1392}, 1392,
			[]int{768, 1024, 1280, 1536, 1344}, 1344},
		// 1536 clean by luck above the recommendation's fight: the ladder
		// goes on to 1792, C* stays below 1392
		{"a lucky clean rung above the first fight", 1380, 1536, []int{2889, 1392}, 1392,
			[]int{768, 1024, 1280, 1536, 1792, 1344}, 1344},
		{"the frontier two rungs up", 1700, 0, []int{2889, 1392}, 1392,
			[]int{768, 1024, 1280, 1536, 1792, 1600, 1664, 1728}, 1664},
		{"every rung fights", 700, 0, []int{2889, 1392}, 1392,
			[]int{768, 512, 576, 640, 704}, 640},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var rows strings.Builder
			rows.WriteString("label\tc_max\tdirect\tindirect\tallocstall\toom_kill\tpsi_some_ms\tpsi_full_ms\tc_low\thit_ratio\tghost_hits\tread_bps\treads\n")
			for _, c := range tt.pre {
				fmt.Fprintf(&rows, "pre\t%d\t%d\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\n", c*mib, map[bool]int{true: 1}[c >= tt.fight && c != tt.luck])
			}
			if err := os.MkdirAll(filepath.Join(dir, "frontier"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "frontier", "frontier.tsv"), []byte(rows.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			// fr_window CAP LABEL: the fake window logs CAP and writes its row,
			// with direct reclaim when CAP fights
			harness := `MiB=1048576; OUT=$1; . "$2"
fr_window() { local m=$(( $1 / MiB )) d=0; [ "$m" -ge "$FIGHT" ] && [ "$m" != "$LUCK" ] && d=1
  echo "$m" >>"$OUT/windows"
  printf '%s\t%s\t%s\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\n' "$2" "$1" "$d" >>"$OUT/frontier/frontier.tsv"; }
fr_ladder $(( REC * MiB )) $(( 2889 * MiB )); fr_cstar`
			cmd := exec.Command("bash", "-c", harness, "-", dir, script)
			cmd.Env = append(os.Environ(), fmt.Sprintf("FIGHT=%d", tt.fight), fmt.Sprintf("LUCK=%d", tt.luck), fmt.Sprintf("REC=%d", tt.rec), "L=/nonexistent")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("fr_ladder: %v\n%s", err, out)
			}
			log, _ := os.ReadFile(filepath.Join(dir, "windows"))
			var got []int
			for _, f := range strings.Fields(string(log)) {
				n, _ := strconv.Atoi(f)
				got = append(got, n)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.windows) {
				t.Errorf("windows %v, want %v", got, tt.windows)
			}
			if want := fmt.Sprint(tt.cstar * mib); strings.TrimSpace(string(out)) != want {
				t.Errorf("C* %s, want %s (%d MiB)", strings.TrimSpace(string(out)), want, tt.cstar)
			}
		})
	}
}

// TestFrontierExport: export_frontier copies a run into docs/frontier/<config>/ and keeps what
// the configuration's earlier runs left: history.tsv gains a row and windows.tsv the run's
// windows (its date, whether it settled, its PSI threshold), and the held-out record stays the
// first held-out run's, even when a later run asks to be held out too.
func TestFrontierExport(t *testing.T) {
	l := newLane(t)
	repo := filepath.Join(l.dir, "repo")
	const mib = 1 << 20
	run := func(date string, settled bool, heldOut string) {
		t.Helper()
		rd := filepath.Join(l.dir, "run-"+date)
		env := fmt.Sprintf("reserve=2G\nrecommended=%d\ndefault_cap=%d\nstep=%d\nfine_step=%d\npsi_ms=20\nkind=vm\nwall_s=600\nc_star=%d\npredicted=%d\n",
			1392*mib, 2889*mib, 256*mib, 64*mib, 1392*mib, 1380*mib)
		if settled {
			env += "settle_s=12\n"
		}
		testutil.WriteTree(t, rd, map[string]string{
			"share/lane/env":                  "date=" + date + "\n",
			"share/out/results.tsv":           "frontier\tPASS\tx\t\n",
			"share/out/frontier/frontier.env": env,
			"share/out/frontier/frontier.tsv": "label\tc_max\tdirect\tindirect\tallocstall\toom_kill\tpsi_some_ms\tpsi_full_ms\tc_low\thit_ratio\tghost_hits\tread_bps\treads\n" +
				fmt.Sprintf("recommended\t%d\t0\t5\t0\t0\t3\t0\t0\t0\t0\t0\t0\n", 1392*mib) +
				fmt.Sprintf("fine-1456\t%d\t1\t5\t1\t0\t30\t9\t0\t0\t0\t0\t0\n", 1456*mib),
		})
		cmd := l.command([]string{"REPO=" + repo, "MEM=4096", "RESERVE=2G", "KIND=vm", "BUILD_COMMIT=abc1234", "BUILD_DIRTY=0", "HELD_OUT=" + heldOut},
			"export_frontier", "2.3", rd)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("export_frontier: %v\n%s", err, out)
		}
	}
	run("2026-12-07T10:00:00Z", false, "")
	run("2026-12-07T11:00:00Z", true, "the first held-out run")
	run("2026-12-07T12:00:00Z", true, "a second one, refused")
	dir := filepath.Join(repo, "docs", "frontier", "2.3-4096M-R2G")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if h := read("history.tsv"); strings.Count(h, "\n") != 4 || !strings.HasPrefix(h, "date\tcommit\t") {
		t.Errorf("history.tsv: want the header and 3 rows, got\n%s", h)
	}
	want := "date\tsettled\tpsi_ms\tlabel\tc_max\tdirect\tindirect\tallocstall\toom_kill\tpsi_some_ms\tpsi_full_ms\tc_low\thit_ratio\tghost_hits\tread_bps\treads\n"
	for _, r := range []struct {
		date    string
		settled int
	}{{"2026-12-07T10:00:00Z", 0}, {"2026-12-07T11:00:00Z", 1}, {"2026-12-07T12:00:00Z", 1}} {
		want += fmt.Sprintf("%s\t%d\t20\trecommended\t%d\t0\t5\t0\t0\t3\t0\t0\t0\t0\t0\t0\n", r.date, r.settled, 1392*mib) +
			fmt.Sprintf("%s\t%d\t20\tfine-1456\t%d\t1\t5\t1\t0\t30\t9\t0\t0\t0\t0\t0\n", r.date, r.settled, 1456*mib)
	}
	if got := read("windows.tsv"); got != want {
		t.Errorf("windows.tsv:\n%s\nwant:\n%s", got, want)
	}
	if got, want := read("held-out.env"), "date=2026-12-07T11:00:00Z\ncommit=abc1234\nnote=the first held-out run\n"; got != want {
		t.Errorf("held-out.env %q, want %q", got, want)
	}
	if r := read("run.env"); !strings.Contains(r, "date=2026-12-07T12:00:00Z\n") || strings.Contains(r, "held") {
		t.Errorf("run.env: want the latest run's, without a held-out mark:\n%s", r)
	}
}
