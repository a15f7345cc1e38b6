package modprobe

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aymanbagabas/go-udiff"
)

// FuzzParseFile checks that any file parses, and that every word it finds
// maps back to a sane span of the file (what the editor relies on).
func FuzzParseFile(f *testing.F) {
	f.Add([]byte("options zfs zfs_arc_max=8589934592\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _, err := ParseFile("f", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		p := parse("f", data)
		if len(p.words) != len(s) {
			t.Fatalf("%d words, %d settings", len(p.words), len(s))
		}
		lines := bytes.Count(data, []byte{'\n'}) + 1
		prev := 0
		for _, w := range p.words {
			if !(prev <= w.prevEnd && w.prevEnd <= w.fileStart && w.fileStart < w.fileEnd && w.fileEnd <= len(data)) {
				t.Fatalf("word %+v: bad span (previous end %d, len %d)", w, prev, len(data))
			}
			if w.Line < 1 || w.Line > lines || w.Source != FromFile || w.Path != "f" {
				t.Fatalf("word %+v: bad line/source/path", w)
			}
			prev = w.fileEnd
		}
		for _, l := range p.lines {
			if l.ll.start < 0 || l.ll.start > l.ll.end || l.ll.end > len(data) {
				t.Fatalf("line span [%d,%d) of %d", l.ll.start, l.ll.end, len(data))
			}
		}
	})
}

// FuzzEdit checks the editor on any file: it either refuses, or the result
// sets the changed parameters last to the new values, keeps every other
// parameter in order, is stable (a second edit changes nothing), leaves an
// already right file alone and only appends to a file that did not set the
// parameters.
func FuzzEdit(f *testing.F) {
	f.Add([]byte("options zfs zfs_arc_max=8589934592\n"), uint64(4294967296), uint64(1073741824))
	f.Fuzz(func(t *testing.T, data []byte, maxv, minv uint64) {
		changes := []Change{maxc(maxv), minc(minv)}
		out, edits, err := editFile("f", data, changes)
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("error not a refusal: %v", err)
			}
			return
		}
		// The edits the diff is made from turn the content into out.
		if applied, err := udiff.Apply(string(data), edits); err != nil || applied != string(out) {
			t.Fatalf("the edits give %q (%v), want %q", applied, err, out)
		}
		if applied, err := udiff.Apply(string(data), lineEdits(data, edits)); err != nil || applied != string(out) {
			t.Fatalf("the line edits give %q (%v), want %q", applied, err, out)
		}
		if err := checkEdit("f", data, out, changes); err != nil {
			t.Fatal(err)
		}
		again, _, err := editFile("f", out, changes)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second edit: %v\nfirst:\n%q\nsecond:\n%q", err, out, again)
		}
		p := parse("f", data)
		right, present := 0, 0
		for _, ch := range changes {
			var last *word
			for i := range p.words {
				if SameParam(p.words[i].Param, ch.Param) {
					last = &p.words[i]
				}
			}
			if last != nil {
				present++
				if last.hasValue && valueIs(last.Value, ch.Value) {
					right++
				}
			}
		}
		if right == len(changes) && !bytes.Equal(out, data) {
			t.Fatalf("already right, yet changed:\n%q\n%q", data, out)
		}
		if present == 0 && !bytes.HasPrefix(out, data) {
			t.Fatalf("parameters absent, yet not an append:\n%q\n%q", data, out)
		}
	})
}

// FuzzParseCmdline checks that any command line parses into zfs settings.
func FuzzParseCmdline(f *testing.F) {
	f.Add([]byte("BOOT_IMAGE=/vmlinuz root=ZFS=rpool/ROOT/debian zfs.zfs_arc_max=2147483648 quiet\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseCmdline(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if len(s) > 0 && !bytes.Contains(data, []byte(".")) {
			t.Fatalf("settings without a '.' in the command line: %v", s)
		}
		for _, x := range s {
			if x.Source != FromCmdline || x.Path != CmdlinePath || x.Line != 0 {
				t.Fatalf("setting %+v", x)
			}
		}
	})
}

var plainNumber = regexp.MustCompile(`^(0[xX][0-9a-fA-F]+|[0-9]+)$`)

// FuzzParseValue compares ParseValue with strconv on the inputs where the
// kernel's and Go's base-0 rules agree (digits only, or 0x and hex digits).
func FuzzParseValue(f *testing.F) {
	f.Add("8589934592")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseValue(s)
		if err == nil {
			// Every accepted value is a plain number with an optional '+'
			// and one trailing newline.
			core := strings.TrimSuffix(strings.TrimPrefix(s, "+"), "\n")
			if !plainNumber.MatchString(core) {
				t.Fatalf("ParseValue(%q) = %d, accepted a non-number", s, got)
			}
		}
		if !plainNumber.MatchString(s) {
			return
		}
		want, werr := strconv.ParseUint(s, 0, 64)
		if (err == nil) != (werr == nil) || err == nil && got != want {
			t.Fatalf("ParseValue(%q) = %d, %v; strconv: %d, %v", s, got, err, want, werr)
		}
	})
}

// FuzzLoadFiles checks that an image's modprobe.d, whatever its content
// and names, loads without a panic, and that one file read through
// LoadFiles gives the settings ParseFile gives (one parser for a root's
// files and an image's): nothing before it, nothing after it.
func FuzzLoadFiles(f *testing.F) {
	f.Add("zfs.conf", []byte("options zfs zfs_arc_max=8589934592\n"), "other.conf", []byte("options zfs zfs_arc_min=1\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte, name2 string, data2 []byte) {
		if strings.ContainsAny(name, "/\x00") || name == "" || !strings.HasSuffix(name, ".conf") || strings.HasPrefix(name, ".") {
			name = "zfs.conf"
		}
		p := "/etc/modprobe.d/" + name
		c, err := LoadFiles("img", []File{{Path: p, Resolved: p, Regular: true, Data: data}})
		if err != nil {
			if len(data) > maxConf || errors.Is(err, ErrBudget) {
				return
			}
			t.Fatal(err)
		}
		want, _, _ := ParseFile(p, bytes.NewReader(data))
		got := c.Settings
		if len(want) != len(got) {
			// a "--" word drops later words from Settings only
			if !bytes.Contains(data, []byte("--")) {
				t.Fatalf("LoadFiles %d settings, ParseFile %d", len(got), len(want))
			}
			return
		}
		for i := range want {
			if want[i] != got[i] {
				t.Fatalf("setting %d: LoadFiles %+v, ParseFile %+v", i, got[i], want[i])
			}
		}
		// A second file anywhere in the tree: no panic, bounded.
		q := "/usr/lib/modprobe.d/" + strings.ReplaceAll(name2, "/", "_")
		if _, err := LoadFiles("img", []File{{Path: p, Resolved: p, Regular: true, Data: data}, {Path: q, Resolved: q, Regular: len(data2)%2 == 0, Data: data2}}); err != nil && !errors.Is(err, ErrBudget) && len(data2) <= maxConf {
			t.Fatal(err)
		}
	})
}
