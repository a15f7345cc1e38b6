package size

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error wraps
// ErrInvalid and quotes the input, and that an accepted value survives
// printing as plain bytes, with Format and with Amount.String.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"8G", "1.5GiB", "0", "18446744073709551615", "4 k", "16E", "-1G", "0x10", "8gib"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("Parse(%q) error %q: want ErrInvalid and the quoted input", s, err)
			}
			return
		}
		if back, err := Parse(strconv.FormatUint(v, 10)); err != nil || back != v {
			t.Fatalf("Parse(%q) = %d, but Parse(%d) = %d, %v", s, v, v, back, err)
		}
		checkFormatRoundTrip(t, v)
		a, err := ParseAmount(s)
		bare := strings.Trim(strings.TrimSpace(s), "0123456789") == ""
		if v != 0 && v < MiB && bare {
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "did you mean") {
				t.Fatalf("ParseAmount(%q) = %+v, %v; want the bare-number error", s, a, err)
			}
			return
		}
		if err != nil || a != (Amount{Bytes: v}) {
			t.Fatalf("ParseAmount(%q) = %+v, %v; Parse gave %d", s, a, err, v)
		}
		if back, err := ParseAmount(a.String()); err != nil || back != a {
			t.Fatalf("ParseAmount(%q) = %+v, %v; want %+v", a.String(), back, err, a)
		}
	})
}

// FuzzParseAmount checks that ParseAmount never panics, that String gives
// back the same amount and that a percentage never resolves above MemTotal.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"50%", "12.5%", "0.001 %", "100%", "8G", "-5%", "1e1%"} {
		f.Add(s, uint64(4103278592))
	}
	f.Fuzz(func(t *testing.T, s string, memTotal uint64) {
		a, err := ParseAmount(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseAmount(%q) error %q does not wrap ErrInvalid", s, err)
			}
			return
		}
		if back, err := ParseAmount(a.String()); err != nil || back != a {
			t.Fatalf("ParseAmount(%q) = %+v; String %q gives %+v, %v", s, a, a.String(), back, err)
		}
		r := a.Resolve(memTotal)
		if a.Percent > 0 {
			if !(a.Percent < 100) || r > memTotal {
				t.Fatalf("%+v.Resolve(%d) = %d", a, memTotal, r)
			}
		} else if r != a.Bytes {
			t.Fatalf("%+v.Resolve(%d) = %d", a, memTotal, r)
		}
	})
}
