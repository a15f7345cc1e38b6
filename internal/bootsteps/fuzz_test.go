package bootsteps

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func FuzzParseOSRelease(f *testing.F) {
	f.Add(osDebian)
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
		_ = d.family()
	})
}

func FuzzParseMounts(f *testing.F) {
	f.Add(mountsZFS)
	f.Fuzz(func(t *testing.T, in string) {
		fstype, source, err := ParseMounts(strings.NewReader(in))
		if err != nil {
			return
		}
		if fstype == "" || source == "" {
			t.Fatalf("empty result %q %q without error", fstype, source)
		}
		if !strings.Contains(in, "/") {
			t.Fatalf("root found in input without '/'")
		}
	})
}
