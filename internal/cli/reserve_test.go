package cli

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/arcadvise/arcadvise/internal/declared"
	"github.com/arcadvise/arcadvise/internal/policy"
)

const (
	mib = 1 << 20
	gib = 1 << 30
)

func TestReserves(t *testing.T) {
	var r Reserves
	for _, s := range []string{"builds=12G", "vms=8G", "4G"} {
		if err := r.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Set("vms=1G"); err == nil || err.Error() != `label "vms" is given twice (vms=8G and vms=1G): give each part of the workload its own label` {
		t.Errorf("duplicate label: %v", err)
	}
	if err := r.Set("observed"); err == nil || !strings.Contains(err.Error(), "observed stands alone") {
		t.Errorf("observed after sizes: %v", err)
	}
	var o Reserves
	if err := o.Set("observed"); err != nil || !o[0].Observed {
		t.Fatalf("observed: %v %+v", err, o)
	}
	if err := o.Set("1G"); err == nil {
		t.Error("a size after observed was taken")
	}
	if err := o.Set("auto"); err == nil || !strings.Contains(err.Error(), "observed stands alone") {
		t.Errorf("auto after observed: %v", err)
	}
	if r.String() != "builds=12G,vms=8G,4G" || len(r) != 3 {
		t.Errorf("reserves %q", r.String())
	}
	if r.Auto() || !r.Typed() {
		t.Errorf("sizes only: Auto %v, Typed %v", r.Auto(), r.Typed())
	}
}

// TestReserveAuto: auto adds the host's declarations to the sizes, in the
// order given, once; it is no label of the admin's.
func TestReserveAuto(t *testing.T) {
	var r Reserves
	for _, s := range []string{"backups=4G", "auto", "10%"} {
		if err := r.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if !r.Auto() || !r.Typed() {
		t.Errorf("Auto %v, Typed %v", r.Auto(), r.Typed())
	}
	if err := r.Set("auto"); err == nil || !strings.Contains(err.Error(), "auto is given twice") {
		t.Errorf("auto twice: %v", err)
	}
	if err := r.Set("auto=2G"); err == nil || !strings.Contains(err.Error(), `label "auto" names what the host declares`) {
		t.Errorf("label auto: %v", err)
	}
	var obs Reserves
	if err := obs.Set("auto"); err != nil {
		t.Fatal(err)
	}
	if err := obs.Set("observed"); err == nil {
		t.Error("observed after auto was taken")
	}
	auto := policy.Reservation{Label: "auto", Bytes: 3 * gib, Source: "--reserve auto"}
	// 10% of 40 GiB is 4 GiB: 4294967296 bytes.
	want := []policy.Reservation{
		{Label: "backups", Bytes: 4 * gib, Source: "--reserve backups=4G"},
		auto,
		{Bytes: 4 * gib, Source: "--reserve 10% (10% of MemTotal 40 GiB)"},
	}
	if d := cmp.Diff(want, r.Reservations(40*gib, &auto)); d != "" {
		t.Errorf("Reservations -want +got:\n%s", d)
	}
	// Without a reading of the host, auto is left out.
	if got := r.Reservations(40*gib, nil); len(got) != 2 || got[0].Label != "backups" || got[1].Bytes != 4*gib {
		t.Errorf("Reservations without auto: %+v", got)
	}
	if got := strings.Join(r.CheckArgs(0, "running"), " "); got != "--reserve backups=4G --reserve auto --guests running --reserve 10%" {
		t.Errorf("CheckArgs = %q", got)
	}
	var o Reserves
	if err := o.Set("observed"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.CheckArgs(1536*mib, "boot"), " "); got != "--reserve observed=1610612736" {
		t.Errorf("CheckArgs observed = %q", got)
	}
}

// TestGuestsFlag: --guests takes the three rules, boot by default, and
// goes with --reserve auto only.
func TestGuestsFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want declared.Rule
		err  string
	}{
		{[]string{"--reserve", "auto"}, declared.Boot, ""},
		{[]string{"--reserve", "auto", "--guests", "running"}, declared.Running, ""},
		{[]string{"--reserve", "auto", "--guests=all", "--write"}, declared.All, ""},
		{[]string{"--reserve", "auto", "--guests", "stopped"}, 0, `invalid guest rule "stopped": want running, boot or all`},
		{[]string{"--reserve", "2G", "--guests", "all"}, 0, "--guests goes with --reserve auto"},
		{[]string{"--guests", "boot"}, 0, "--guests goes with --reserve auto"},
		{[]string{"--reserve", "auto", "--arc-max", "8G"}, 0, "--arc-max and --reserve do not go together"},
	} {
		o, err := Parse(tc.args)
		if err == nil {
			_, err = o.Mode()
		}
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.err == "" && o.Guests != tc.want:
			t.Errorf("%q: rule %v, want %v", tc.args, o.Guests, tc.want)
		}
	}
}

// FuzzParseReserve: a --reserve value parses or is refused, never panics;
// what parses is one of the three kinds, and a size keeps its text.
func FuzzParseReserve(f *testing.F) {
	for _, s := range []string{"20G", "builds=12G", "auto", "observed", "60%", "20B", "x=", "=1G", "auto=1G", " auto ", "1.5TiB", "a b=1G"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReserve(s)
		if err != nil {
			return
		}
		switch {
		case r.Auto && (r.Observed || r.Label != AutoLabel):
			t.Fatalf("%q: %+v", s, r)
		case r.Observed && (r.Auto || r.Label != ""):
			t.Fatalf("%q: %+v", s, r)
		case !r.Auto && !r.Observed && (r.Text != s || r.Label == AutoLabel || r.Amount.Percent >= 100):
			t.Fatalf("%q: %+v", s, r)
		}
	})
}
