package guard

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/declared"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

const path = "/etc/default/arcadvise"

// TestParsePolicy: what the file may hold, and the line each mistake is
// reported at; a mistake gives the defaults.
func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name, in string
		want     Policy
		err      string
		warn     string
	}{
		{name: "empty", in: "", want: Policy{Budget: 2 * time.Second, Settle: DefaultSettle}},
		{name: "every key", in: "# the guard\nARCADVISE_ARGS=\"--reserve auto\"\n\nARCADVISE_GUARD_STRICT=yes\nARCADVISE_GUARD_BUDGET='1500ms'\nARCADVISE_GUARD_RAISE=On\nTEXTFILE_DIR=/var/lib/prometheus/node-exporter\n  # indented comment\n",
			want: Policy{Strict: true, Budget: 1500 * time.Millisecond, Raise: true, Settle: DefaultSettle, TextfileDir: "/var/lib/prometheus/node-exporter"}},
		{name: "settle", in: "ARCADVISE_GUARD_SETTLE=4s\n", want: Policy{Budget: 2 * time.Second, Settle: 4 * time.Second}},
		{name: "settle off", in: "ARCADVISE_GUARD_SETTLE=0\n", want: Policy{Budget: 2 * time.Second}},
		{name: "booleans as systemd reads them", in: "ARCADVISE_GUARD_STRICT=t\nARCADVISE_GUARD_RAISE=0\n", want: Policy{Strict: true, Budget: 2 * time.Second, Settle: DefaultSettle}},
		{name: "empty value", in: "ARCADVISE_GUARD_ARGS=\nTEXTFILE_DIR=\n", want: Policy{Budget: 2 * time.Second, Settle: DefaultSettle}},
		{name: "the shipped default", in: readShipped(t), want: Policy{Budget: 2 * time.Second, Settle: DefaultSettle}},
		{name: "unknown guard key", in: "ARCADVISE_GUARD_STRIKT=yes\n", want: Policy{Budget: 2 * time.Second, Settle: DefaultSettle},
			warn: path + ":1: ARCADVISE_GUARD_STRIKT is not a setting of the guard"},
		{name: "trailing comment", in: "ARCADVISE_GUARD_STRICT=yes\nARCADVISE_GUARD_RAISE=yes # give it back\n", err: path + ":2: a comment after a value: systemd keeps it in the value"},
		{name: "bad boolean", in: "\nARCADVISE_GUARD_STRICT=maybe\n", err: path + `:2: ARCADVISE_GUARD_STRICT="maybe": not yes or no`},
		{name: "bad duration", in: "ARCADVISE_GUARD_BUDGET=2\n", err: path + `:1: ARCADVISE_GUARD_BUDGET="2": not a duration (e.g. 2s, 1500ms)`},
		{name: "budget too long", in: "ARCADVISE_GUARD_BUDGET=1m\n", err: path + `:1: ARCADVISE_GUARD_BUDGET="1m": outside 100ms to 30s`},
		{name: "budget too short", in: "ARCADVISE_GUARD_BUDGET=10ms\n", err: "outside 100ms to 30s"},
		{name: "settle too long", in: "ARCADVISE_GUARD_SETTLE=11s\n", err: path + `:1: ARCADVISE_GUARD_SETTLE="11s": outside 0 to 10s`},
		{name: "settle negative", in: "ARCADVISE_GUARD_SETTLE=-1s\n", err: "outside 0 to 10s"},
		{name: "settle not a duration", in: "ARCADVISE_GUARD_SETTLE=5\n", err: "not a duration (e.g. 10s, 0)"},
		{name: "relative textfile dir", in: "TEXTFILE_DIR=prom\n", err: path + `:1: TEXTFILE_DIR="prom": not an absolute path`},
		{name: "twice", in: "ARCADVISE_GUARD_STRICT=no\nARCADVISE_GUARD_STRICT=yes\n", err: path + ":2: ARCADVISE_GUARD_STRICT is set again (first at line 1)"},
		{name: "expansion", in: "ARCADVISE_GUARD_BUDGET=$BUDGET\n", err: path + ":1: ARCADVISE_GUARD_BUDGET: the value must be plain text"},
		{name: "command substitution", in: "ARCADVISE_GUARD_STRICT=\"$(reboot)\"\n", err: path + ":1: ARCADVISE_GUARD_STRICT: the value must be plain text"},
		{name: "backslash", in: "TEXTFILE_DIR=/a\\ b\n", err: "the value must be plain text"},
		{name: "a command", in: "ARCADVISE_GUARD_STRICT=yes\nrm -rf /\n", err: path + ":2: not a KEY=VALUE line"},
		{name: "assignment before a command", in: "A=b c\n", err: path + ":1: not a KEY=VALUE line"},
		{name: "export", in: "export ARCADVISE_GUARD_STRICT=yes\n", err: path + ":1: not a KEY=VALUE line"},
		{name: "two on a line", in: "A=1 B=2\n", err: path + ":1: not a KEY=VALUE line"},
		{name: "multi-line value", in: "ARCADVISE_ARGS=\"--reserve\nauto\"\n", err: path + ":1: ARCADVISE_ARGS: a value over several lines"},
		{name: "syntax error", in: "A=\"open\n", err: path + ":1: "},
		{name: "systemd comment", in: "; a comment\n", err: path + ":1: "},
		{name: "NUL", in: "A=b\x00\n", err: path + ": a NUL byte"},
		{name: "too large", in: strings.Repeat("# padding\n", 7000), err: path + ": larger than 65536 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePolicy(strings.NewReader(tc.in), path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if got.Strict || got.Raise || got.Budget != DefaultBudget || got.Settle != DefaultSettle || got.TextfileDir != "" {
					t.Errorf("a malformed file gives %+v, want the defaults", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := got.Warnings
			got.Warnings = nil
			if got.Strict != tc.want.Strict || got.Raise != tc.want.Raise || got.Budget != tc.want.Budget || got.Settle != tc.want.Settle || got.TextfileDir != tc.want.TextfileDir {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if tc.warn == "" && len(w) > 0 || tc.warn != "" && (len(w) != 1 || !strings.Contains(w[0], tc.warn)) {
				t.Errorf("warnings %q, want %q", w, tc.warn)
			}
		})
	}
}

