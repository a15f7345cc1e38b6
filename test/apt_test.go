// Package test holds the shell helpers that test.sh and the real-kernel lane
// (test/vm) share; this test runs lib-apt.sh's apt_install with the real
// apt-get, on a temporary apt (APT_CONFIG: its own sources, lists, dpkg
// status and locks; dpkg itself is /bin/false), so that it changes nothing
// on the machine and reaches no mirror.
package test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// One package, installed: `apt-get install` of it succeeds from the status
// file alone, with no package list and no download.
const status = `Package: arcadvise-test-installed
Status: install ok installed
Priority: optional
Section: misc
Installed-Size: 1
Maintainer: arcadvise tests <test@example.invalid>
Architecture: all
Version: 1.0
Description: an installed package for apt_install's test

`

// unreachable: a mirror that refuses the connection at once. apt calls that a
// transient network error: a warning, and a plain apt-get update exits 0.
const unreachable = "deb http://127.0.0.1:1/debian bookworm main\n"

type apt struct{ dir, conf string }

func newApt(t *testing.T, sources string) *apt {
	t.Helper()
	d := t.TempDir()
	testutil.WriteTree(t, d, map[string]string{
		"etc/sources.list": sources, "etc/sources.list.d/.keep": "", "etc/apt.conf.d/.keep": "",
		"lists/partial/.keep": "", "cache/archives/partial/.keep": "", "dpkg/status": status,
		"dpkg/updates/.keep": "", "state/.keep": "", "log/.keep": "",
	})
	conf := filepath.Join(d, "apt.conf")
	testutil.WriteTree(t, d, map[string]string{"apt.conf": strings.ReplaceAll(`Dir::Etc::main "/dev/null";
Dir::Etc::parts "@D@/etc/apt.conf.d";
Dir::Etc::sourcelist "@D@/etc/sources.list";
Dir::Etc::sourceparts "@D@/etc/sources.list.d";
Dir::State "@D@/state";
Dir::State::Lists "@D@/lists";
Dir::State::status "@D@/dpkg/status";
Dir::Cache "@D@/cache";
Dir::Log "@D@/log";
Dir::Bin::dpkg "/bin/false";
APT::Sandbox::User "root";
Acquire::Retries "0";
`, "@D@", d)})
	a := &apt{dir: d, conf: conf}
	// apt reads this configuration and not the machine's: its dpkg status is ours
	cmd := exec.Command("apt-config", "shell", "S", "Dir::State::status/f")
	cmd.Env = a.env()
	out, err := cmd.Output()
	if want := "S='" + filepath.Join(d, "dpkg", "status") + "'\n"; err != nil || string(out) != want {
		t.Fatalf("apt-config under APT_CONFIG: %q (%v), want %q", out, err, want)
	}
	return a
}

// env: no proxy (the unreachable mirror must refuse, not a proxy answer).
func (a *apt) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasSuffix(strings.ToLower(k), "_proxy") {
			env = append(env, kv)
		}
	}
	return append(append(env, "APT_CONFIG="+a.conf, "DEBIAN_FRONTEND=noninteractive"), extra...)
}

func (a *apt) install(t *testing.T, extra []string, pkgs ...string) *exec.Cmd {
	t.Helper()
	lib := filepath.Join(testutil.RepoRoot(t), "test", "lib-apt.sh")
	cmd := exec.Command("bash", append([]string{"-c", `set -euo pipefail; . "$0"; apt_install "$@"`, lib}, pkgs...)...)
	cmd.Env = a.env(extra...)
	return cmd
}

