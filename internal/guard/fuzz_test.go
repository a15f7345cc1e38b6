package guard

import (
	"strings"
	"syscall"
	"testing"
)

func mkfifo(p string) error { return syscall.Mkfifo(p, 0o644) }

// FuzzParsePolicy: any input gives the policy or an error naming the file,
// never a panic; a policy within the bounds; an error gives the defaults.
func FuzzParsePolicy(f *testing.F) {
	f.Add("ARCADVISE_GUARD_STRICT=yes\nARCADVISE_GUARD_BUDGET=2s\nARCADVISE_GUARD_RAISE=no\nTEXTFILE_DIR=/var/lib/prometheus/node-exporter\n")
	f.Add("# comment\nARCADVISE_ARGS=\"--reserve auto\"\n")
	f.Add("A=b # c\n")
	f.Add("A=$(x)\n")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParsePolicy(strings.NewReader(in), path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), path) {
				t.Fatalf("error without the file: %v", err)
			}
			if p.Strict || p.Raise || p.Budget != DefaultBudget || p.TextfileDir != "" {
				t.Fatalf("an error with %+v", p)
			}
			return
		}
		if p.Budget < MinBudget || p.Budget > MaxBudget || p.TextfileDir != "" && p.TextfileDir[0] != '/' {
			t.Fatalf("out of bounds: %+v", p)
		}
	})
}

// FuzzParseGuest: an accepted guest prints back as given.
func FuzzParseGuest(f *testing.F) {
	for _, s := range []string{"pve-qemu:100", "pve:200", "libvirt:web", "libvirt:a:b", "x:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		g, err := ParseGuest(in)
		if err == nil && g.String() != in {
			t.Fatalf("%q parsed as %v", in, g)
		}
	})
}