func readShipped(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "contrib", "systemd", "arcadvise.default"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadPolicy: a missing file is the defaults; one under the root is
// read through it; a FIFO in its place is an error, not a hang.
func TestReadPolicy(t *testing.T) {
	root := t.TempDir()
	p, err := ReadPolicy(testutil.OpenRoot(t, root))
	if err != nil || p.Budget != DefaultBudget || p.Strict {
		t.Fatalf("missing file: %+v, %v", p, err)
	}
	testutil.WriteTree(t, root, map[string]string{PolicyFile: "ARCADVISE_GUARD_STRICT=yes\n"})
	if p, err = ReadPolicy(testutil.OpenRoot(t, root)); err != nil || !p.Strict {
		t.Fatalf("%+v, %v", p, err)
	}
	fifo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(fifo, "etc/default"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mkfifo(filepath.Join(fifo, PolicyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err = ReadPolicy(testutil.OpenRoot(t, fifo)); err == nil {
		t.Fatal("a FIFO was read")
	}
}

func TestParseGuest(t *testing.T) {
	for in, want := range map[string]Guest{
		"pve-qemu:100":        {declared.PVEQemu, "100"},
		"pve-lxc:999999999":   {declared.PVELXC, "999999999"},
		"pve:20001":           {PVE, "20001"},
		"libvirt:web:prod-1":  {declared.Libvirt, "web:prod-1"},
		"libvirt:QEMUGuest 1": {declared.Libvirt, "QEMUGuest 1"},
	} {
		if got, err := ParseGuest(in); err != nil || got != want {
			t.Errorf("ParseGuest(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "100", "pve-qemu:", "pve-qemu:abc", "pve-qemu:0100", "pve-qemu:1000000000", "libvirt:a/b", "docker:web", ":100"} {
		if g, err := ParseGuest(in); err == nil {
			t.Errorf("ParseGuest(%q) = %v, want an error", in, g)
		}
	}
}

// TestDecide: the decision for each case, the numbers worked by hand.
func TestDecide(t *testing.T) {
	const gib = 1 << 30
	ok := func(cap uint64) *policy.Recommendation {
		return &policy.Recommendation{Status: policy.StatusOK, ArcMax: cap, Reserve: 5 * gib}
	}
	over := &policy.Recommendation{Status: policy.StatusOvercommitted, Reserve: 7 * gib, Budget: 100 << 20, ShortBytes: 156 << 20}
	tests := []struct {
		name string
		in   Input
		want Plan
		err  error
	}{
		{"fits: below", Input{Phase: PreStart, Rec: ok(2 * gib), CMax: gib}, Plan{Decision: Fits}, nil},
		{"fits: equal (the second call)", Input{Phase: PreStart, Rec: ok(2 * gib), CMax: 2 * gib}, Plan{Decision: Fits}, nil},
		{"lowered", Input{Phase: PreStart, Rec: ok(2 * gib), CMax: 7 * gib}, Plan{Decision: Lowered, Target: 2 * gib}, nil},
		{"overcommitted", Input{Phase: PreStart, Rec: over, CMax: 7 * gib}, Plan{Decision: Overcommitted}, nil},
		{"refused", Input{Phase: PreStart, Strict: true, Rec: over, CMax: 7 * gib}, Plan{Decision: Refused}, nil},
		{"strict, fits", Input{Phase: PreStart, Strict: true, Rec: ok(2 * gib), CMax: gib}, Plan{Decision: Fits}, nil},
		{"post-stop, raise off", Input{Phase: PostStop, Rec: ok(3 * gib), CMax: gib}, Plan{Decision: Unchanged}, nil},
		{"raised", Input{Phase: PostStop, Raise: true, Rec: ok(3 * gib), CMax: gib, Ceiling: 7 * gib}, Plan{Decision: Raised, Target: 3 * gib}, nil},
		{"raised to the ceiling", Input{Phase: PostStop, Raise: true, Rec: ok(3 * gib), CMax: gib, Ceiling: 2 * gib}, Plan{Decision: Raised, Target: 2 * gib}, nil},
		{"ceiling already reached", Input{Phase: PostStop, Raise: true, Rec: ok(3 * gib), CMax: 2 * gib, Ceiling: 2 * gib}, Plan{Decision: Unchanged}, nil},
		{"never lowers at post-stop", Input{Phase: PostStop, Raise: true, Rec: ok(3 * gib), CMax: 7 * gib, Ceiling: 7 * gib}, Plan{Decision: Unchanged}, nil},
		{"post-stop, still over-committed", Input{Phase: PostStop, Raise: true, Rec: over, CMax: gib}, Plan{Decision: Unchanged}, nil},
		{"a cap the module would ignore", Input{Phase: PreStart, Rec: &policy.Recommendation{Status: policy.StatusRefused, ArcMax: 8 * gib,
			Violations: []policy.Violation{{Rule: "zfs_arc_max must be below total memory (8 GiB)"}}}, CMax: gib}, Plan{}, ErrRefusedCap},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decide(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if got.Decision != tc.want.Decision || got.Target != tc.want.Target {
				t.Errorf("got %s to %d, want %s to %d", got.Decision, got.Target, tc.want.Decision, tc.want.Target)
			}
			if err == nil && got.Why == "" {
				t.Error("no why")
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		phase  Phase
		d      Decision
		strict bool
		want   bool
	}{
		{PreStart, Fits, true, true}, {PreStart, Lowered, true, true}, {PreStart, Overcommitted, false, true},
		{PreStart, Refused, true, false}, {PreStart, Error, false, true}, {PreStart, Error, true, false},
		{PreStart, Timeout, false, true}, {PreStart, Timeout, true, false},
		{PostStop, Error, true, true}, {PostStop, Timeout, true, true},
	} {
		if got := Allowed(tc.phase, tc.d, tc.strict); got != tc.want {
			t.Errorf("Allowed(%s, %s, strict %v) = %v", tc.phase, tc.d, tc.strict, got)
		}
	}
}
