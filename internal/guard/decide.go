package guard

import (
	"errors"
	"fmt"
	"strings"

	"github.com/arcadvise/arcadvise/internal/declared"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/size"
)

// Phase is when a hook runs the guard.
type Phase string

const (
	// PreStart: before the guest's memory is allocated (Proxmox VE
	// pre-start, libvirt prepare begin). A refusal there stops the start.
	PreStart Phase = "pre-start"
	// PostStop: after the guest released its memory (Proxmox VE
	// post-stop, libvirt release end).
	PostStop Phase = "post-stop"
)

// ParsePhase reads --guard.
func ParsePhase(s string) (Phase, error) {
	switch Phase(s) {
	case PreStart, PostStop:
		return Phase(s), nil
	}
	return "", fmt.Errorf("invalid guard phase %q: want pre-start or post-stop", s)
}

// PVE is the kind --guest takes for a Proxmox VE guest whose type the
// guard finds itself (the hookscript's call): pve-qemu when
// /etc/pve/qemu-server/<vmid>.conf exists, pve-lxc when /etc/pve/lxc/<vmid>.conf does.
const PVE declared.Kind = "pve"

// Guest names the guest a hook runs for: --guest KIND:ID.
type Guest struct {
	Kind declared.Kind
	ID   string
}

func (g Guest) String() string { return string(g.Kind) + ":" + g.ID }

// ParseGuest reads --guest KIND:ID: KIND is pve-qemu, pve-lxc, libvirt (as
// in reservation.sources[]) or pve; ID a VMID or CTID (digits), or a
// libvirt domain name.
func ParseGuest(s string) (Guest, error) {
	kind, id, ok := strings.Cut(s, ":")
	if !ok || id == "" {
		return Guest{}, fmt.Errorf("invalid guest %q: want KIND:ID, e.g. pve-qemu:100 or libvirt:web", s)
	}
	g := Guest{Kind: declared.Kind(kind), ID: id}
	switch g.Kind {
	case declared.PVEQemu, declared.PVELXC, PVE:
		if len(id) > 9 || strings.Trim(id, "0123456789") != "" || id[0] == '0' {
			return Guest{}, fmt.Errorf("invalid guest %q: a Proxmox VE VMID is a number from 100 to 999999999", s)
		}
	case declared.Libvirt:
		// virDomainDefParseXML refuses a name with '/' (it names files)
		// and libvirt allows at most 1024 bytes in practice (file names).
		if strings.ContainsAny(id, "/\x00\n") || len(id) > 1024 {
			return Guest{}, fmt.Errorf("invalid guest %q: not a libvirt domain name", s)
		}
	default:
		return Guest{}, fmt.Errorf("invalid guest kind %q: want pve-qemu, pve-lxc, pve or libvirt", kind)
	}
	return g, nil
}

// Decision is what the guard decided.
type Decision string

// The decisions, as the log line and the metrics' decision label say them.
const (
	Fits          Decision = "fits"          // pre-start: the cap in effect leaves the guest its room
	Lowered       Decision = "lowered"       // pre-start: zfs_arc_max was lowered live to make room
	Overcommitted Decision = "overcommitted" // pre-start: no cap leaves room; warned, the start allowed
	Refused       Decision = "refused"       // pre-start, strict: no cap leaves room; the start refused
	Raised        Decision = "raised"        // post-stop: zfs_arc_max raised back
	Unchanged     Decision = "unchanged"     // post-stop: nothing to raise (or raising is off)
	Error         Decision = "error"         // the guard could not decide or act
	Timeout       Decision = "timeout"       // the budget ran out before the first write
)

// Decisions lists every decision, in the order the metrics show them.
var Decisions = []Decision{Fits, Lowered, Overcommitted, Refused, Raised, Unchanged, Error, Timeout}

// Input is what Decide looks at.
type Input struct {
	Phase  Phase
	Strict bool
	Raise  bool
	// Rec is the recommendation for the reservation with the guest counted
	// in full (pre-start), or without it (post-stop).
	Rec *policy.Recommendation
	// CMax is arcstats c_max: the cap in effect.
	CMax uint64
	// Ceiling is the c_max the next boot will set: the effective
	// zfs_arc_max of modprobe.d or the kernel command line, or the
	// module's default when none is set; CeilingSource says which.
	Ceiling       uint64
	CeilingSource string
}

