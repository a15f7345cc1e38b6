package main

import (
	"fmt"
	"strings"

	"github.com/arcadvise/arcadvise/internal/size"
)

// reservation is one --reserve value: [LABEL=]SIZE, SIZE in bytes, binary
// K/M/G/T, or N% of MemTotal.
type reservation struct {
	label  string
	amount size.Amount
	text   string
}

// reserveFlag collects repeated --reserve flags; they are summed.
type reserveFlag []reservation

func (f *reserveFlag) String() string {
	parts := make([]string, len(*f))
	for i, r := range *f {
		parts[i] = r.text
	}
	return strings.Join(parts, ",")
}

func (f *reserveFlag) Type() string { return "[label=]size" }

func (f *reserveFlag) Set(s string) error {
	label, val, found := strings.Cut(s, "=")
	if !found {
		label, val = "", s
	}
	label = strings.TrimSpace(label)
	if found && label == "" {
		return fmt.Errorf("empty label in %q: want LABEL=SIZE or SIZE", s)
	}
	if strings.ContainsAny(label, " \t,") {
		return fmt.Errorf("label %q may not contain spaces or commas", label)
	}
	a, err := size.ParseAmount(val)
	if err != nil {
		return err
	}
	if a.Percent >= 100 {
		return fmt.Errorf("reservation %q is 100%% of memory or more", s)
	}
	*f = append(*f, reservation{label: label, amount: a, text: s})
	return nil
}

// sizeFlag is a plain byte size (no percentages).
type sizeFlag struct {
	bytes uint64
	set   bool
}

func (f *sizeFlag) String() string {
	if !f.set {
		return ""
	}
	return size.Format(f.bytes)
}
func (f *sizeFlag) Type() string { return "size" }
func (f *sizeFlag) Set(s string) error {
	b, err := size.Parse(s)
	if err != nil {
		return err
	}
	f.bytes, f.set = b, true
	return nil
}
