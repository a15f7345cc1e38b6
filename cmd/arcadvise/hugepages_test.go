package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/sample"
)

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// observed runs arcadvise without --reserve and returns the observed
// reservation and the cap from its JSON.
func observed(t *testing.T, args ...string) (reserve, arcMax uint64) {
	t.Helper()
	var out bytes.Buffer
	if code := run(context.Background(), append(args, "--format", "json"), &out, io.Discard); code != 0 {
		t.Fatalf("%v: exit %d", args, code)
	}
	var doc struct {
		Recommendation struct {
			Reserve         uint64 `json:"reserve_bytes"`
			ReserveObserved bool   `json:"reserve_observed"`
			ArcMax          uint64 `json:"zfs_arc_max_bytes"`
		} `json:"recommendation"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Recommendation.ReserveObserved {
		t.Fatalf("%v: reservation not observed", args)
	}
	return doc.Recommendation.Reserve, doc.Recommendation.ArcMax
}

// TestHugepagesOneFormula: on a real snapshot given 512 MiB of hugetlb
// pages, the instant advice, a recorded window of identical snapshots and a
// live --sample window observe the same non-ARC memory and give the same
// cap. Before the window used policy.NonARCUsed it left hugepages in the
// observation and then took them out again as their own term: the 191319248
// bytes observed here would become 191319248 + 536870912 = 728190160, and
// the cap would fall from 1.81 GiB to 1.31 GiB (4103278592 − 536870912 −
// 728190160 − 1201969280 host base − 189698176 arc_sys_free (no zoneinfo:
// the floor) = 1446550064, less the ARC overrun (2.1.11: 3/2 · 16 MiB,
// 25165824) is 1421384240, rounded down to 16 MiB steps (≤ 1/64): 84 of
// them). With the 191319248 observed the same sum gives 1983420976, less
// the overrun: 1958255152, 116 steps of 16 MiB, 1946157056.
func TestHugepagesOneFormula(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-arc-filled")
	root := filepath.Join(t.TempDir(), "host")
	copyTree(t, src, root)
	mi := filepath.Join(root, "proc", "meminfo")
	b, err := os.ReadFile(mi)
	if err != nil {
		t.Fatal(err)
	}
	// 512 MiB of hugetlb pages, set aside at boot: they come out of MemFree
	// and MemAvailable as the kernel reports them.
	for _, r := range [][2]string{
		{"Hugetlb:               0 kB", "Hugetlb:          524288 kB"},
		{"MemFree:         1764076 kB", "MemFree:         1239788 kB"},
		{"MemAvailable:    1685256 kB", "MemAvailable:    1160968 kB"},
	} {
		if !strings.Contains(string(b), r[0]) {
			t.Fatalf("no line %q to change", r[0])
		}
		b = []byte(strings.Replace(string(b), r[0], r[1], 1))
	}
	if err := os.WriteFile(mi, b, 0o644); err != nil {
		t.Fatal(err)
	}
	replay := filepath.Join(t.TempDir(), "replay")
	manifest := "arcadvise replay 1\n"
	for i, at := range []string{"0s", "10s", "20s"} {
		dir := "snap-" + string(rune('a'+i))
		copyTree(t, root, filepath.Join(replay, dir))
		manifest += at + " " + dir + "\n"
	}
	if err := os.WriteFile(filepath.Join(replay, sample.ManifestName), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}

	res, arcMax := observed(t, "--root", root)
	if res != 191319248 || arcMax != 1946157056 {
		t.Errorf("instant: observed %d, cap %d; want 191319248 and 1946157056 (1.81 GiB)", res, arcMax)
	}
	if r, c := observed(t, "--root", replay); r != res || c != arcMax {
		t.Errorf("recorded window of identical snapshots: observed %d, cap %d; the instant advice says %d, %d", r, c, res, arcMax)
	}
	if r, c := observed(t, "--root", root, "--sample", "300ms", "--interval", "100ms"); r != res || c != arcMax {
		t.Errorf("--sample on the same root: observed %d, cap %d; the instant advice says %d, %d", r, c, res, arcMax)
	}
}