// lock takes the fcntl write lock apt takes (GetLock, apt-pkg/contrib/fileutl.cc
// at apt 2.6.1) on rel, as another apt run would hold it; closing releases it.
func (a *apt) lock(t *testing.T, rel string) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(a.dir, rel), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatalf("lock %s: %v", rel, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestAptInstall: what apt_install returns and says, for each way an update
// and an install can go.
func TestAptInstall(t *testing.T) {
	testutil.Tool(t, "apt-get", "apt")
	cases := []struct {
		name, sources, pkg string
		extra              []string
		hold               string // a lock held through the run
		code               int
		say, never         []string // on stderr
	}{
		{name: "update and install", pkg: "arcadvise-test-installed",
			never: []string{"apt: "}},
		{name: "unreachable mirror, install from the lists there", sources: unreachable, pkg: "arcadvise-test-installed",
			say: []string{"E: Failed to fetch http://127.0.0.1:1/debian/dists/bookworm/InRelease",
				"apt: apt-get update failed (rc=100); installing from the package lists this machine already has",
				"apt: warning: installed --no-install-recommends arcadvise-test-installed from package lists that apt-get update could not refresh"}},
		{name: "unreachable mirror and the install fails", sources: unreachable, pkg: "arcadvise-no-such-package", code: 100,
			say: []string{"apt: apt-get update failed (rc=100)",
				"apt: apt-get install --no-install-recommends arcadvise-no-such-package failed (rc=100) after apt-get update failed (rc=100)"},
			never: []string{"warning"}},
		{name: "the install fails", pkg: "arcadvise-no-such-package", code: 100,
			say:   []string{"E: Unable to locate package arcadvise-no-such-package", "apt: apt-get install --no-install-recommends arcadvise-no-such-package failed (rc=100)\n"},
			never: []string{"update failed"}},
		{name: "another apt keeps the lists' lock past APT_LOCK_WAIT", pkg: "arcadvise-test-installed",
			extra: []string{"APT_LOCK_WAIT=2", "APT_LOCK_POLL=1"}, hold: "lists/lock",
			say: []string{"apt: waiting up to 2s for another apt: E: Could not get lock " + "LISTS/lock. It is held by process",
				"apt: apt-get update failed (rc=100)", "apt: warning: installed --no-install-recommends arcadvise-test-installed"}},
		{name: "another apt keeps dpkg's lock past APT_LOCK_WAIT", pkg: "arcadvise-test-installed", code: 100,
			extra: []string{"APT_LOCK_WAIT=1"}, hold: "dpkg/lock-frontend",
			say:   []string{"E: Unable to acquire the dpkg frontend lock", "apt: apt-get install --no-install-recommends arcadvise-test-installed failed (rc=100)\n"},
			never: []string{"update failed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newApt(t, c.sources)
			if c.hold != "" {
				a.lock(t, c.hold)
			}
			var stderr bytes.Buffer
			cmd := a.install(t, c.extra, "--no-install-recommends", c.pkg)
			cmd.Stderr = &stderr
			got := testutil.ExitCode(cmd.Run())
			if got != c.code {
				t.Errorf("exit %d, want %d\n%s", got, c.code, stderr.String())
			}
			for _, s := range c.say {
				s = strings.ReplaceAll(s, "LISTS", filepath.Join(a.dir, "lists"))
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			for _, s := range c.never {
				if strings.Contains(stderr.String(), s) {
					t.Errorf("stderr has %q:\n%s", s, stderr.String())
				}
			}
		})
	}
}

// TestAptPlainUpdateSwallows is the premise of --error-on=any: the same
// unreachable mirror, and a plain apt-get update exits 0.
func TestAptPlainUpdateSwallows(t *testing.T) {
	testutil.Tool(t, "apt-get", "apt")
	a := newApt(t, unreachable)
	cmd := exec.Command("apt-get", "-q", "update")
	cmd.Env = a.env()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "W: Failed to fetch") {
		t.Errorf("plain apt-get update: %v, want exit 0 with a warning:\n%s", err, out)
	}
}

// TestAptWaitsForLocks: another apt holds a lock when apt_install starts and
// lets it go once apt_install says it waits; apt_install then succeeds, with
// nothing reported as failed. The lists' lock is apt_update's retry (apt's
// own GetLock there never waits), dpkg's is apt's DPkg::Lock::Timeout.
func TestAptWaitsForLocks(t *testing.T) {
	testutil.Tool(t, "apt-get", "apt")
	for _, c := range []struct {
		lock, waiting string
		stdout        bool // where the waiting line shows
	}{
		{"lists/lock", "apt: waiting up to 30s for another apt", false},
		{"dpkg/lock-frontend", "Waiting for cache lock: Could not get lock", true},
	} {
		t.Run(c.lock, func(t *testing.T) {
			a := newApt(t, "")
			held := a.lock(t, c.lock)
			cmd := a.install(t, []string{"APT_LOCK_POLL=1", "APT_LOCK_WAIT=30"}, "arcadvise-test-installed")
			var pipe io.ReadCloser
			var err error
			var other bytes.Buffer
			if c.stdout {
				pipe, err = cmd.StdoutPipe()
				cmd.Stderr = &other
			} else {
				pipe, err = cmd.StderrPipe()
				cmd.Stdout = &other
			}
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var seen bytes.Buffer
			waiting := false
			sc := bufio.NewScanner(pipe)
			for sc.Scan() {
				seen.WriteString(sc.Text() + "\n")
				if !waiting && strings.Contains(sc.Text(), c.waiting) {
					waiting = true
					held.Close() // the other apt is done
				}
			}
			err = cmd.Wait()
			if !waiting {
				t.Errorf("apt_install never said it waits (%q):\n%s", c.waiting, seen.String())
			}
			if err != nil {
				t.Errorf("apt_install: %v\n%s%s", err, seen.String(), other.String())
			}
			if s := seen.String() + other.String(); strings.Contains(s, "failed") {
				t.Errorf("a failure reported after waiting:\n%s", s)
			}
			if d := time.Since(start); d > 60*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
