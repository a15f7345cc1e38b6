package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/arcadvise/arcadvise/internal/apply"
	"github.com/arcadvise/arcadvise/internal/cli"
	"github.com/arcadvise/arcadvise/internal/declared"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/report"
)

// readDeclared reads what the host declares, for --reserve auto: the
// guests and protected cgroups (declared.Read) and the huge page pools
// (declared.ReadHugePages), once, under the root the snapshot's system was
// read from (a replay's last snapshot), after the host is read and before
// anything is planned or written, and counts them by the --guests rule. It
// returns the reservation auto adds (nil when nothing is declared and no
// size was given: the policy then observes, and --diff, --write, --live
// and --check refuse) and what the report shows. Without --reserve auto it reads
// nothing and returns nils.
//
// It is read here, not in host.ReadSystem: only --reserve auto asks for
// it, so a malformed guest config never fails a run that did not; and the
// files have one reader, package declared, as every other file has its
// own.
func readDeclared(snap *host.Snapshot, o *cli.Options, mode apply.Mode) (*policy.Reservation, *report.Declared, error) {
	if !o.Reserve.Auto() {
		return nil, nil, nil
	}
	gs, err := declared.Read(snap.FS)
	if err != nil {
		return nil, nil, declaredErr(err)
	}
	hp, err := declared.ReadHugePages(snap.FS, snap.Mem.Hugepagesize)
	if err != nil {
		return nil, nil, declaredErr(err)
	}
	gs = declared.Count(gs, o.Guests, declared.Host{MemTotal: snap.Mem.MemTotal, HugePages: hp})
	d := &report.Declared{Rule: o.Guests, Guests: gs, Typed: o.Reserve.Typed()}
	if len(gs) == 0 && !d.Typed {
		// --diff is refused wherever the write would be (the Ansible
		// role's check mode runs it).
		if mode.Acts() || mode == apply.Check || mode == apply.Diff {
			return nil, nil, cli.Usage("declare the workload with --reserve SIZE (it may be given beside auto), or take what is in use now with --reserve observed",
				"--reserve auto: the host declares no workload under %s: no Proxmox VE guest, libvirt domain or cgroup memory.min", snap.Root)
		}
		return nil, d, nil
	}
	return &policy.Reservation{Label: cli.AutoLabel, Bytes: declared.Sum(gs), Source: autoSource(gs, o.Guests)}, d, nil
}

// autoSource is the reservation term's source: "--reserve auto (--guests
// boot): 3 of 5 declarations (pve-qemu 2, cgroup 1); see Reservation".
func autoSource(gs []declared.Guest, rule declared.Rule) string {
	counted := map[declared.Kind]int{}
	n := 0
	for _, g := range gs {
		if g.Counted {
			counted[g.Source]++
			n++
		}
	}
	var parts []string
	for _, k := range report.Kinds {
		if counted[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, counted[k]))
		}
	}
	s := fmt.Sprintf("--reserve auto (--guests %s): %d of %d declarations", rule, n, len(gs))
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s + "; see Reservation"
}

// declaredErr is an error in what the host declares: the file (and line)
// is in the message; the hint says what to do about it.
func declaredErr(err error) error {
	if errors.Is(err, declared.ErrTooMany) {
		return inputErr(err, "") // its message says: give the reservation with --reserve
	}
	return inputErr(err, "--reserve auto reads the host's own declarations and refuses one it cannot read whole: fix or remove that file, or give the reservation with --reserve SIZE instead")
}