// Plan is the decision and, when the cap moves, where to.
type Plan struct {
	Decision Decision
	// Target is the zfs_arc_max to apply live (Lowered, Raised); 0
	// otherwise.
	Target uint64
	// Why says what the decision rests on, for the log line.
	Why string
}

// ErrRefusedCap is returned when the recommendation is one the module
// would ignore: the guard will not write it.
var ErrRefusedCap = errors.New("the recommended cap breaks a rule of the module")

// Decide decides, with no I/O. At pre-start the cap in effect (c_max)
// must not exceed the recommendation for the reservation with the guest:
// when it does, the cap is lowered to the recommendation; when no cap
// leaves room (policy.StatusOvercommitted: less than the smallest useful
// ARC is left), the start is refused in strict mode and allowed with a
// warning otherwise. At post-stop, with Raise, the cap goes up to the
// recommendation without the guest, never above the next boot's value
// (Ceiling), and never down.
func Decide(in Input) (Plan, error) {
	rec := in.Rec
	switch {
	case rec == nil:
		return Plan{}, errors.New("no recommendation")
	case rec.Status == policy.StatusRefused:
		return Plan{}, fmt.Errorf("%w: zfs_arc_max=%d: %s", ErrRefusedCap, rec.ArcMax, rec.Violations[0].Rule)
	}
	switch in.Phase {
	case PreStart:
		if rec.Status == policy.StatusOvercommitted {
			why := fmt.Sprintf("the reservation %s leaves %s for the ARC, %s short of the smallest useful ARC (%s)",
				size.Format(rec.Reserve), size.FormatSigned(rec.Budget), size.Format(rec.ShortBytes), size.Format(policy.MinUsefulArc))
			if in.Strict {
				return Plan{Decision: Refused, Why: why}, nil
			}
			return Plan{Decision: Overcommitted, Why: why}, nil
		}
		if in.CMax <= rec.ArcMax {
			return Plan{Decision: Fits, Why: fmt.Sprintf("c_max %s is within the %s the reservation %s leaves the ARC",
				size.Format(in.CMax), size.Format(rec.ArcMax), size.Format(rec.Reserve))}, nil
		}
		return Plan{Decision: Lowered, Target: rec.ArcMax, Why: fmt.Sprintf("c_max %s is above the %s the reservation %s leaves the ARC",
			size.Format(in.CMax), size.Format(rec.ArcMax), size.Format(rec.Reserve))}, nil
	case PostStop:
		if !in.Raise {
			return Plan{Decision: Unchanged, Why: "raising the cap back is off (ARCADVISE_GUARD_RAISE=no)"}, nil
		}
		if rec.Status == policy.StatusOvercommitted {
			return Plan{Decision: Unchanged, Why: fmt.Sprintf("even without the guest the reservation %s leaves no room for the ARC", size.Format(rec.Reserve))}, nil
		}
		target, src := rec.ArcMax, fmt.Sprintf("the %s the reservation %s leaves the ARC", size.Format(rec.ArcMax), size.Format(rec.Reserve))
		if in.Ceiling != 0 && in.Ceiling < target {
			target, src = in.Ceiling, fmt.Sprintf("the next boot's %s (%s)", size.Format(in.Ceiling), in.CeilingSource)
		}
		if target <= in.CMax {
			return Plan{Decision: Unchanged, Why: fmt.Sprintf("c_max %s is already at or above %s", size.Format(in.CMax), src)}, nil
		}
		return Plan{Decision: Raised, Target: target, Why: fmt.Sprintf("c_max %s is below %s", size.Format(in.CMax), src)}, nil
	}
	return Plan{}, fmt.Errorf("invalid phase %q", in.Phase)
}

// Allowed reports whether the guest may start after decision d: every
// decision but Refused, and in strict mode neither Error nor Timeout (the
// guard could not show that the guest fits). At post-stop there is
// nothing to refuse.
func Allowed(phase Phase, d Decision, strict bool) bool {
	if phase != PreStart {
		return true
	}
	switch d {
	case Refused:
		return false
	case Error, Timeout:
		return !strict
	}
	return true
}
