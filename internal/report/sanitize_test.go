package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"plain\ttext\n":                    "plain\ttext\n",
		"2.1.11\x1b]0;pwned\x07":           `2.1.11\x1b]0;pwned\x07`,
		"name\x1b[2J\rover":                `name\x1b[2J\x0dover`,
		"é µ GiB −":                        "é µ GiB −",
		"c1 \u009b31m":                     `c1 \u009b31m`,
		"bidi \u202egnp.exe":               `bidi \u202egnp.exe`,
		"bad \xff\xfe utf-8":               `bad \xff\xfe utf-8`,
		"del \x7f":                         `del \x7f`,
		"":                                 "",
		"/etc/modprobe.d/zfs\x1b[31m.conf": `/etc/modprobe.d/zfs\x1b[31m.conf`,
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// A multi-byte character split across writes is kept whole; an escape
// split across writes is still escaped.
func TestSafeWriter(t *testing.T) {
	var b bytes.Buffer
	w := NewSafeWriter(&b)
	in := []byte("a − b \x1b[0m é\n")
	for i := range in {
		if _, err := w.Write(in[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "a − b \\x1b[0m é\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	b.Reset()
	w.Write([]byte("end \xe2\x88"))
	w.Flush()
	if got := b.String(); got != `end \xe2\x88` {
		t.Errorf("truncated rune at the end: %q", got)
	}
}

func FuzzSanitize(f *testing.F) {
	f.Add("2.1.11\x1b]0;x\x07 é \xff")
	f.Fuzz(func(t *testing.T, in string) {
		out := Sanitize(in)
		for _, r := range out {
			if unsafeRune(r) || r == 0xfffd && !bytes.ContainsRune([]byte(in), 0xfffd) {
				t.Fatalf("Sanitize(%q) = %q keeps %U", in, out, r)
			}
		}
		if want := sanitizeRuneByRune(in); out != want {
			t.Fatalf("Sanitize(%q) = %q, the rune-by-rune reference gives %q", in, out, want)
		}
	})
}

// sanitizeRuneByRune is the definition Sanitize's scan in runs must agree
// with: every rune looked at on its own (writeRune), none copied in a run.
func sanitizeRuneByRune(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		i += writeRune(&b, s[i:])
	}
	return b.String()
}
