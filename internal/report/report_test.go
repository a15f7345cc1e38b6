package report

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/apply"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/pressure"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// lab reads a bundled real snapshot (OpenZFS 2.1.11, 4 GiB guest).
func lab(t *testing.T, name string) *host.Snapshot {
	t.Helper()
	s, err := host.Read(testutil.OpenRoot(t, filepath.Join(testutil.RepoRoot(t), "testdata", "snapshots", name)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func recommend(t *testing.T, s *host.Snapshot, in policy.Input) policy.Recommendation {
	t.Helper()
	in.Host = s
	r, err := policy.Recommend(in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func reserve2G() []policy.Reservation {
	return []policy.Reservation{{Bytes: 2 << 30, Source: "--reserve 2G"}}
}

func TestNew(t *testing.T) {
	s := lab(t, "zfs-2.1.11-arc-filled")
	rec := recommend(t, s, policy.Input{Reservations: reserve2G()})
	p, boot := pressure.Verdict(s, nil)
	r := New(Input{Tool: "arcadvise test", Root: "given-root", Host: s, Recommendation: rec, Pressure: p, BootPressure: boot})

	if r.SchemaVersion != SchemaVersion || r.Tool != "arcadvise test" || r.Root != "given-root" {
		t.Errorf("header: %d %q %q", r.SchemaVersion, r.Tool, r.Root)
	}
	if r.Warnings == nil || r.Window != nil || r.BootPressure != nil || r.Config != nil {
		t.Errorf("warnings %v window %v boot %v config %v: want [], nil, nil, nil", r.Warnings, r.Window, r.BootPressure, r.Config)
	}
	if r.Host.MemTotal != s.Mem.MemTotal || r.Host.MemAvailable != s.Mem.MemAvailable || r.Host.Hugepages != s.Mem.Hugepages ||
		r.Host.NonARCUsed != s.NonARCUsed() || !r.Host.HasPSI {
		t.Errorf("host = %+v", r.Host)
	}
	size, _ := s.Arc.Uint("size")
	cMax, _ := s.Arc.Uint("c_max")
	if r.Arc.Size != size || r.Arc.CMax != cMax || r.Arc.SysFree == nil || r.Arc.MemoryAvailable == nil ||
		r.Arc.DefaultCMax != rec.DefaultCMax || r.Arc.UptimeSeconds <= 0 {
		t.Errorf("arc = %+v", r.Arc)
	}
	if r.ZFS.Version != "2.1.11" || r.ZFS.VersionRaw != "2.1.11-1+deb12u1" || r.ZFS.Generation == "" {
		t.Errorf("zfs = %+v", r.ZFS)
	}
	for _, name := range []string{"zfs_arc_max", "zfs_arc_min", "zfs_arc_sys_free"} {
		if v, ok := r.ZFS.Params[name]; !ok || v == nil {
			t.Errorf("zfs.params[%s] = %v", name, v)
		}
	}
	if r.Recommendation.ModprobeLine != rec.ModprobeLine() || r.Recommendation.ModprobeLine == "" {
		t.Errorf("modprobe line %q", r.Recommendation.ModprobeLine)
	}
}

// TestJSONKeys: every key of a full document (window with its series,
// boot verdict, configuration with a live apply, violations) is
// snake_case: no field reaches the JSON without a tag.
func TestJSONKeys(t *testing.T) {
	s := lab(t, "zfs-2.1.11-pressure")
	var w pressure.Window
	w.KeepSeries(2)
	for i := range 2 {
		c := *s
		c.At = time.Unix(int64(i), 0)
		if err := w.Add(&c); err != nil {
			t.Fatal(err)
		}
	}
	rec := recommend(t, s, policy.Input{ArcMax: 16 << 20, Window: &w})
	if len(rec.Violations) == 0 {
		t.Fatal("want a violation in the document")
	}
	p, boot := pressure.Verdict(s, &w)
	cfg := &apply.Result{Params: []apply.ParamSources{{Param: "zfs_arc_max", Sources: []apply.Source{{Value: "1", Where: "f:1", Origin: "file"}}}},
		Applied: []apply.Applied{{Param: "zfs_arc_max", Value: 1}}, Notes: []string{"n"}, Warnings: []string{}, Drift: []string{}, NextSteps: []string{}}
	r := New(Input{Tool: "t", Root: "r", Host: s, Recommendation: rec, Pressure: p, BootPressure: boot, Window: &w, Config: cfg})
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if !snake.MatchString(k) && !strings.HasPrefix(path, ".zfs.params") {
					t.Errorf("%s.%s: key is not snake_case", path, k)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range v {
				walk(path+"[]", e)
			}
		}
	}
	walk("", doc)
	for _, k := range []string{`"window"`, `"series"`, `"boot_pressure"`, `"violations"`, `"rule"`, `"applied"`, `"host_base_bytes"`} {
		if !strings.Contains(buf.String(), k) {
			t.Errorf("document has no %s", k)
		}
	}
}

func TestWriteTextTitle(t *testing.T) {
	s := lab(t, "zfs-2.1.11-arc-filled")
	for _, tt := range []struct {
		in    policy.Input
		want  string
		avoid string
	}{
		{policy.Input{Reservations: reserve2G()}, "Recommendation: zfs_arc_max = 1.43 GiB (1543503872)", "Your cap"},
		{policy.Input{ArcMax: 1 << 30}, "Your cap (--arc-max): zfs_arc_max = 1 GiB (1073741824)", "Recommendation:"},
		{policy.Input{Reservations: []policy.Reservation{{Bytes: 3584 << 20}}}, "Over-committed: the host is short by 295234896 bytes (281.55 MiB) to keep even\n  a 256 MiB ARC.\n", "Put this line"},
		{policy.Input{ArcMax: 16 << 20}, "Your cap (--arc-max): zfs_arc_max = 16 MiB (16777216)\n  refused by the module: zfs_arc_max must be at least 64 MiB", "options zfs"},
		{policy.Input{ArcMax: 16 << 20, Force: true}, "  options zfs zfs_arc_max=16777216\n  Forced: the module will ignore this value", "Put this line"},
	} {
		rec := recommend(t, s, tt.in)
		var buf bytes.Buffer
		if err := New(Input{Host: s, Recommendation: rec}).WriteText(&buf, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !strings.Contains(out, tt.want) || strings.Contains(out, tt.avoid) {
			t.Errorf("text lacks %q or has %q:\n%s", tt.want, tt.avoid, out)
		}
	}
}

func TestWriteTextTarget(t *testing.T) {
	s := lab(t, "zfs-2.1.11-arc-filled")
	rec := recommend(t, s, policy.Input{Reservations: reserve2G()})
	for _, tt := range []struct {
		cfg  *apply.Result
		want string
	}{
		{nil, "Recommendation: zfs_arc_max = 1.43 GiB (1543503872)\n  " + rec.ModprobeLine() + "\n  Put this line in /etc/modprobe.d/zfs.conf: --diff shows the change, --write\n  applies it.\n"},
		{&apply.Result{TargetFile: "/etc/modprobe.d/99-zfs.conf", Changed: true}, "  Put this line in /etc/modprobe.d/99-zfs.conf: --diff shows the change,"},
		{&apply.Result{TargetFile: "/etc/modprobe.d/zfs.conf", Changed: false}, "  " + rec.ModprobeLine() + "\n  /etc/modprobe.d/zfs.conf already sets this: nothing to change.\n"},
	} {
		var buf bytes.Buffer
		if err := New(Input{Host: s, Recommendation: rec, Config: tt.cfg}).WriteText(&buf, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), tt.want) {
			t.Errorf("text lacks %q:\n%s", tt.want, buf.String())
		}
	}
}

func TestWriteCheck(t *testing.T) {
	r := &Report{Recommendation: Recommendation{Recommendation: policy.Recommendation{ArcMax: 536870912}}, Config: &apply.Result{}}
	var buf bytes.Buffer
	if err := r.WriteCheck(&buf); err != nil || buf.String() != "ok: zfs_arc_max=536870912 is configured for next boot and in effect (c_max)\n" {
		t.Errorf("no drift: %q, %v", buf.String(), err)
	}
	r.Config.Drift = []string{"next boot: a", "running: b"}
	buf.Reset()
	if err := r.WriteCheck(&buf); err != nil || buf.String() != "drift: next boot: a\ndrift: running: b\n" {
		t.Errorf("drift: %q, %v", buf.String(), err)
	}
}

func TestWriteActed(t *testing.T) {
	tests := []struct {
		name  string
		cfg   apply.Result
		wrote bool
		want  string
	}{
		{"nothing to write", apply.Result{TargetFile: "/etc/modprobe.d/zfs.conf", Diff: "D\n"}, true,
			"/etc/modprobe.d/zfs.conf already has the recommended values: nothing written\n"},
		{"new file", apply.Result{Wrote: "/e/z.conf", Diff: "D\n", NextSteps: []string{"one", "two"}}, true,
			"wrote /e/z.conf (a new file)\nD\nNext steps:\n  1. one\n  2. two\n"},
		{"with backup", apply.Result{Wrote: "/e/z.conf", Backup: "/e/z.conf.arcadvise-bak", Diff: "D\n"}, true,
			"wrote /e/z.conf (the previous content is in /e/z.conf.arcadvise-bak)\nD\n"},
		{"live only: no diff", apply.Result{Diff: "D\n", Notes: []string{"shrinks later"}, Applied: []apply.Applied{
			{Param: "zfs_arc_min", Value: 1, Field: "c_min", Before: 5, After: 1, Accepted: true},
			{Param: "zfs_arc_max", Value: 2, Field: "c_max", Before: 9, After: 9},
		}}, false,
			"live: zfs_arc_min=1 accepted: arcstats c_min 5 → 1\nlive: zfs_arc_max=2 ignored by the module: arcstats c_max is still 9\nnote: shrinks later\n"},
		{"interrupted before the first write", apply.Result{TargetFile: "/e/z.conf", Diff: "D\n", Interrupted: "before"}, true,
			"interrupted before the first write: nothing was written or applied\n"},
		{"interrupted after it", apply.Result{Wrote: "/e/z.conf", Diff: "D\n", Interrupted: "after"}, true,
			"wrote /e/z.conf (a new file)\ninterrupted after the first write: arcadvise finished the change rather than leave it half done\nD\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Config: &tt.cfg}
			var buf bytes.Buffer
			if err := r.WriteActed(&buf, tt.wrote); err != nil || buf.String() != tt.want {
				t.Errorf("got %q, %v\nwant %q", buf.String(), err, tt.want)
			}
		})
	}
}

// TestWriteTextWidth: every line fits the width asked for, wide or narrow,
// and --verbose adds the meanings under the values.
func TestWriteTextWidth(t *testing.T) {
	s := lab(t, "zfs-2.1.11-pressure")
	rec := recommend(t, s, policy.Input{Reservations: reserve2G()})
	p, _ := pressure.Verdict(s, nil)
	r := New(Input{Host: s, Recommendation: rec, Pressure: p, Root: "r"})
	for _, width := range []int{64, 80, 100, 132} {
		for _, verbose := range []bool{false, true} {
			var buf bytes.Buffer
			if err := r.WriteText(&buf, TextOptions{Width: width, Verbose: verbose}); err != nil {
				t.Fatal(err)
			}
			for i, l := range strings.Split(buf.String(), "\n") {
				if n := len([]rune(l)); n > width {
					t.Errorf("width %d verbose %v: line %d is %d columns: %q", width, verbose, i+1, n, l)
				}
			}
			if has := strings.Contains(buf.String(), "(direct reclaim"); has != verbose {
				t.Errorf("width %d verbose %v: meaning shown %v", width, verbose, has)
			}
		}
	}
	var buf bytes.Buffer
	if err := r.WriteText(&buf, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(buf.String(), "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("default width: %q is over 80 columns", l)
		}
	}
}
