package size

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"0", 0},
		{"8589934592", 8589934592},
		{"18446744073709551615", math.MaxUint64},
		{"00000000000000000000000008", 8},
		{"8G", 8 * GiB},
		{"8 G", 8 * GiB},
		{"8gib", 8 * GiB},
		{"8Gb", 8 * GiB},
		{" 8G ", 8 * GiB},
		{"\t8G\n", 8 * GiB},
		{"1.5G", 1610612736},
		{"1.5 GiB", 1610612736},
		{"0.5K", 512},
		{"0.1K", 102},  // 102.4 rounds down
		{"1.9999B", 1}, // a fraction of a byte rounds down
		{"1.5", 1},
		{"512M", 512 * MiB},
		{"4 k", 4 * KiB},
		{"1T", TiB},
		{"1P", PiB},
		{"16383P", 16383 * PiB},
		{"16383.99P", 16383*PiB + 99*PiB/100},
		{"0B", 0},
		{"1023 B", 1023},
		// 2^-50 PiB is one byte; it needs all 50 decimal places.
		{"0.00000000000000088817841970012523233890533447265625P", 1},
		{"0.00000000000000088817841970012523233890533447265624P", 0},
		{"15.999999999G", 16*GiB - 2},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestParseSuffixes checks every accepted unit spelling in several letter cases.
