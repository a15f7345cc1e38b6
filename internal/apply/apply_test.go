package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/size"
	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// TestLiveUndo: --live lowers zfs_arc_min first; when the zfs_arc_max
// write (or the read-back after the first write) then fails, zfs_arc_min is
// put back to the c_min the module had in effect (arcstats), not to what
// the parameter file said (0 on an untuned host, which the module takes as
// "keep the current value"), and both are said.
func TestLiveUndo(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		failWrite string // the parameter whose write fails
		failRead  string // the arcstats field whose first read-back fails
	}{
		{name: "zfs_arc_max write fails", failWrite: zfsmod.ArcMax},
		{name: "read-back after zfs_arc_min fails", failRead: "c_min"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "host")
			if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-arc-min-512m"))); err != nil {
				t.Fatal(err)
			}
			// An untuned zfs_arc_min: the parameter file says 0.
			if err := os.WriteFile(filepath.Join(root, zfsmod.ParamDir, zfsmod.ArcMin), []byte("0\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			fsys := testutil.OpenRoot(t, root)
			snap, err := host.Read(fsys)
			if err != nil {
				t.Fatal(err)
			}
			cMin, _ := snap.Arc.Uint("c_min")
			rec := &policy.Recommendation{Status: policy.StatusOK, Mode: policy.ModeRecommended, ArcMax: 512 << 20, ArcMin: 256 << 20}
			var writes []string
			writeParam = func(fsys *rootfs.FS, name string, v uint64) error {
				writes = append(writes, fmt.Sprintf("%s=%d", name, v))
				if name == tc.failWrite {
					return boom
				}
				return zfsmod.WriteParam(fsys, name, v)
			}
			failed := false
			readBack = func(fsys *rootfs.FS, field string, want uint64, wait time.Duration) (uint64, error) {
				if field == tc.failRead && !failed {
					failed = true
					return 0, boom
				}
				return readArcstats(fsys, field, want, 0)
			}
			defer func() { writeParam, readBack = zfsmod.WriteParam, readArcstats }()

			plan, err := NewPlan(Request{Mode: Live}, snap, rec)
			if err != nil {
				t.Fatal(err)
			}
			res, err := plan.Act(context.Background())
			if !errors.Is(err, boom) || res == nil {
				t.Fatalf("Act = %v, %v; want the error", res, err)
			}
			st, err := zfsmod.Read(fsys)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Param(zfsmod.ArcMin).Value; got != cMin {
				t.Errorf("zfs_arc_min is %d after the failed run, want it put back to c_min %d (not 0)", got, cMin)
			}
			if want := fmt.Sprintf("zfs_arc_min=%d", cMin); writes[len(writes)-1] != want {
				t.Errorf("writes %q, want the last to be %s", writes, want)
			}
			if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], fmt.Sprintf("zfs_arc_min was put back to %d, the c_min in effect before this run", cMin)) {
				t.Errorf("notes %q", res.Notes)
			}
		})
	}
}

// TestActInterrupted: a context cancelled before the act writes nothing.
func TestActInterrupted(t *testing.T) {
	root := filepath.Join(t.TempDir(), "host")
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-arc-min-512m"))); err != nil {
		t.Fatal(err)
	}
	fsys := testutil.OpenRoot(t, root)
	snap, err := host.Read(fsys)
	if err != nil {
		t.Fatal(err)
	}
	rec := &policy.Recommendation{Status: policy.StatusOK, Mode: policy.ModeRecommended, ArcMax: 512 << 20, ArcMin: 256 << 20}
	plan, err := NewPlan(Request{Mode: WriteLive}, snap, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	writeParam = func(*rootfs.FS, string, uint64) error { t.Error("a parameter was written"); return nil }
	defer func() { writeParam = zfsmod.WriteParam }()
	res, err := plan.Act(ctx)
	if !errors.Is(err, ErrInterrupted) || res.Interrupted != "before" || res.Wrote != "" {
		t.Errorf("Act = %+v, %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/modprobe.d/zfs.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("zfs.conf: %v", err)
	}
}

// TestCheckCommand: the check after the reboot repeats the workload's
// flags as given and pins the host terms of the write; a cap is checked as
// it is.
func TestCheckCommand(t *testing.T) {
	rec := &policy.Recommendation{HostBase: 182283472}
	for _, tc := range []struct {
		workload []string
		arcMax   size.Arg
		hostBase size.Arg
		want     string
	}{
		{[]string{"--reserve", "auto", "--guests", "boot", "--reserve", "backups=4G"}, size.Arg{}, size.Arg{},
			"arcadvise --check --reserve auto --guests boot --reserve backups=4G --host-base 182283472"},
		{[]string{"--reserve", "observed=2415919104"}, size.Arg{}, size.Arg{},
			"arcadvise --check --reserve observed=2415919104 --host-base 182283472"},
		{[]string{"--reserve", "2G"}, size.Arg{}, size.Arg{Bytes: 1 << 30, IsSet: true},
			"arcadvise --check --reserve 2G --host-base 1073741824"},
		{nil, size.Arg{Bytes: 8 << 30, IsSet: true}, size.Arg{}, "arcadvise --check --arc-max 8589934592"},
	} {
		if got := CheckCommand(tc.workload, tc.arcMax, tc.hostBase, rec); got != tc.want {
			t.Errorf("CheckCommand(%q) = %q, want %q", tc.workload, got, tc.want)
		}
	}
}
