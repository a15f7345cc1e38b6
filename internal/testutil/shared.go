// Package testutil holds helpers shared by the tests of several packages.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot returns the root of the arcadvise checkout (the directory that
// holds go.mod), found from this source file's location.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testutil: cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedDir returns the read-only reference directory ../shared that sits
// beside the checkout. Its fixtures are other projects' data and are read in
// place, never copied into the repository. Without it the test is skipped
// with a message, except under CI=true, where a missing ../shared is a
// failure: CI always has it.
func SharedDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "..", "shared")
	if _, err := os.Stat(filepath.Join(dir, "fixtures")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("../shared/fixtures is missing (CI always has it): %v", err)
		}
		t.Skipf("../shared/fixtures not found beside the checkout (%v): real-capture test not run", err)
	}
	return dir
}

// Fixture returns the path of a file under ../shared/fixtures.
func Fixture(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(SharedDir(t), "fixtures", rel)
}

// WriteTree writes files (slash-separated path under root → content) into
// root, creating the directories they need: a host laid out under a
// t.TempDir() root.
func WriteTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for rel, body := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Tool returns the path of a program the test runs for real (node_exporter,
// promtool, ansible-playbook, ...). Without it the test says so and skips,
// except under CI=true, where .ci/run installs it from Debian's packages and
// a missing one is a failure.
func Tool(t testing.TB, name, debPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing: .ci/run installs it (apt-get install %s)", name, debPackage)
	}
	t.Skipf("%s not installed (apt-get install %s); .ci/run installs it", name, debPackage)
	return ""
}

// NeedRoot skips a test that only root can run (why says what needs it),
// except under CI=true, where the tests run as root and a test that did not
// run is a failure.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("needs root (%s); CI runs the tests as root", why)
	}
	t.Skipf("needs root: %s", why)
}
