package cli

import (
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/apply"
	"github.com/arcadvise/arcadvise/internal/declared"
	"github.com/arcadvise/arcadvise/internal/guard"
)

// TestGuardFlags: the command lines the hooks run parse into the phase
// and the guest; every flag that does not go with the guard is refused
// with a message naming it.
func TestGuardFlags(t *testing.T) {
	for _, tc := range []struct {
		args  string
		phase guard.Phase
		guest guard.Guest
	}{
		{"--reserve auto --guard pre-start --guest pve:100", guard.PreStart, guard.Guest{Kind: guard.PVE, ID: "100"}},
		{"--reserve auto --reserve backups=4G --guests all --guard post-stop --guest pve-lxc:200 --root /x --textfile /y", guard.PostStop, guard.Guest{Kind: declared.PVELXC, ID: "200"}},
		{"--reserve auto --guard pre-start --guest libvirt:web --guest-xml - --guard-strict", guard.PreStart, guard.Guest{Kind: declared.Libvirt, ID: "web"}},
	} {
		o, err := Parse(strings.Fields(tc.args))
		if err != nil {
			t.Fatal(err)
		}
		mode, err := o.Mode()
		if err != nil || mode != apply.Advise || o.GuardPhase != tc.phase || o.GuardGuest != tc.guest {
			t.Errorf("%s: mode %v, phase %q, guest %v, %v", tc.args, mode, o.GuardPhase, o.GuardGuest, err)
		}
	}
	for args, want := range map[string]string{
		"--reserve auto --guest pve:100":                                           "--guest, --guest-xml and --guard-strict go with --guard",
		"--reserve auto --guard-strict":                                            "go with --guard",
		"--reserve auto --guard pre-start":                                         "--guard needs --guest KIND:ID",
		"--reserve 2G --guard pre-start --guest pve:100":                           "--guard needs --reserve auto",
		"--reserve auto --guard start --guest pve:100":                             `invalid guard phase "start"`,
		"--reserve auto --guard pre-start --guest qemu:100":                        `invalid guest kind "qemu"`,
		"--reserve auto --guard pre-start --guest pve:100 --live":                  "--guard does not go with --diff, --write, --live",
		"--reserve auto --guard pre-start --guest pve:100 --format json":           "--guard does not go with",
		"--reserve auto --guard pre-start --guest pve:100 --sample 1m":             "--guard does not go with",
		"--reserve auto --guard pre-start --guest libvirt:web --guest-xml dom.xml": "--guest-xml takes - (stdin)",
		"--reserve auto --guard pre-start --guest pve:100 --guest-xml -":           "not a libvirt guest",
		"--reserve auto --guard post-stop --guest pve:100 --guard-strict":          "--guard-strict goes with --guard pre-start",
	} {
		o, err := Parse(strings.Fields(args))
		if err == nil {
			_, err = o.Mode()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}
