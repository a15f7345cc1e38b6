package decimal

import (
	"strconv"
	"testing"
)

func TestParseUint(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"4103278592", 4103278592, true},
		{"18446744073709551615", 18446744073709551615, true},
		{"18446744073709551616", 0, false},
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"0x10", 0, false},
		{"12 ", 0, false},
	} {
		got, ok := ParseUint([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseUint(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseUint(f *testing.F) {
	for _, s := range []string{"0", "123", "18446744073709551615", "18446744073709551616", "-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseUint([]byte(s))
		want, err := strconv.ParseUint(s, 10, 64)
		// strconv also takes a leading '+'; ParseUint does not.
		if len(s) > 0 && s[0] == '+' {
			if ok {
				t.Fatalf("ParseUint(%q) accepted a sign", s)
			}
			return
		}
		if ok != (err == nil) || (ok && got != want) {
			t.Fatalf("ParseUint(%q) = %d, %v; strconv: %d, %v", s, got, ok, want, err)
		}
	})
}