func TestParseSuffixes(t *testing.T) {
	mults := map[string]uint64{"K": KiB, "M": MiB, "G": GiB, "T": TiB, "P": PiB}
	for letter, mult := range mults {
		for _, tail := range []string{"", "i", "iB", "B"} {
			for _, spelling := range []string{letter + tail, strings.ToLower(letter + tail), strings.ToUpper(letter + tail)} {
				for _, sep := range []string{"", " "} {
					in := "3" + sep + spelling
					got, err := Parse(in)
					if err != nil || got != 3*mult {
						t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, 3*mult)
					}
				}
			}
		}
	}
	for _, in := range []string{"7", "7B", "7b", "7 B"} {
		if got, err := Parse(in); err != nil || got != 7 {
			t.Errorf("Parse(%q) = %d, %v; want 7", in, got, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantMsg string // substring of the error message
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"-1G", "cannot be negative"},
		{"-0", "cannot be negative"},
		{"8X", `unknown unit "X"`},
		{"16E", `unknown unit "E"`},
		{"8GG", `unknown unit "GG"`},
		{"8Gib2", `unknown unit`},
		{"8 bytes", `unknown unit`},
		{"8  G", `unknown unit " G"`},
		{"17179869184G", "too large"},
		{"16384P", "too large"},
		{"18446744073709551616", "too large"},
		{"99999999999999999999999", "too large"},
		{"16383.999999999999999999P", ""}, // fits: just below 16 EiB
		{"NaN", "want bytes"},
		{"Inf", "want bytes"},
		{"+Inf", "want bytes"},
		{"+8G", "want bytes"},
		{"0x10", "hexadecimal"},
		{"0X1fG", "hexadecimal"},
		{"1e9", `unknown unit "e9"`},
		{".5G", "want bytes"},
		{"5.G", "want bytes"},
		{"1,024K", "unknown unit"},
		{"1_000", "unknown unit"},
		{"G", "want bytes"},
		{"50%", "unknown unit"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantMsg == "" {
			if err != nil {
				t.Errorf("Parse(%q): unexpected error %v", tt.in, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("Parse(%q) = %d, want an error", tt.in, got)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.wantMsg) {
			t.Errorf("Parse(%q) error %q does not contain %q", tt.in, msg, tt.wantMsg)
		}
		if !strings.Contains(msg, strconv.Quote(tt.in)) {
			t.Errorf("Parse(%q) error %q does not quote the input", tt.in, msg)
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) error %q does not wrap ErrInvalid", tt.in, msg)
		}
		if msg != strings.ToLower(msg[:1])+msg[1:] {
			t.Errorf("Parse(%q) error %q does not start in lower case", tt.in, msg)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		in   uint64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{1023, "1023 B"},
		{1024, "1 KiB"},
		{1025, "1.00 KiB"},
		{1536, "1.50 KiB"},
		{512 * MiB, "512 MiB"},
		{8 * GiB, "8 GiB"},
		{8*GiB + 1, "8.00 GiB"},
		{8000000000, "7.45 GiB"},
		{1258291200, "1.17 GiB"},
		{1610612736, "1.50 GiB"},
		{16*GiB - 1, "15.99 GiB"},
		{16777216000, "15.62 GiB"},
		{1023 * GiB, "1023 GiB"},
		{TiB, "1 TiB"},
		{PiB, "1 PiB"},
		{16383 * PiB, "16383 PiB"},
		{math.MaxUint64, "16383.99 PiB"},
	}
	for _, tt := range tests {
		if got := Format(tt.in); got != tt.want {
			t.Errorf("Format(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatSigned(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{-166 * int64(MiB), "-166 MiB"},
		{166 * int64(MiB), "166 MiB"},
		{-1, "-1 B"},
		{-(16*int64(GiB) - 1), "-15.99 GiB"},
		{math.MinInt64, "-8192 PiB"},
		{math.MaxInt64, "8191.99 PiB"},
	}
	for _, tt := range tests {
		if got := FormatSigned(tt.in); got != tt.want {
			t.Errorf("FormatSigned(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestFormatRoundTrip checks that Parse reads what Format prints: exactly
// for values printed without decimals, and within 0.01 unit below the value
// otherwise.
func TestFormatRoundTrip(t *testing.T) {
	values := []uint64{0, 1, 1023, 1024, 1025, 4095, 8 * GiB, 8*GiB - 1, 8*GiB + 1,
		8000000000, 16*GiB - 1, 3*TiB + 7, PiB - 1, 12345678901234567, math.MaxUint64}
	for shift := 0; shift < 64; shift++ {
		values = append(values, 1<<shift, 1<<shift-1, 1<<shift+1)
	}
	for _, v := range values {
		checkFormatRoundTrip(t, v)
	}
}

func checkFormatRoundTrip(t *testing.T, v uint64) {
	t.Helper()
	s := Format(v)
	back, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(Format(%d) = %q): %v", v, s, err)
	}
	if !strings.Contains(s, ".") {
		if back != v {
			t.Fatalf("Parse(Format(%d) = %q) = %d, want the same value", v, s, back)
		}
		return
	}
	unit := uint64(1)
	for _, u := range units {
		if v >= u.mult {
			unit = u.mult
			break
		}
	}
	if back > v || v-back > unit/100+1 {
		t.Fatalf("Parse(Format(%d) = %q) = %d, want within 0.01 unit below", v, s, back)
	}
}

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in   string
		want Amount
		str  string // String() of the result
	}{
		{"50%", Amount{Percent: 50}, "50%"},
		{"12.5%", Amount{Percent: 12.5}, "12.5%"},
		{" 12.5 % ", Amount{Percent: 12.5}, "12.5%"},
		{"0.001%", Amount{Percent: 0.001}, "0.001%"},
		{"99.99%", Amount{Percent: 99.99}, "99.99%"},
		{"8G", Amount{Bytes: 8 * GiB}, "8 GiB"},
		{"1.5G", Amount{Bytes: 1536 * MiB}, "1536 MiB"},
		{"8000000000", Amount{Bytes: 8000000000}, "7812500 KiB"},
		{"8000000001", Amount{Bytes: 8000000001}, "8000000001"},
		{"0", Amount{}, "0"},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.in)
		if err != nil {
			t.Errorf("ParseAmount(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseAmount(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("ParseAmount(%q).String() = %q, want %q", tt.in, s, tt.str)
		}
		back, err := ParseAmount(got.String())
		if err != nil || back != got {
			t.Errorf("ParseAmount(%q) = %+v, %v; want %+v", got.String(), back, err, got)
		}
	}
}

func TestParseAmountErrors(t *testing.T) {
	for _, in := range []string{"", "%", "0%", "100%", "150%", "-5%", "NaN%", "Inf%", "1e1%", "abc%", "5%%", "8X", "-1G"} {
		a, err := ParseAmount(in)
		if err == nil {
			t.Errorf("ParseAmount(%q) = %+v, want an error", in, a)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("ParseAmount(%q) error %q: want ErrInvalid and the quoted input", in, err)
		}
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		a        Amount
		memTotal uint64
		want     uint64
	}{
		{Amount{Bytes: 8 * GiB}, 32 * GiB, 8 * GiB},
		{Amount{Percent: 50}, 32 * GiB, 16 * GiB},
		{Amount{Percent: 50}, 4103278593, 2051639296},
		{Amount{Percent: 12.5}, 4103278592, 512909824},
		// 0.1 is not exact in float64; the decimal "0.1" is used.
		{Amount{Percent: 0.1}, 1000, 1},
		{Amount{Percent: 10}, 4007108 * KiB, 410327859}, // 410327859.2 bytes, floored
		{Amount{Percent: 99.99}, math.MaxUint64, 18444899399302180659},
		{Amount{Percent: 33.3}, 3, 0},
		{Amount{Percent: 33.4}, 3, 1},
		{Amount{}, 123, 0},
	}
	for _, tt := range tests {
		if got := tt.a.Resolve(tt.memTotal); got != tt.want {
			t.Errorf("%+v.Resolve(%d) = %d, want %d", tt.a, tt.memTotal, got, tt.want)
		}
	}
}

func TestAmountSet(t *testing.T) {
	var a Amount
	if err := a.Set("25%"); err != nil || a != (Amount{Percent: 25}) {
		t.Fatalf("Set(25%%) = %+v, %v", a, err)
	}
	if err := a.Set("2G"); err != nil || a != (Amount{Bytes: 2 * GiB}) {
		t.Fatalf("Set(2G) = %+v, %v", a, err)
	}
	if err := a.Set("8X"); err == nil || a != (Amount{Bytes: 2 * GiB}) {
		t.Fatalf("Set(8X) = %+v, %v; want an error and no change", a, err)
	}
	if a.Type() != "size" {
		t.Fatalf("Type() = %q", a.Type())
	}
}

func BenchmarkParse(b *testing.B) {
	for _, in := range []string{"8589934592", "8G", "8 GiB", "1.5G"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFormat(b *testing.B) {
	for _, v := range []uint64{8 * GiB, 8000000000} {
		b.Run(strconv.FormatUint(v, 10), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Format(v)
			}
		})
	}
}

func TestParseArg(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    uint64
		wantErr string
	}{
		{"20G", 20 * GiB, ""},
		{"0", 0, ""},
		{"20B", 20, ""},
		{"512K", 512 * KiB, ""},
		{"1048576", MiB, ""},
		{"20", 0, `invalid size "20": a number without a unit is bytes, and 20 bytes is less than 1 MiB: did you mean 20G? (write 20B for bytes)`},
		{" 1048575 ", 0, `invalid size " 1048575 ": a number without a unit is bytes, and 1048575 bytes is less than 1 MiB: did you mean 1048575G? (write 1048575B for bytes)`},
	} {
		got, err := ParseArg(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseArg(%q) = %d, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseArg(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	// Amount.String gives back what ParseArg takes, also below 1 MiB.
	for _, b := range []uint64{1, 20, 1023, 1025, MiB - 1} {
		if got, err := ParseAmount(Amount{Bytes: b}.String()); err != nil || got.Bytes != b {
			t.Errorf("ParseAmount(%q) = %+v, %v", Amount{Bytes: b}.String(), got, err)
		}
	}
}
