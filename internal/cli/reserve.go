package cli

import (
	"fmt"
	"strings"

	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/size"
)

// ReserveSpec is one --reserve value as given: [LABEL=]SIZE, SIZE in bytes,
// binary K/M/G/T, or N% of MemTotal; or "observed"; or "auto". Resolve
// turns a size into bytes once MemTotal is known; "auto" is resolved by
// reading what the host declares (internal/declared), in cmd/arcadvise.
type ReserveSpec struct {
	Label  string
	Amount size.Amount
	Text   string // as given
	// Observed is "--reserve observed": no declaration, the non-ARC memory
	// in use stands in for it, chosen on purpose (a write needs that).
	Observed bool
	// Auto is "--reserve auto": the sum of what the host declares, its
	// guests and protected cgroups (internal/declared).
	Auto bool
}

// AutoLabel is the label of the reservation --reserve auto adds: its term
// is "reservation auto", its JSON reservations[] entry has label "auto".
const AutoLabel = "auto"

// ParseReserve parses [LABEL=]SIZE, "observed" or "auto".
func ParseReserve(s string) (ReserveSpec, error) {
	switch strings.TrimSpace(s) {
	case "observed":
		return ReserveSpec{Text: "observed", Observed: true}, nil
	case "auto":
		return ReserveSpec{Label: AutoLabel, Text: "auto", Auto: true}, nil
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
	if label == AutoLabel {
		return ReserveSpec{}, fmt.Errorf("label %q names what the host declares (--reserve auto): give this part of the workload another label", label)
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
// source for the report. It is meaningless for observed and auto.
func (r ReserveSpec) Resolve(memTotal uint64) policy.Reservation {
	src := "--reserve " + r.Text
	if r.Amount.Percent > 0 {
		src += fmt.Sprintf(" (%g%% of MemTotal %s)", r.Amount.Percent, size.Format(memTotal))
	}
	return policy.Reservation{Label: r.Label, Bytes: r.Amount.Resolve(memTotal), Source: src}
}

// Reserves collects repeated --reserve values (it is a pflag.Value): they
// are summed. A label may be given once; "observed" stands alone; "auto"
// adds what the host declares to the typed values.
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
		switch {
		case r.Observed || o.Observed:
			return fmt.Errorf("observed stands alone: it replaces the declaration, it does not add to one")
		case r.Auto && o.Auto:
			return fmt.Errorf("auto is given twice: the host's declarations are counted once")
		case r.Label != "" && o.Label == r.Label:
			return fmt.Errorf("label %q is given twice (%s and %s): give each part of the workload its own label", r.Label, o.Text, r.Text)
		}
	}
	*f = append(*f, r)
	return nil
}

// Auto reports whether --reserve auto was given.
func (f Reserves) Auto() bool {
	for _, r := range f {
		if r.Auto {
			return true
		}
	}
	return false
}

// Typed reports whether a size was given (a declaration beside auto).
func (f Reserves) Typed() bool {
	for _, r := range f {
		if !r.Auto && !r.Observed {
			return true
		}
	}
	return false
}

// Reservations resolves the values on a host with memTotal, in the order
// given: each size, and auto as the reservation the host's declarations
// add up to (read by the caller; nil leaves auto out). "observed" is not a
// size: without another value the result is empty, and policy observes.
func (f Reserves) Reservations(memTotal uint64, auto *policy.Reservation) []policy.Reservation {
	var out []policy.Reservation
	for _, r := range f {
		switch {
		case r.Auto:
			if auto != nil {
				out = append(out, *auto)
			}
		case !r.Observed:
			out = append(out, r.Resolve(memTotal))
		}
	}
	return out
}

// CheckArgs are the flags that declare this workload again in the check
// command printed after a write (apply.CheckCommand): each value as given,
// "observed" as the number it observed (observedBytes: what is in use now
// is declared from here on), and auto with its --guests rule, so that the
// check after the reboot recounts the host's declarations: a guest added
// since then shows as drift.
func (f Reserves) CheckArgs(observedBytes uint64, guests string) []string {
	var out []string
	for _, r := range f {
		switch {
		case r.Observed:
			out = append(out, "--reserve", fmt.Sprintf("observed=%d", observedBytes))
		case r.Auto:
			out = append(out, "--reserve", "auto", "--guests", guests)
		default:
			out = append(out, "--reserve", r.Text)
		}
	}
	return out
}
