package apply

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// TestLiveUndo: --live lowers zfs_arc_min first; when the zfs_arc_max
// write then fails, zfs_arc_min is put back as it was, and both are said.
func TestLiveUndo(t *testing.T) {
	root := filepath.Join(t.TempDir(), "host")
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-arc-min-512m"))); err != nil {
		t.Fatal(err)
	}
	snap, err := host.Read(root)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := modprobe.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	oldMin := snap.Module.Param(zfsmod.ArcMin).Value
	rec := &policy.Recommendation{Status: policy.StatusOK, Mode: policy.ModeRecommended, ArcMax: 512 << 20, ArcMin: 256 << 20}
	boom := errors.New("boom")
	writeParam = func(root, name string, v uint64) error {
		if name == zfsmod.ArcMax {
			return boom
		}
		return zfsmod.WriteParam(root, name, v)
	}
	defer func() { writeParam = zfsmod.WriteParam }()

	res, err := Run(Request{Mode: Live, Root: root}, snap, cfg, rec)
	if !errors.Is(err, boom) || res == nil {
		t.Fatalf("Run = %v, %v; want the zfs_arc_max error", res, err)
	}
	st, err := zfsmod.Read(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Param(zfsmod.ArcMin).Value; got != oldMin {
		t.Errorf("zfs_arc_min is %d after the failed run, want it put back to %d", got, oldMin)
	}
	if len(res.Applied) != 1 || res.Applied[0].Param != zfsmod.ArcMin || len(res.Notes) != 1 ||
		!strings.Contains(res.Notes[0], "zfs_arc_min was put back to") {
		t.Errorf("result %+v", res)
	}
}
