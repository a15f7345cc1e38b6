package zfsmod

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// FuzzParseVersion checks that ParseVersion never panics, keeps the first
// line (trimmed) as Raw, and that the numbers it returns read back the same
// from their String form.
func FuzzParseVersion(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseVersion(bytes.NewReader(data))
		if err != nil {
			if v != (Version{}) {
				t.Fatalf("ParseVersion returned %+v with error %v, want zero", v, err)
			}
			if !strings.HasPrefix(err.Error(), "line 1: ") {
				t.Fatalf("ParseVersion error %q does not name line 1", err)
			}
			return
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Scan()
		if want := strings.TrimSpace(sc.Text()); v.Raw != want {
			t.Fatalf("Raw = %q, want the first line %q", v.Raw, want)
		}
		if v.Major < 0 || v.Minor < 0 || v.Patch < 0 || v.Fix < 0 {
			t.Fatalf("ParseVersion = %+v: a negative part", v)
		}
		back, err := ParseVersion(strings.NewReader(v.String()))
		if err != nil || back.Compare(v) != 0 {
			t.Fatalf("ParseVersion(%q) = %+v, %v; want the numbers of %+v", v.String(), back, err, v)
		}
	})
}
