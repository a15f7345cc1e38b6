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
}

// ParseReserve parses [LABEL=]SIZE.
func ParseReserve(s string) (ReserveSpec, error) {
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
