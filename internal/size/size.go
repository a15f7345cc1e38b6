// Package size parses and prints byte quantities with binary (IEC) units.
//
// Every suffix is a power of 1024: "8G", "8g", "8Gi", "8GiB" and "8GB" all
// mean 8×2³⁰ bytes, the way zfs(8) and free(1) read them. (go-humanize reads
// "8G" as 8×10⁹, which is wrong for ZFS tunables.) A trailing "%" in an
// [Amount] denotes a share of MemTotal that is resolved later.
package size

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
)

// Binary units.
const (
	KiB uint64 = 1 << 10
	MiB uint64 = 1 << 20
	GiB uint64 = 1 << 30
	TiB uint64 = 1 << 40
	PiB uint64 = 1 << 50
)

// ErrInvalid is wrapped by every error that Parse and ParseAmount return.
var ErrInvalid = errors.New("invalid size")

// accepted is the end of every syntax error message.
const accepted = `want bytes ("8589934592") or a number with a K, M, G, T or P suffix, ` +
	`optionally followed by i, iB or B, all binary (8G = 8GiB = 8589934592)`

// units lists the units from the largest down, as Format and String use them.
var units = [...]struct {
	mult uint64
	name string
}{
	{PiB, "PiB"},
	{TiB, "TiB"},
	{GiB, "GiB"},
	{MiB, "MiB"},
	{KiB, "KiB"},
}

// multiplier returns the multiplier for a unit suffix in any letter case:
// "" or "B" for bytes, else K, M, G, T or P optionally followed by "i",
// "iB" or "B".
func multiplier(unit string) (uint64, bool) {
	if unit == "" || unit == "b" || unit == "B" {
		return 1, true
	}
	var m uint64
	switch unit[0] {
	case 'k', 'K':
		m = KiB
	case 'm', 'M':
		m = MiB
	case 'g', 'G':
		m = GiB
	case 't', 'T':
		m = TiB
	case 'p', 'P':
		m = PiB
	default:
		return 0, false
	}
	for _, tail := range [...]string{"", "i", "ib", "b"} {
		if strings.EqualFold(unit[1:], tail) {
			return m, true
		}
	}
	return 0, false
}

// splitNumber splits s into a decimal number ("12" or "12.5": digits,
// optionally a dot and more digits) and the rest. It reports false when s
// does not start with such a number.
func splitNumber(s string) (intPart, fracPart, rest string, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return "", "", s, false
	}
	intPart = s[:i]
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			return "", "", s, false
		}
		fracPart = s[i+1 : j]
		i = j
	}
	return intPart, fracPart, s[i:], true
}

// Parse reads a size in bytes. It accepts plain bytes ("8589934592") or a
// number with a binary unit: K, M, G, T or P, optionally followed by "i",
// "iB" or "B", in any letter case, so "8G", "8g", "8GiB", "8gib" and "8Gb"
// are all 8589934592. A single space may separate the number and the unit,
// and surrounding white space is ignored. The number may have a decimal
// fraction ("1.5G"); the result is rounded down to whole bytes, computed
// exactly rather than through float64. Signs, exponents, hexadecimal, NaN,
// Inf and values above 2⁶⁴−1 bytes are errors.
func Parse(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("%w %q: empty; %s", ErrInvalid, s, accepted)
	}
	if t[0] == '-' {
		return 0, fmt.Errorf("%w %q: sizes cannot be negative", ErrInvalid, s)
	}
	intPart, fracPart, unit, ok := splitNumber(t)
	if !ok {
		return 0, fmt.Errorf("%w %q: %s", ErrInvalid, s, accepted)
	}
	unit = strings.TrimPrefix(unit, " ")
	mult, ok := multiplier(unit)
	if !ok {
		if intPart == "0" && fracPart == "" && (strings.HasPrefix(unit, "x") || strings.HasPrefix(unit, "X")) {
			return 0, fmt.Errorf("%w %q: hexadecimal is not accepted; %s", ErrInvalid, s, accepted)
		}
		return 0, fmt.Errorf("%w %q: unknown unit %q; %s", ErrInvalid, s, unit, accepted)
	}
	v, ok := mulAdd(intPart, fracPart, mult)
	if !ok {
		return 0, fmt.Errorf("%w %q: too large, the maximum is %d bytes (%s)",
			ErrInvalid, s, uint64(math.MaxUint64), Format(math.MaxUint64))
	}
	return v, nil
}

