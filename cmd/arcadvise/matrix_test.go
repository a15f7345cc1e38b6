package main

import (
	"bytes"
	"context"
	"crypto/sha256"

	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// treeSums maps every file under root to a hash of its content.
func treeSums(t *testing.T, root string) map[string][32]byte {
	t.Helper()
	sums := map[string][32]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), "fakezfs.") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sums[rel] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

// changed lists the files added, removed or rewritten between two sums.
func changed(before, after map[string][32]byte) []string {
	var out []string
	for k, v := range after {
		if w, ok := before[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestModeMatrix runs every combination of --diff, --write, --live,
// --check, --force, --arc-max, --sample and --textfile on a fresh copy of a real
// snapshot whose zfs module is faked (it takes values written to /sys as
// the real one does), and asserts which files changed: a preview or a
// check changes nothing anywhere under the root; --write changes only the
// modprobe.d file; --live only the parameter (and the module, arcstats);
// --textfile only its file, whatever else happens, and never with a preview.
func TestModeMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("256 runs")
	}
	src := filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-arc-filled")
	const conf = "etc/modprobe.d/zfs.conf"
	param := filepath.Join("sys", "module", "zfs", "parameters", "zfs_arc_max")
	arc := filepath.Join("proc", "spl", "kstat", "zfs", "arcstats")
	textfile := filepath.Join("var", "lib", "prometheus", "node-exporter")
	names := []string{"--diff", "--write", "--live", "--check", "--force", "--arc-max", "--sample", "--textfile"}
	for mask := range 1 << len(names) {
		on := func(name string) bool { return mask&(1<<slices.Index(names, name)) != 0 }
		var args []string
		for _, n := range names {
			if on(n) {
				args = append(args, n)
			}
		}
		label := strings.Join(args, " ")
		if label == "" {
			label = "(advise)"
		}
		t.Run(label, func(t *testing.T) {
			t.Parallel()
			root := filepath.Join(t.TempDir(), "host")
			if err := os.CopyFS(root, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { runFakeZFSUntil(ctx, root); close(done) }()
			defer func() { cancel(); <-done }()

			argv := []string{"--root", root}
			for _, a := range args {
				switch a {
				case "--arc-max":
					argv = append(argv, "--arc-max", "1G")
				case "--sample":
					argv = append(argv, "--sample", "100ms", "--interval", "50ms")
				case "--textfile":
					argv = append(argv, "--textfile", filepath.Join(root, textfile))
				default:
					argv = append(argv, a)
				}
			}
			if !on("--arc-max") {
				argv = append(argv, "--reserve", "2G")
			}
			if err := os.MkdirAll(filepath.Join(root, textfile), 0o755); err != nil {
				t.Fatal(err)
			}
			before := treeSums(t, root)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), argv, &stdout, &stderr)
			cancel()
			<-done
			got := changed(before, treeSums(t, root))

			preview := on("--diff") || on("--check")
			usage := on("--diff") && (on("--write") || on("--live") || on("--check")) || on("--check") && on("--write")
			usage = usage || on("--check") && on("--live") || on("--textfile") && on("--diff")
			var want []string
			switch {
			case usage:
				if code != exitUsage {
					t.Errorf("exit %d, want %d (flags that do not go together): %s", code, exitUsage, stderr.String())
				}
			case preview:
				if on("--textfile") {
					want = append(want, filepath.Join(textfile, "arcadvise.prom"))
				}
			default:
				if on("--textfile") {
					want = append(want, filepath.Join(textfile, "arcadvise.prom"))
				}
				if on("--write") {
					want = append(want, conf)
				}
				if on("--live") {
					want = append(want, arc, param)
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("exit %d; changed %q, want %q\nstderr: %s", code, got, want, stderr.String())
			}
		})
	}
}

// runFakeZFSUntil runs the fake module on root until ctx is done.
func runFakeZFSUntil(ctx context.Context, root string) {
	go func() { <-ctx.Done(); os.WriteFile(filepath.Join(root, "fakezfs.stop"), nil, 0o644) }()
	runFakeZFS(root, time.Minute)
	os.Remove(filepath.Join(root, "fakezfs.stop"))
	os.Remove(filepath.Join(root, "fakezfs.ready"))
}
