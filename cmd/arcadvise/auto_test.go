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
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// systemdRun2G is what `systemd-run --slice=arcadvise-test.slice -p
// MemoryMin=2G sleep infinity` leaves in /sys/fs/cgroup: a populated slice
// and a service scope whose memory.min is 2 GiB (systemd writes MemoryMin=
// to memory.min, systemd.resource-control(5); the slice's own memory.min
// stays 0). The real-kernel lane makes the same on a real kernel.
var systemdRun2G = map[string]string{
	"sys/fs/cgroup/cgroup.controllers":                                    "cpuset cpu io memory hugetlb pids rdma misc\n",
	"sys/fs/cgroup/arcadvise-test.slice/cgroup.events":                    "populated 1\nfrozen 0\n",
	"sys/fs/cgroup/arcadvise-test.slice/memory.min":                       "0\n",
	"sys/fs/cgroup/arcadvise-test.slice/run-r1d2c3.service/cgroup.events": "populated 1\nfrozen 0\n",
	"sys/fs/cgroup/arcadvise-test.slice/run-r1d2c3.service/memory.min":    "2147483648\n",
	"sys/fs/cgroup/system.slice/cgroup.events":                            "populated 1\nfrozen 0\n",
	"sys/fs/cgroup/system.slice/memory.min":                               "0\n",
}

// TestAutoCgroupIsReserve2G: on every bundled host snapshot, a root whose
// only declaration is one systemd unit with MemoryMin=2G gives, with
// --reserve auto, the cap, the zfs_arc_min and every term that --reserve 2G
// gives on the same reading; only the reservation's source differs.
func TestAutoCgroupIsReserve2G(t *testing.T) {
	n := 0
	for _, src := range bundledRoots(t) {
		if _, err := os.Stat(filepath.Join(src, sample.ManifestName)); err == nil || declaresWorkload(src) {
			continue // a recorded window, or a host that declares more
		}
		n++
		t.Run(filepath.Base(filepath.Dir(src))+"/"+filepath.Base(src), func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "host")
			if err := os.CopyFS(root, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			testutil.WriteTree(t, root, systemdRun2G)
			auto, code := runJSON(t, "--root", root, "--reserve", "auto")
			typed, code2 := runJSON(t, "--root", root, "--reserve", "2G")
			if code != code2 {
				t.Fatalf("exit %d with --reserve auto, %d with --reserve 2G", code, code2)
			}
			a, b := auto["recommendation"].(map[string]any), typed["recommendation"].(map[string]any)
			for _, k := range []string{"status", "zfs_arc_max_bytes", "zfs_arc_min_bytes", "reserve_bytes", "host_base_bytes", "budget_bytes"} {
				if a[k] != b[k] {
					t.Errorf("%s: %v with --reserve auto, %v with --reserve 2G", k, a[k], b[k])
				}
			}
			if a["reserve_bytes"] != float64(2<<30) {
				t.Errorf("reserve_bytes %v, want 2147483648", a["reserve_bytes"])
			}
			at, bt := a["terms"].([]any), b["terms"].([]any)
			if len(at) != len(bt) {
				t.Fatalf("%d terms with --reserve auto, %d with --reserve 2G", len(at), len(bt))
			}
			for i := range at {
				x, y := at[i].(map[string]any), bt[i].(map[string]any)
				if x["bytes"] != y["bytes"] {
					t.Errorf("term %d (%v, %v): %v with --reserve auto, %v with --reserve 2G", i, x["name"], y["name"], x["bytes"], y["bytes"])
				}
			}
			src := auto["reservation"].(map[string]any)["sources"].([]any)
			if len(src) != 1 || src[0].(map[string]any)["id"] != "arcadvise-test.slice/run-r1d2c3.service" {
				t.Errorf("reservation.sources = %v, want the one service", src)
			}
			// The check command of a write carries auto and its rule, not
			// the bytes: a unit added later shows as drift. Where the lane
			// has already written what --reserve 2G recommends
			// (50-persist-written, 60-after-reboot), there is nothing to
			// write: the same cap.
			if a["status"] != "ok" {
				return // over-committed: nothing to write
			}
			var out bytes.Buffer
			run(context.Background(), []string{"--root", root, "--reserve", "auto", "--write"}, &out, io.Discard)
			if !strings.Contains(out.String(), "arcadvise --check --reserve auto --guests boot --host-base ") &&
				!strings.Contains(out.String(), "already has the recommended values: nothing written") {
				t.Errorf("the next steps do not check with --reserve auto --guests boot:\n%s", out.String())
			}
		})
	}
	if n < 10 {
		t.Errorf("only %d snapshots", n)
	}
}

// runJSON runs the command with --format json and decodes its document.
func runJSON(t *testing.T, args ...string) (map[string]any, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append(args, "--format", "json"), &out, &errb)
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%q: exit %d, %v\n%s", args, code, err, errb.String())
	}
	return doc, code
}