// mulAdd returns floor((intPart + 0.fracPart) × mult) and false on overflow.
func mulAdd(intPart, fracPart string, mult uint64) (uint64, bool) {
	var n uint64
	for i := 0; i < len(intPart); i++ {
		hi, lo := bits.Mul64(n, 10)
		lo, carry := bits.Add64(lo, uint64(intPart[i]-'0'), 0)
		if hi != 0 || carry != 0 {
			return 0, false
		}
		n = lo
	}
	hi, v := bits.Mul64(n, mult)
	if hi != 0 {
		return 0, false
	}
	if fracPart == "" || mult == 1 {
		// A fraction of a byte rounds down to nothing.
		return v, true
	}
	// floor(0.fracPart × mult) = floor(F × mult / 10^len(F)), exactly.
	f, _ := new(big.Int).SetString(fracPart, 10)
	f.Mul(f, new(big.Int).SetUint64(mult))
	f.Quo(f, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(fracPart))), nil))
	sum, carry := bits.Add64(v, f.Uint64(), 0)
	if carry != 0 {
		return 0, false
	}
	return sum, true
}

// Format prints b for humans in the largest binary unit that is at most b.
// A multiple of that unit prints without decimals ("8 GiB", "512 MiB",
// "0 B", "1023 B"). Any other value prints with two decimals truncated, not
// rounded, so that it never looks exact or larger than it is: 16 GiB − 1
// byte prints "15.99 GiB", 8 GiB + 1 byte prints "8.00 GiB", and 1.5 GiB
// prints "1.50 GiB". The output is accepted by Parse; for a value printed
// with decimals Parse returns at most b and less than 0.01 unit below it.
func Format(b uint64) string {
	for _, u := range units {
		if b < u.mult {
			continue
		}
		whole, rem := b/u.mult, b%u.mult
		if rem == 0 {
			return strconv.FormatUint(whole, 10) + " " + u.name
		}
		// rem < 2^50, so rem*100 does not overflow.
		return fmt.Sprintf("%d.%02d %s", whole, rem*100/u.mult, u.name)
	}
	return strconv.FormatUint(b, 10) + " B"
}

// FormatSigned is Format for a difference: "-166 MiB", "0 B", "1.50 GiB".
func FormatSigned(v int64) string {
	if v < 0 {
		// -(v+1) does not overflow for math.MinInt64.
		return "-" + Format(uint64(-(v+1))+1)
	}
	return Format(uint64(v))
}

// formatExact prints b in the largest unit that divides it exactly, else in
// bytes, so that ParseArg gives back b: "8 GiB", "1536 MiB", "8000000001",
// and "20 B" below 1 MiB (where a bare number is refused).
func formatExact(b uint64) string {
	if b == 0 {
		return "0"
	}
	for _, u := range units {
		if b%u.mult == 0 {
			return strconv.FormatUint(b/u.mult, 10) + " " + u.name
		}
	}
	if b < MiB {
		return strconv.FormatUint(b, 10) + " B"
	}
	return strconv.FormatUint(b, 10)
}

// Amount is an absolute size or a percentage of MemTotal, such as a memory
// reservation given on the command line. Exactly one of the fields is set:
// Percent > 0 means a percentage, otherwise Bytes holds the size.
type Amount struct {
	Bytes   uint64
	Percent float64 // 0 < Percent < 100 when set
}

