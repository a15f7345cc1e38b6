package modprobe

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// entry is one thing to create under a test root.
type entry struct {
	path    string // admin path, e.g. /etc/modprobe.d/zfs.conf
	content string
	link    string // when set, path is a symlink to link
	mode    os.FileMode
	dir     bool
}

func file(p, content string) entry { return entry{path: p, content: content} }
func link(p, target string) entry  { return entry{path: p, link: target} }
func dir(p string) entry           { return entry{path: p, dir: true} }

// mkroot builds a root directory holding entries.
func mkroot(t testing.TB, entries ...entry) string {
	t.Helper()
	root := t.TempDir()
	for _, e := range entries {
		p := filepath.Join(root, filepath.FromSlash(e.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case e.dir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case e.link != "":
			if err := os.Symlink(e.link, p); err != nil {
				t.Fatal(err)
			}
		default:
			mode := e.mode
			if mode == 0 {
				mode = 0o644
			}
			if err := os.WriteFile(p, []byte(e.content), mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// fixture returns the content of a modprobe.d file from ../shared/fixtures
// (other projects' data, read in place).
func fixture(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(testutil.Fixture(t, filepath.Join("modprobe", name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func readFile(t testing.TB, root, p string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// brief renders settings as "param=value@line" for compact comparison.
func brief(s []Setting) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.Param+"="+x.Value+"@"+strconv.Itoa(x.Line))
	}
	return out
}

// located renders settings as "param=value@path:line".
func located(s []Setting) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.Param+"="+x.Value+"@"+x.Where())
	}
	return out
}

func warnStrings(w []Warning) []string {
	var out []string
	for _, x := range w {
		out = append(out, x.String())
	}
	return out
}
