package policy

import (
	"fmt"
	"strings"

	"github.com/arcadvise/arcadvise/internal/size"
)

// ReserveSpec is one --reserve value as given: [LABEL=]SIZE, SIZE in bytes,
// binary K/M/G/T, or N% of MemTotal. Resolve turns it into bytes once
// MemTotal is known.
type ReserveSpec struct {
	Label  string
	Amount size.Amount
	Text   string // as given
	// Observed is "--reserve observed": no declaration, the non-ARC memory
	// in use stands in for it, chosen on purpose (a write needs that).
	Observed bool
}

// ParseReserve parses [LABEL=]SIZE, or "observed".
func ParseReserve(s string) (ReserveSpec, error) {
	if strings.TrimSpace(s) == "observed" {
		return ReserveSpec{Text: "observed", Observed: true}, nil
	}
	label, val, found := strings.Cut(s, "=")
	if !found {
		label, val = "", s
	}
	label = strings.TrimSpace(label)
	if found && label == "" {
		return ReserveSpec{}, fmt.Errorf("empty label in %q: want LABEL=SIZE or SIZE", s)
	}
	if strings.ContainsAny(label, " \t,") {
		return ReserveSpec{}, fmt.Errorf("label %q may not contain spaces or commas", label)
	}
	a, err := size.ParseAmount(val)
	if err != nil {
		return ReserveSpec{}, err
	}
	if a.Percent >= 100 {
		return ReserveSpec{}, fmt.Errorf("reservation %q is 100%% of memory or more", s)
	}
	return ReserveSpec{Label: label, Amount: a, Text: s}, nil
}

// Resolve is the reservation in bytes on a host with memTotal, with its
// source for the report.
func (r ReserveSpec) Resolve(memTotal uint64) Reservation {
	src := "--reserve " + r.Text
	if r.Amount.Percent > 0 {
		src += fmt.Sprintf(" (%g%% of MemTotal %s)", r.Amount.Percent, size.Format(memTotal))
	}
	return Reservation{Label: r.Label, Bytes: r.Amount.Resolve(memTotal), Source: src}
}

// Reserves collects repeated --reserve values (it is a pflag.Value): they
// are summed. A label may be given once; "observed" stands alone.
type Reserves []ReserveSpec

func (f *Reserves) String() string {
	parts := make([]string, len(*f))
	for i, r := range *f {
		parts[i] = r.Text
	}
	return strings.Join(parts, ",")
}

// Type names the value in --help.
func (f *Reserves) Type() string { return "[label=]size" }

// Set parses and appends one value.
func (f *Reserves) Set(s string) error {
	r, err := ParseReserve(s)
	if err != nil {
		return err
	}
	for _, o := range *f {
		if r.Label != "" && o.Label == r.Label {
			return fmt.Errorf("label %q is given twice (%s and %s): give each part of the workload its own label", r.Label, o.Text, r.Text)
		}
		if r.Observed || o.Observed {
			return fmt.Errorf("observed stands alone: it replaces the declaration, it does not add to one")
		}
	}
	*f = append(*f, r)
	return nil
}

// Reservations resolves every declared value on a host with memTotal;
// "observed" declares nothing.
func (f Reserves) Reservations(memTotal uint64) []Reservation {
	var out []Reservation
	for _, r := range f {
		if !r.Observed {
			out = append(out, r.Resolve(memTotal))
		}
	}
	return out
}
