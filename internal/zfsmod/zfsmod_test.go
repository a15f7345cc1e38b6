package zfsmod

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    Version
		wantErr string
	}{
		{in: "2.1.11-1+deb12u1\n", want: Version{2, 1, 11, 0, "2.1.11-1+deb12u1"}},
		{in: "2.3.2-2~bpo12+1\n", want: Version{2, 3, 2, 0, "2.3.2-2~bpo12+1"}},
		{in: "0.6.5.11-1\n", want: Version{0, 6, 5, 11, "0.6.5.11-1"}},
		{in: "0.7.5-1ubuntu16.12", want: Version{0, 7, 5, 0, "0.7.5-1ubuntu16.12"}},
		{in: "2.2.99-365_g1234\n", want: Version{2, 2, 99, 0, "2.2.99-365_g1234"}},
		{in: "0.8.0_rc5-1\n", want: Version{0, 8, 0, 0, "0.8.0_rc5-1"}},
		// Prefixes go before the cut at '-' (issue 19: "zfs-2.1.5" failed
		// the whole run as "zfs").
		{in: "zfs-2.1.5\n", want: Version{2, 1, 5, 0, "zfs-2.1.5"}},
		{in: "zfs-2.1.5-1\n", want: Version{2, 1, 5, 0, "zfs-2.1.5-1"}},
		{in: "zfs-kmod-2.2.2-1\n", want: Version{2, 2, 2, 0, "zfs-kmod-2.2.2-1"}},
		{in: "v2.1.5-1\n", want: Version{2, 1, 5, 0, "v2.1.5-1"}},
		{in: "2.1.5-1\n", want: Version{2, 1, 5, 0, "2.1.5-1"}},
		{in: "  2.1.5-1  \nignored\n", want: Version{2, 1, 5, 0, "2.1.5-1"}},
		{in: "2.2.99-1_gabcdef\n", want: Version{2, 2, 99, 0, "2.2.99-1_gabcdef"}},
		{in: "zfs-\n", wantErr: `line 1: malformed version "zfs-": want MAJOR.MINOR[.PATCH[.FIX]]`},
		{in: "vv2.1.5\n", wantErr: `line 1: malformed version "vv2.1.5": part "v2" is not a number`},
		{in: "2.1.99999999999999999999\n", wantErr: `part "99999999999999999999" is not a number`},
		{in: "", wantErr: "line 1: empty version file"},
		{in: "zfs\n", wantErr: "malformed version"},
		{in: "2.x.1\n", wantErr: "is not a number"},
	}
	for _, tt := range tests {
		got, err := ParseVersion(strings.NewReader(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseVersion(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseVersion(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestCompare(t *testing.T) {
	if !V(2, 1, 11).AtLeast(V(2, 1, 1)) || V(0, 6, 5, 3).AtLeast(V(0, 6, 5, 4)) || V(2, 0).Compare(V(2, 0, 0)) != 0 {
		t.Fatal("version ordering is wrong")
	}
	if got := V(0, 6, 5, 11).String(); got != "0.6.5.11" {
		t.Fatalf("String = %q", got)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The lab's real capture of /sys/module/zfs on OpenZFS 2.1.11
// (testdata/lab-2.1.11, copied from shared/lab/captures).
func TestReadLabCapture(t *testing.T) {
	root := t.TempDir()
	b, err := os.ReadFile("testdata/lab-2.1.11/zfs_version")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, VersionPath), string(b))
	params, err := os.ReadFile("testdata/lab-2.1.11/params_arc")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(params)), "\n") {
		name, val, _ := strings.Cut(line, " ")
		writeFile(t, filepath.Join(root, ParamDir, name), val+"\n")
	}
	st, err := Read(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != (Version{2, 1, 11, 0, "2.1.11-1+deb12u1"}) {
		t.Errorf("version = %+v", st.Version)
	}
	if p := st.Param(ArcMax); !p.Present || p.Value != 805306368 {
		t.Errorf("zfs_arc_max = %+v, want 805306368", p)
	}
	if p := st.Param(ArcMin); !p.Present || p.Value != 0 {
		t.Errorf("zfs_arc_min = %+v, want 0", p)
	}
}

func TestReadMissingAndMalformed(t *testing.T) {
	root := t.TempDir()
	st, err := Read(testutil.OpenRoot(t, root))
	if err != nil || st.Version.Known() || st.Param(ArcMax).Present {
		t.Fatalf("empty root: %+v, %v", st, err)
	}
	writeFile(t, filepath.Join(root, ParamDir, ArcMax), "lots\n")
	_, err = Read(testutil.OpenRoot(t, root))
	if err == nil || !strings.Contains(err.Error(), "zfs_arc_max:1: malformed value \"lots\"") {
		t.Fatalf("malformed param error = %v", err)
	}
}

func TestWriteParam(t *testing.T) {
	root := t.TempDir()
	if err := WriteParam(testutil.OpenRoot(t, root), ArcMax, 1); err == nil || !strings.Contains(err.Error(), "is the zfs module loaded?") {
		t.Fatalf("missing param dir: %v", err)
	}
	writeFile(t, filepath.Join(root, ParamDir, ArcMax), "0\n")
	if err := WriteParam(testutil.OpenRoot(t, root), ArcMax, 8589934592); err != nil {
		t.Fatal(err)
	}
	st, _ := Read(testutil.OpenRoot(t, root))
	if st.Param(ArcMax).Value != 8589934592 {
		t.Fatalf("after write: %+v", st.Param(ArcMax))
	}
	if err := WriteParam(testutil.OpenRoot(t, root), "../x", 1); err == nil {
		t.Fatal("path in name accepted")
	}
}

// TestReadParams: the real 2.3.2 parameter directory of the lane
// (testdata/vm, every zfs_arc_* file). Read takes the parameters the
// advice uses (zfs_arc_pc_percent and zfs_arc_shrinker_limit for the
// advisories, zfs_max_recordsize for the ARC overrun when the module has
// it) and no other: zfs_arc_shrink_shift is there but nothing reads it
// since the growth margin went (eb8cac6).
func TestReadParams(t *testing.T) {
	root := filepath.Join("..", "..", "testdata", "vm", "2.3.2-2~bpo12+2", "10-arc-filled")
	if _, err := os.Stat(filepath.Join(root, ParamDir, "zfs_arc_shrink_shift")); err != nil {
		t.Fatal(err)
	}
	st, err := Read(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if p := st.Param(PCPercent); !p.Present || p.Value != 0 {
		t.Errorf("zfs_arc_pc_percent = %+v, want 0", p)
	}
	if p := st.Param(ShrinkerLimit); !p.Present || p.Value != 0 {
		t.Errorf("zfs_arc_shrinker_limit = %+v, want 0 (2.3's default)", p)
	}
	if p := st.Param("zfs_arc_shrink_shift"); p.Present {
		t.Errorf("zfs_arc_shrink_shift read: %+v", p)
	}
}