// ParseArg is Parse for a size a person types on the command line: a bare
// number (no unit) from 1 byte to 1 MiB is an error, since "--reserve 20"
// almost always means 20G, not 20 bytes. With a unit ("20B"), and for 0,
// any size is taken.
func ParseArg(s string) (uint64, error) {
	b, err := Parse(s)
	if err != nil {
		return 0, err
	}
	t := strings.TrimSpace(s)
	if b != 0 && b < MiB && strings.Trim(t, "0123456789") == "" {
		return 0, fmt.Errorf("%w %q: a number without a unit is bytes, and %d bytes is less than 1 MiB: did you mean %sG? (write %sB for bytes)",
			ErrInvalid, s, b, t, t)
	}
	return b, nil
}

// ParseAmount reads an absolute size in the syntax of ParseArg, or a
// percentage of MemTotal: a decimal number above 0 and below 100 followed by
// "%" ("50%", "12.5%").
func ParseAmount(s string) (Amount, error) {
	t := strings.TrimSpace(s)
	p, isPercent := strings.CutSuffix(t, "%")
	if !isPercent {
		b, err := ParseArg(s)
		if err != nil {
			return Amount{}, err
		}
		return Amount{Bytes: b}, nil
	}
	p = strings.TrimSuffix(p, " ")
	const want = `want a percentage above 0 and below 100 ("50%", "12.5%") or a size`
	if strings.HasPrefix(p, "-") {
		return Amount{}, fmt.Errorf("%w %q: percentages cannot be negative; %s", ErrInvalid, s, want)
	}
	if _, _, rest, ok := splitNumber(p); !ok || rest != "" {
		return Amount{}, fmt.Errorf("%w %q: %s", ErrInvalid, s, want)
	}
	f, err := strconv.ParseFloat(p, 64)
	if err != nil || !(f > 0 && f < 100) {
		return Amount{}, fmt.Errorf("%w %q: %s", ErrInvalid, s, want)
	}
	return Amount{Percent: f}, nil
}

// Resolve returns the amount in bytes: Bytes, or floor(memTotal × Percent /
// 100) for a percentage. The percentage is taken as the shortest decimal
// that prints as Percent ("12.5"), and the product is computed exactly in
// integers, so 50% of an odd MemTotal is exactly half rounded down.
func (a Amount) Resolve(memTotal uint64) uint64 {
	if a.Percent <= 0 || math.IsNaN(a.Percent) || math.IsInf(a.Percent, 0) {
		return a.Bytes
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(a.Percent, 'f', -1, 64))
	if !ok {
		return a.Bytes
	}
	r.Mul(r, new(big.Rat).SetUint64(memTotal))
	q := new(big.Int).Quo(r.Num(), new(big.Int).Mul(r.Denom(), big.NewInt(100)))
	if !q.IsUint64() {
		return math.MaxUint64
	}
	return q.Uint64()
}

// String prints the amount so that ParseAmount gives it back: "50%",
// "12.5%", "8 GiB", "1536 MiB", or plain bytes when no unit divides the
// size exactly ("8000000001").
func (a Amount) String() string {
	if a.Percent > 0 {
		return strconv.FormatFloat(a.Percent, 'f', -1, 64) + "%"
	}
	return formatExact(a.Bytes)
}

// Set implements pflag.Value (and flag.Value) with ParseAmount.
func (a *Amount) Set(s string) error {
	v, err := ParseAmount(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Type implements pflag.Value; pflag shows it as the placeholder in --help.
func (a *Amount) Type() string { return "size" }

// Arg is a size given on the command line (a pflag.Value), parsed with
// ParseArg; IsSet tells it from no flag.
type Arg struct {
	Bytes uint64
	IsSet bool
}

func (a *Arg) String() string {
	if !a.IsSet {
		return ""
	}
	return Format(a.Bytes)
}

// Type names the value in --help.
func (a *Arg) Type() string { return "size" }

// Set parses s with ParseArg.
func (a *Arg) Set(s string) error {
	b, err := ParseArg(s)
	if err != nil {
		return err
	}
	a.Bytes, a.IsSet = b, true
	return nil
}
