package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/script/*.txtar")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"arcadvise": func() { os.Exit(runMain()) },
		"fakezfs":   func() { os.Exit(fakeZFS()) },
	})
}

// TestScript runs the CLI scripts in testdata/script. Each script works in
// its own directory, where snapshots/, replays/ and vm/ are the
// repository's testdata/snapshots, testdata/replays and testdata/vm (real
// host snapshots and recorded windows from our lab and the real-kernel lane) and $SHARED is
// ../shared when it exists (other projects' captures, read in place; the
// [shared] condition guards the scripts that need it).
func TestScript(t *testing.T) {
	repo := testutil.RepoRoot(t)
	shared := filepath.Join(repo, "..", "shared")
	haveShared := true
	if _, err := os.Stat(filepath.Join(shared, "fixtures")); err != nil {
		haveShared = false
		if os.Getenv("CI") == "true" {
			t.Fatalf("../shared/fixtures is missing (CI always has it): %v", err)
		}
		t.Log("../shared not found: scripts marked [shared] are skipped")
	}
	// run.sh builds with the go command: give it this build's caches.
	goEnv := map[string]string{}
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOPROXY", "GOTOOLCHAIN").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	for i, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOPROXY", "GOTOOLCHAIN"} {
		goEnv[k] = strings.Split(string(out), "\n")[i]
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("SHARED", shared)
			env.Setenv("REPO", repo)
			for k, v := range goEnv {
				env.Setenv(k, v)
			}
			env.Setenv("SNAPSHOTS", filepath.Join(repo, "testdata", "snapshots"))
			env.Setenv("NO_COLOR", "1")
			for _, d := range []string{"snapshots", "replays", "vm"} {
				if err := os.Symlink(filepath.Join(repo, "testdata", d), filepath.Join(env.WorkDir, d)); err != nil {
					return err
				}
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status":    cmdStatus,
			"snapshot":  cmdSnapshot,
			"waitfile":  cmdWaitFile,
			"mode":      cmdMode,
			"json":      cmdJSON,
			"initramfs": cmdInitramfs,
		},
		Condition: func(cond string) (bool, error) {
			if cond == "shared" {
				return haveShared, nil
			}
			// [tool:NAME]: a real program the script runs (ansible-playbook).
			// Missing, the script skips; under CI=true, where .ci/run installs
			// it, that is a failure.
			if name, ok := strings.CutPrefix(cond, "tool:"); ok {
				if _, err := exec.LookPath(name); err != nil {
					if os.Getenv("CI") == "true" {
						return false, fmt.Errorf("%s is missing: .ci/run installs it", name)
					}
					return false, nil
				}
				return true, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// cmdMode checks a file's permission bits:
//
//	mode textfile/arcadvise.prom 0644
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mode FILE OCTAL")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	if err != nil {
		ts.Fatalf("mode: bad mode %q", args[1])
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	if got := uint64(fi.Mode().Perm()); got != want {
		ts.Fatalf("%s has mode %#o, want %#o", args[0], got, want)
	}
}

// cmdJSON checks one value of the JSON document on stdout:
//
//	json reservation.counted_bytes 3714056192
//	json 'reservation.sources[id=101].why' running
//
// The path is dotted keys; [N] takes an array's element N, [KEY=VALUE]
// the element whose KEY is VALUE. The value is compared with the JSON
// encoding of what the path names, strings without their quotes.
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: json PATH VALUE")
	}
	var v any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile("stdout")), &v))
	for _, part := range splitPath(args[0]) {
		key, sel, _ := strings.Cut(strings.TrimSuffix(part, "]"), "[")
		if key != "" {
			m, ok := v.(map[string]any)
			if !ok {
				ts.Fatalf("json %s: %q is not in an object", args[0], key)
			}
			if v, ok = m[key]; !ok {
				ts.Fatalf("json %s: no key %q", args[0], key)
			}
		}
		if sel == "" {
			continue
		}
		arr, ok := v.([]any)
		if !ok {
			ts.Fatalf("json %s: %q is not an array", args[0], key)
		}
		if n, err := strconv.Atoi(sel); err == nil {
			if n < 0 || n >= len(arr) {
				ts.Fatalf("json %s: %s has %d elements", args[0], key, len(arr))
			}
			v = arr[n]
			continue
		}
		k, want, _ := strings.Cut(sel, "=")
		found := false
		for _, e := range arr {
			if m, ok := e.(map[string]any); ok && fmt.Sprint(m[k]) == want {
				v, found = e, true
				break
			}
		}
		if !found {
			ts.Fatalf("json %s: no element of %s with %s=%s", args[0], key, k, want)
		}
	}
	got := fmt.Sprint(v)
	if _, isString := v.(string); !isString {
		b, err := json.Marshal(v)
		ts.Check(err)
		got = string(b)
	}
	if (got == args[1]) == neg {
		ts.Fatalf("json %s is %s, want %s%s", args[0], got, map[bool]string{true: "not "}[neg], args[1])
	}
}

// splitPath splits a json path at the dots outside brackets.
func splitPath(p string) []string {
	var parts []string
	depth, start := 0, 0
	for i, c := range p {
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == '.' && depth == 0:
			parts = append(parts, p[start:i])
			start = i + 1
		}
	}
	return append(parts, p[start:])
}

// cmdStatus runs a program and checks its exit status:
//
//	status 3 arcadvise --reserve 3G
//
// Its stdout and stderr are then checked with the usual stdout and stderr
// commands.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: bad exit code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("status: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
