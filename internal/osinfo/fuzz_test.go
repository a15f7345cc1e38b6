package osinfo

import (
	"bufio"
	"errors"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

func FuzzParseOSRelease(f *testing.F) {
	f.Add(testutil.OSDebian)
	f.Fuzz(func(t *testing.T, in string) {
		d, err := ParseOSRelease(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, bufio.ErrTooLong) {
				t.Fatal(err)
			}
			return
		}
		if d.ID != strings.ToLower(d.ID) {
			t.Fatalf("ID %q not lower case", d.ID)
		}
		for _, id := range d.IDLike {
			if id == "" || strings.ContainsAny(id, " \t\n") {
				t.Fatalf("ID_LIKE word %q", id)
			}
		}
		_ = d.Family()
	})
}

func FuzzParseMounts(f *testing.F) {
	f.Add(testutil.MountsZFS)
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ParseMounts(strings.NewReader(in), "/proc/mounts")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "/proc/mounts") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, x := range m.List {
			if x.Point == "" || x.Type == "" || x.Source == "" {
				t.Fatalf("empty field in %+v", x)
			}
		}
		if root, ok := m.On("/"); ok && !m.Has(root.Type, "/") {
			t.Fatalf("On and Has disagree: %+v", root)
		}
	})
}
