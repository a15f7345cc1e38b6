package main

import (
	"strings"

	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/size"
)

// reserveFlag collects repeated --reserve flags; they are summed.
type reserveFlag []policy.ReserveSpec

func (f *reserveFlag) String() string {
	parts := make([]string, len(*f))
	for i, r := range *f {
		parts[i] = r.Text
	}
	return strings.Join(parts, ",")
}

func (f *reserveFlag) Type() string { return "[label=]size" }

func (f *reserveFlag) Set(s string) error {
	r, err := policy.ParseReserve(s)
	if err != nil {
		return err
	}
	*f = append(*f, r)
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
