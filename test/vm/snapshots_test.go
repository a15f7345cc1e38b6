// Package vm holds the real-kernel lane (lane.sh, guest/). Its Go test checks
// the snapshots the lane captured from the real OpenZFS module
// (testdata/vm/<zfs version>/) with arcadvise's own readers: each loads as a
// --root, and the facts the lane relies on hold in the files themselves.
package vm

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/sample"
	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

const testdata = "../../testdata/vm"

// versions returns the zfs version directories under testdata/vm.
func versions(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(testdata)
	if err != nil {
		t.Fatalf("reading the lane's snapshots: %v", err)
	}
	var vs []string
	for _, e := range ents {
		if e.IsDir() {
			vs = append(vs, e.Name())
		}
	}
	if len(vs) == 0 {
		t.Fatalf("%s has no snapshot directory; run test/vm/lane.sh", testdata)
	}
	return vs
}

func mustUint(t *testing.T, s *arcstats.Stats, name string) uint64 {
	t.Helper()
	v, ok := s.Uint(name)
	if !ok {
		t.Fatalf("arcstats has no %s", name)
	}
	return v
}

func load(t *testing.T, root string) *host.Snapshot {
	t.Helper()
	s, err := host.Read(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatalf("host.Read(testutil.OpenRoot(t, %s)): %v", root, err)
	}
	return s
}

// TestSnapshotsLoad: every captured step is a valid --root, from the module
// its directory names.
func TestSnapshotsLoad(t *testing.T) {
	for _, v := range versions(t) {
		steps, err := filepath.Glob(filepath.Join(testdata, v, "[0-9]*"))
		if err != nil || len(steps) == 0 {
			t.Fatalf("%s: no step directories (%v)", v, err)
		}
		for _, root := range steps {
			t.Run(v+"/"+filepath.Base(root), func(t *testing.T) {
				s := load(t, root)
				if s.Module.Version.Raw != v {
					t.Errorf("module version %q, directory says %q", s.Module.Version.Raw, v)
				}
				if s.Mem.MemTotal == 0 || !s.HasPSI {
					t.Errorf("MemTotal %d, PSI %v: want both", s.Mem.MemTotal, s.HasPSI)
				}
				if len(s.Warnings) > 0 {
					t.Errorf("warnings: %q", s.Warnings)
				}
			})
		}
	}
}

// TestSnapshotFacts checks what the real module did, as the lane recorded it.
func TestSnapshotFacts(t *testing.T) {
	for _, v := range versions(t) {
		dir := filepath.Join(testdata, v)
		t.Run(v, func(t *testing.T) {
			// A fresh module (2.0+) starts with c at c_min.
			boot := load(t, filepath.Join(dir, "00-boot"))
			if c, cmin := mustUint(t, boot.Arc, "c"), mustUint(t, boot.Arc, "c_min"); c != cmin {
				t.Errorf("00-boot: c %d != c_min %d", c, cmin)
			}
			if boot.CStartsAtMax() {
				t.Errorf("00-boot: CStartsAtMax() for %s", v)
			}
			// sysfs shows a value the module ignored; c_max does not.
			ign := load(t, filepath.Join(dir, "40-live-ignored"))
			p := ign.Module.Param(zfsmod.ArcMax)
			if !p.Present || p.Value != 16<<20 {
				t.Errorf("40-live-ignored: zfs_arc_max parameter %+v, want 16 MiB", p)
			}
			if cmax := mustUint(t, ign.Arc, "c_max"); cmax == p.Value || cmax < 64<<20 {
				t.Errorf("40-live-ignored: c_max %d followed the ignored value", cmax)
			}
			// After the reboot, the modprobe.d value is both the parameter and c_max.
			rb := load(t, filepath.Join(dir, "60-after-reboot"))
			cmax := mustUint(t, rb.Arc, "c_max")
			if p := rb.Module.Param(zfsmod.ArcMax); !p.Present || p.Value != cmax {
				t.Errorf("60-after-reboot: parameter %+v, c_max %d", p, cmax)
			}
			conf, err := os.ReadFile(filepath.Join(dir, "60-after-reboot", "etc", "modprobe.d", "zfs.conf"))
			if err != nil {
				t.Fatalf("60-after-reboot: %v", err)
			}
			if want := "zfs_arc_max=" + strconv.FormatUint(cmax, 10); !strings.Contains(string(conf), want) {
				t.Errorf("60-after-reboot: zfs.conf does not set %s:\n%s", want, conf)
			}
		})
	}
}

// TestReplays: the two 60 s windows open as replays, and kswapd asked the
// ARC to shrink more often under the default cap than under the recommended one.
func TestReplays(t *testing.T) {
	for _, v := range versions(t) {
		t.Run(v, func(t *testing.T) {
			delta := map[string]uint64{}
			for _, w := range []string{"default", "capped"} {
				root := filepath.Join(testdata, v, "replay-"+w)
				f, err := os.Open(filepath.Join(root, sample.ManifestName))
				if err != nil {
					t.Fatal(err)
				}
				snaps, err := sample.ParseManifest(f)
				f.Close()
				if err != nil {
					t.Fatalf("%s: %v", root, err)
				}
				if len(snaps) < 2 {
					t.Fatalf("%s: %d snapshots, a window needs 2", root, len(snaps))
				}
				first, err := arcstats.Read(testutil.OpenRoot(t, filepath.Join(root, snaps[0].Dir)))
				if err != nil {
					t.Fatal(err)
				}
				last, err := arcstats.Read(testutil.OpenRoot(t, filepath.Join(root, snaps[len(snaps)-1].Dir)))
				if err != nil {
					t.Fatal(err)
				}
				delta[w] = mustUint(t, last, "memory_indirect_count") - mustUint(t, first, "memory_indirect_count")
			}
			if delta["default"] <= delta["capped"] {
				t.Errorf("memory_indirect_count over the window: default cap %d, recommended cap %d; want default > capped",
					delta["default"], delta["capped"])
			}
		})
	}
}
