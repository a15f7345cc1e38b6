package meminfo

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

// TestParseMatchesProcfs compares ParseMeminfo and ParsePSI with the
// procfs-based Read and ReadPSI on every real capture.
func TestParseMatchesProcfs(t *testing.T) {
	type capture struct {
		name string
		data []byte
		psi  bool
	}
	var caps []capture
	add := func(name string, data []byte) {
		switch {
		case strings.HasSuffix(name, "/meminfo") || strings.HasSuffix(filepath.Dir(name), "fixtures/meminfo"):
			caps = append(caps, capture{name, data, false})
		case strings.HasSuffix(name, "/pressure_memory") || strings.HasSuffix(name, "/pressure/memory"):
			caps = append(caps, capture{name, data, true})
		}
	}
	walk := func(dir string) {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if strings.HasSuffix(p, ".txtar") {
				a, err := txtar.ParseFile(p)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range a.Files {
					add(p+":"+"/"+f.Name, f.Data)
				}
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			add(p, b)
			return nil
		})
	}
	walk(testutil.RepoRoot(t))
	shared := testutil.SharedDir(t)
	walk(filepath.Join(shared, "fixtures", "meminfo"))
	walk(filepath.Join(shared, "lab"))
	nm, np, same := 0, 0, 0
	for _, c := range caps {
		var key string
		if c.psi {
			np++
			old, ok, oldErr := ReadPSI(makeRoot(t, map[string][]byte{PSIPath: c.data}))
			got, err := ParsePSI(bytes.NewReader(c.data))
			if (oldErr == nil) != (err == nil) || !ok {
				t.Errorf("%s: procfs %v, %v; ParsePSI %v", c.name, ok, oldErr, err)
				continue
			}
			if oldErr != nil {
				t.Logf("%s: both fail: procfs %v; ParsePSI %v", c.name, oldErr, err)
				continue
			}
			key = cmp.Diff(old, got)
		} else {
			nm++
			old, oldErr := Read(makeRoot(t, map[string][]byte{Path: c.data}))
			got, err := ParseMeminfo(bytes.NewReader(c.data))
			if (oldErr == nil) != (err == nil) {
				t.Errorf("%s: procfs %v; ParseMeminfo %v", c.name, oldErr, err)
				continue
			}
			if oldErr != nil {
				t.Logf("%s: both fail: procfs %v; ParseMeminfo %v", c.name, oldErr, err)
				continue
			}
			key = cmp.Diff(old, got)
		}
		if key != "" {
			t.Errorf("%s (-procfs +new):\n%s", c.name, key)
			continue
		}
		same++
	}
	t.Logf("%d meminfo and %d PSI captures, %d the same", nm, np, same)
}
