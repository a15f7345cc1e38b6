package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aymanbagabas/go-udiff"

	"github.com/arcadvise/arcadvise/internal/sample"
)

// bundledRoots lists every bundled host snapshot and recorded window:
// testdata/snapshots/*, testdata/replays/* and testdata/vm/*/*, as paths
// relative to this package (so the documents name them the same on every
// machine).
func bundledRoots(t *testing.T) []string {
	t.Helper()
	var roots []string
	for _, pat := range []string{"snapshots/*", "replays/*", "vm/*/*"} {
		dirs, err := filepath.Glob(filepath.Join("..", "..", "testdata", pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			_, errArc := os.Stat(filepath.Join(d, "proc", "spl", "kstat", "zfs", "arcstats"))
			_, errReplay := os.Stat(filepath.Join(d, sample.ManifestName))
			if errArc == nil || errReplay == nil {
				roots = append(roots, d)
			}
		}
	}
	if len(roots) < 20 {
		t.Fatalf("found %d bundled roots, want every snapshot and replay (at least 20)", len(roots))
	}
	return roots
}

// TestGolden runs the whole command on every bundled root, text and JSON,
// with --reserve 2G, and compares stdout and the exit status with
// testdata/golden/<root>.{txt,json}. go test -run TestGolden -update
// rewrites them.
func TestGolden(t *testing.T) {
	for _, root := range bundledRoots(t) {
		name := strings.NewReplacer("/", "_", "+", "_", "~", "_").Replace(strings.TrimPrefix(root, filepath.Join("..", "..", "testdata")+"/"))
		for _, format := range []string{"text", "json"} {
			t.Run(name+"/"+format, func(t *testing.T) {
				var out bytes.Buffer
				code := run(context.Background(), []string{"--root", root, "--reserve", "2G", "--format", format}, &out, io.Discard)
				if code != exitOK && code != exitOvercommitted {
					t.Fatalf("exit %d", code)
				}
				got := out.Bytes()
				if code != exitOK {
					got = append([]byte("# exit "+strconv.Itoa(code)+"\n"), got...)
				}
				ext := map[string]string{"text": ".txt", "json": ".json"}[format]
				golden(t, filepath.Join("testdata", "golden", name+ext), got)
			})
		}
	}
}

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/arcadvise -run TestGolden -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -run TestGolden -update rewrites it):\n%s", path, udiff.Unified(path, "got", string(want), string(got)))
	}
}
