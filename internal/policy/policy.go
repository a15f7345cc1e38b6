// Package policy turns a host's memory picture and the workload's declared
// reservation into a zfs_arc_max the module will honour, with every term of
// the arithmetic and its source. It is pure: callers read the files, policy
// only computes.
//
// The sum it solves is
//
//	MemTotal = hugepages + reservation + host + free floor + ARC overrun + rounding + zfs_arc_max
//
// hugepages are taken out of MemTotal at boot and never given to the ARC or
// the workload; the reservation is what the workload needs (declared with
// --reserve, or observed); the host is the kernel and system services,
// measured (hostterms.go: host in use, the per-CPU lists, process excess);
// the free floor is where kswapd wakes and reclaims from the ARC, the
// kernel's low watermarks lifted by the watermark boost that
// vm.watermark_boost_factor allows (freeFloor;
// arc_sys_free without /proc/zoneinfo); the ARC overrun is how far the ARC
// may run above the cap (arcOverrun). What remains is rounded down to a
// human granularity and becomes the cap.
package policy

import (
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/pressure"
	"github.com/arcadvise/arcadvise/internal/size"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// Reservation is memory the workload needs, declared by the user.
type Reservation struct {
	Label  string `json:"label,omitempty"`
	Bytes  uint64 `json:"bytes"`
	Source string `json:"source"`
}

// Input is everything the policy looks at. The caller reads the host (or a
// snapshot of it) and the configuration.
type Input struct {
	// Host is the reading the advice is for: the latest of a window.
	Host *host.Snapshot
	// Reservations declared by the user; when empty, the observed non-ARC
	// memory in use stands in for them and is labelled as such.
	Reservations []Reservation
	// Window, when set, is the sampled window that ended with Host: the
	// observed reservation is its peak of non-ARC memory instead of the
	// instant value.
	Window *pressure.Window
	// HostBase overrides the default host base when HostBaseSet.
	HostBase    uint64
	HostBaseSet bool
	// ArcMax is the admin's own cap (--arc-max); 0 asks for a recommendation.
	ArcMax uint64
	// Force: the admin takes a cap the module would ignore anyway; a
	// refused recommendation then still carries its modprobe.d line.
	Force bool
	// BootArcMin is the zfs_arc_min that will apply at next boot when known
	// from the configuration (0: not configured there).
	BootArcMin    uint64
	BootArcMinSet bool
}

// Term is one addend of the sum, with its source.
type Term struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	Source string `json:"source"`
}

// Status of a recommendation.
type Status string

const (
	StatusOK            Status = "ok"
	StatusOvercommitted Status = "overcommitted" // no room for a cap: no number
	StatusRefused       Status = "refused"       // the admin's cap breaks a rule of the module, which would ignore it
)

// Mode says whose cap a recommendation carries.
type Mode string

const (
	ModeRecommended Mode = "recommended"       // arcadvise computed the cap
	ModeAdmin       Mode = "admin (--arc-max)" // the admin's own cap, checked
)

// Recommendation is the policy's answer.
type Recommendation struct {
	Status          Status        `json:"status"`
	Mode            Mode          `json:"mode"`
	ArcMax          uint64        `json:"zfs_arc_max_bytes"`
	ArcMin          uint64        `json:"zfs_arc_min_bytes,omitempty"` // non-zero when zfs_arc_min must move
	ArcMinReason    string        `json:"zfs_arc_min_reason,omitempty"`
	Reserve         uint64        `json:"reserve_bytes"`
	ReserveObserved bool          `json:"reserve_observed"`
	Reservations    []Reservation `json:"reservations"`
	Terms           []Term        `json:"terms"`
	HostBase        uint64        `json:"host_base_bytes"`  // the host term: measured, --host-base or the guess
	FreeFloor       uint64        `json:"free_floor_bytes"` // where kswapd wakes: low watermarks + 1.5 × high (arc_sys_free without zoneinfo)
	Overrun         uint64        `json:"arc_overrun_bytes"`
	MemTotal        uint64        `json:"mem_total_bytes"`
	AllMem          uint64        `json:"allmem_bytes"`
	AllMemSource    string        `json:"allmem_source"`
	Budget          int64         `json:"budget_bytes"`
	Granularity     uint64        `json:"granularity_bytes,omitempty"`
	ShortBytes      uint64        `json:"short_bytes,omitempty"`
	CMinMet         uint64        `json:"c_min_met_bytes"`
	DefaultCMax     uint64        `json:"default_c_max_bytes"`
	Violations      []Violation   `json:"violations,omitempty"`
	Forced          bool          `json:"forced,omitempty"`
	// Unsupported: the version is older than the model covers (0.6.4 and
	// earlier): the numbers are for reference, --write and --live refuse.
	Unsupported bool `json:"unsupported,omitempty"`
	// LoadOrder: on 0.7.2–0.8.6 this cap is ignored at module load (it is
	// not above the default c_min, which the module checks before it
	// applies zfs_arc_min); see the note.
	LoadOrder bool `json:"load_order_risk,omitempty"`
	// WindowExcess is how far a sampled window's non-ARC peak exceeded the
	// declared reservation plus the host term; the cap leaves room for it.
	WindowExcess uint64   `json:"window_excess_bytes,omitempty"`
	Notes        []string `json:"notes,omitempty"`
}

// ModprobeLine is the options line for /etc/modprobe.d, in plain decimal
// bytes: the module reads no suffixes, and a leading 0 would be octal
// (kstrtoull base 0, zfs-internals.md §2.4).
func (r *Recommendation) ModprobeLine() string {
	if r.Status != StatusOK && !(r.Status == StatusRefused && r.Forced) {
		return ""
	}
	s := "options zfs"
	if r.ArcMin != 0 {
		s += fmt.Sprintf(" zfs_arc_min=%d", r.ArcMin)
	}
	return s + fmt.Sprintf(" zfs_arc_max=%d", r.ArcMax)
}

// Input errors.
var (
	ErrNoMemTotal      = errors.New("MemTotal is missing or zero")
	ErrReserveTooLarge = errors.New("the reservation is at or above MemTotal")
	ErrArcMissing      = errors.New("arcstats lacks a field the advice needs")
	ErrBadInput        = errors.New("input out of range")
)

// DefaultHostBase is the memory left to the kernel and system services:
// 1 GiB for services plus 1/32 of MemTotal for kernel memory that grows
// with the host (page tables, slab, per-CPU areas, network buffers), the
// same fraction the module uses for its default c_min.
func DefaultHostBase(memTotal uint64) uint64 { return size.GiB + memTotal/32 }

// Granularity is the step the cap is rounded down to: the largest power of
// two not above 1/64 of the budget, within [1 MiB, 1 GiB]. Rounding down
// to it loses less than 1/64 of the budget, so less than 1.6% of the cap
// (the frontier lane measured 1/8, the old step, costing up to 8% of the
// cap on a 6 GiB host), and the cap is still a whole number of MiB. The
// module takes any value from 64 MiB (MIN_ARC_MAX), above c_min and below
// all memory, with no alignment (arc_tuning_update, module/zfs/arc.c at
// zfs-2.3.2); the budget is at least MinUsefulArc, so the step is at least
// 4 MiB and the cap far above 64 MiB.
func Granularity(budget uint64) uint64 {
	g := budget / 64
	if g < size.MiB {
		return size.MiB
	}
	g = 1 << (bits.Len64(g) - 1)
	return min(g, size.GiB)
}

// Recommend computes the cap.
func Recommend(in Input) (Recommendation, error) {
	var r Recommendation
	h := in.Host
	if h == nil || h.Arc == nil {
		return r, fmt.Errorf("%w: no arcstats", ErrArcMissing)
	}
	mem := h.Mem
	if mem.MemTotal == 0 {
		return r, ErrNoMemTotal
	}
	v := h.Module.Version
	r.MemTotal = mem.MemTotal
	r.Mode = ModeRecommended
	if in.ArcMax != 0 {
		r.Mode = ModeAdmin
	}

	allmem, ok := h.Arc.Uint("memory_all_bytes")
	allmemSrc := "arcstats memory_all_bytes"
	if !ok || allmem == 0 {
		allmem, allmemSrc = mem.MemTotal, "/proc/meminfo MemTotal (this version has no memory_all_bytes)"
	}
	r.AllMem, r.AllMemSource = allmem, allmemSrc
	r.DefaultCMax = DefaultCMax(v, allmem)
	if !h.Arc.Has("size") {
		return r, fmt.Errorf("%w: size", ErrArcMissing)
	}
	runtimeCMin, ok := h.Arc.Uint("c_min")
	if !ok {
		return r, fmt.Errorf("%w: c_min", ErrArcMissing)
	}

	// Reservation: declared, or observed.
	if len(in.Reservations) > 0 {
		r.Reservations = in.Reservations
		for _, res := range in.Reservations {
			if r.Reserve+res.Bytes < r.Reserve {
				return r, fmt.Errorf("%w: the reservations add up to more than 2^64 bytes", ErrReserveTooLarge)
			}
			r.Reserve += res.Bytes
		}
	} else {
		r.ReserveObserved = true
		src := "observed, not declared: " + host.NonARCFormula + " (/proc/meminfo, arcstats size)"
		obs := h.NonARCUsed()
		if w := in.Window; w != nil {
			obs = w.PeakNonARC
			src = fmt.Sprintf("observed, not declared: peak over the sampled window (%s) of %s",
				w.PeakNonARCAt.UTC().Format(time.RFC3339), host.NonARCFormula)
		}
		r.Reserve = obs
		r.Reservations = []Reservation{{Label: "observed", Bytes: obs, Source: src}}
		r.Notes = append(r.Notes, "no workload declared: the reservation is the non-ARC memory observed in use, not declared; it already includes today's kernel and services, so the host base below is headroom on top. Declare the workload with --reserve for a deliberate answer.")
	}
	if r.Reserve >= mem.MemTotal {
		return r, fmt.Errorf("%w: %s reserved of %s", ErrReserveTooLarge, size.Format(r.Reserve), size.Format(mem.MemTotal))
	}

	hostT := hostTerms(h, in, r.ReserveObserved, r.Reserve)
	var base uint64
	for _, t := range hostT {
		base += uint64(t.Bytes)
	}
	if in.HostBaseSet && base >= mem.MemTotal {
		return r, fmt.Errorf("%w: --host-base %s is at or above MemTotal %s", ErrBadInput, size.Format(base), size.Format(mem.MemTotal))
	}
	r.HostBase = base
	sysFree, ok := h.Arc.Uint("arc_sys_free")
	sysFreeSrc := "arc_sys_free (arcstats): the ARC shrinks below it"
	if !ok {
		sysFree = DefaultSysFree(v, allmem)
		sysFreeSrc = sysFreeEstimate(v)
	}
	floor, floorSrc := freeFloor(h, sysFree, sysFreeSrc)
	r.FreeFloor = floor

	r.Terms = append(r.Terms, Term{"hugepages", int64(mem.Hugepages), "/proc/meminfo " + cmp.Or(mem.HugepagesSource, "(none)")})
	for _, res := range r.Reservations {
		name := "reservation"
		if res.Label != "" {
			name += " " + res.Label
		}
		r.Terms = append(r.Terms, Term{name, int64(res.Bytes), res.Source})
	}
	r.Terms = append(r.Terms, hostT...)
	r.Terms = append(r.Terms, Term{termFreeFloor, int64(floor), floorSrc})
	if floor >= mem.MemTotal {
		return r, fmt.Errorf("%w: the free floor %d (arc_sys_free or the kernel watermarks) is at or above MemTotal %d", ErrBadInput, floor, mem.MemTotal)
	}
	// Each term is below MemTotal (≤ 2^63 on any real host), so the
	// budget's arithmetic cannot wrap.
	r.Budget = int64(mem.MemTotal) - int64(mem.Hugepages) - int64(r.Reserve) - int64(base) - int64(floor)
	// A window whose non-ARC peak went past the declared reservation and
	// the host base: the workload needs more than was declared, and the cap
	// leaves room for what it used.
	if w := in.Window; w != nil && !r.ReserveObserved && w.PeakNonARC > r.Reserve+base {
		r.WindowExcess = w.PeakNonARC - (r.Reserve + base)
		r.Terms = append(r.Terms, Term{"observed excess", int64(r.WindowExcess),
			fmt.Sprintf("the window's non-ARC peak %s (%s) exceeded the reservation plus the host",
				size.Format(w.PeakNonARC), w.PeakNonARCAt.UTC().Format(time.RFC3339))})
		r.Budget -= int64(r.WindowExcess)
	}
	// What the ARC holds above the cap (arcOverrun), for a cap of at most
	// what is left: an upper bound, by less than c/170 of the difference.
	if r.Budget > 0 {
		n, src := arcOverrun(h, uint64(r.Budget))
		r.Overrun = n
		r.Terms = append(r.Terms, Term{"ARC overrun", int64(n), src})
		r.Budget -= int64(n)
	}
	// The c_min the cap will meet: at next boot the configured zfs_arc_min
	// or the default, at runtime the live c_min.
	bootCMin := DefaultCMin(v, allmem)
	bootSrc := "default c_min"
	switch {
	case in.BootArcMinSet && in.BootArcMin != 0:
		bootCMin, bootSrc = in.BootArcMin, "configured zfs_arc_min"
	case !in.BootArcMinSet && h.Module.Param(zfsmod.ArcMin).Value != 0:
		bootCMin, bootSrc = h.Module.Param(zfsmod.ArcMin).Value, "zfs_arc_min module parameter"
	}
	r.CMinMet = max(bootCMin, runtimeCMin)

	if in.ArcMax != 0 {
		r.ArcMax = in.ArcMax
	} else {
		if r.Budget < int64(MinUsefulArc) {
			r.Status = StatusOvercommitted
			r.ShortBytes = uint64(int64(MinUsefulArc) - r.Budget)
			r.Notes = append(r.Notes, fmt.Sprintf("the host is short by %d bytes (%s): after the reservation, the host, the free floor and the ARC's overrun, %s is left for the ARC, less than the %s floor arcadvise will recommend. Reduce the reservation, add memory, or set a cap yourself with --arc-max.",
				r.ShortBytes, size.Format(r.ShortBytes), size.FormatSigned(r.Budget), size.Format(MinUsefulArc)))
			return r, nil
		}
		r.Granularity = Granularity(uint64(r.Budget))
		r.ArcMax = uint64(r.Budget) / r.Granularity * r.Granularity
		if r.ArcMax >= allmem { // only when allmem < MemTotal; never in practice
			r.ArcMax = (allmem - 1) / r.Granularity * r.Granularity
		}
		r.Terms = append(r.Terms, Term{"rounding", r.Budget - int64(r.ArcMax),
			fmt.Sprintf("the cap is rounded down to a multiple of %s", size.Format(r.Granularity))})
	}
	if in.ArcMax != 0 {
		r.Terms = append(r.Terms, Term{"unassigned", r.Budget - int64(r.ArcMax), "what the admin's cap leaves of the budget (negative: it eats into the terms above)"})
		if r.Budget < int64(r.ArcMax) {
			r.Notes = append(r.Notes, fmt.Sprintf("the cap exceeds the budget by %s: under load the workload and the ARC will compete for that memory.", size.FormatSigned(int64(r.ArcMax)-r.Budget)))
		}
	}
	r.Terms = append(r.Terms, Term{"zfs_arc_max", int64(r.ArcMax), string(r.Mode)})
	r.Status = StatusOK

	if r.ArcMax <= r.CMinMet && r.ArcMax >= MinArcMax {
		r.ArcMin = max(MinArcMin, r.ArcMax/2)
		r.ArcMinReason = fmt.Sprintf("the cap %s is not above the c_min it will meet (%s, the %s or the running c_min): the module ignores a zfs_arc_max ≤ c_min (arc_tuning_update), so zfs_arc_min goes down to MAX(cap/2, 32 MiB), the value the module itself picks from 2.1.1",
			size.Format(r.ArcMax), size.Format(r.CMinMet), bootSrc)
	}
	r.Violations = CheckArcMax(v, r.ArcMax, allmem, r.CMinMet, r.ArcMin)
	r.Notes = append(r.Notes, versionNotes(v, &r, allmem)...)
	if len(r.Violations) > 0 {
		r.Status, r.Forced = StatusRefused, in.Force
	}
	if r.ArcMax > r.DefaultCMax {
		r.Notes = append(r.Notes, fmt.Sprintf("the cap is above this version's default c_max (%s): the ARC may grow larger than it would without a setting.", size.Format(r.DefaultCMax)))
	}
	return r, nil
}

// sysFreeEstimate is the source of the free floor when arcstats has no
// arc_sys_free row. 0.6.3 and 0.6.4 have no arc_sys_free at all (it came
// with 11f552fa90 in 0.6.5; docs/advisories.md, rule d), so the value is
// arcadvise's estimate, the formula 0.6.5 later adopted, not anything the
// module defends; a later release always has the row, and without it the
// value is the release's default as arcadvise computes it.
func sysFreeEstimate(v zfsmod.Version) string {
	switch {
	case !v.Known() || !v.AtLeast(v0_6_5):
		return "arc_sys_free: arcadvise's estimate MAX(allmem/64, 512 KiB), the formula of 0.6.5; this version has no arc_sys_free (no arcstats row)"
	case !v.AtLeast(v2_0_0):
		return "arc_sys_free: no arcstats row; this version's default MAX(allmem/64, 512 KiB), as arcadvise computes it"
	}
	return "arc_sys_free: no arcstats row; this version's default (arc_set_sys_free), as arcadvise computes it"
}

// ExcessFinding says, for a window whose non-ARC peak went past the
// declared reservation and the host (the "observed excess" term, computed
// once, in Recommend), that the reservation is too small and by how much;
// "" otherwise. The advice shows it among the window's findings.
func (r *Recommendation) ExcessFinding(w *pressure.Window) string {
	if w == nil || r.WindowExcess == 0 {
		return ""
	}
	return fmt.Sprintf("the declared reservation is too small by %s (%d bytes): non-ARC memory peaked at %s at %s, above the reservation %s plus the host %s; the cap leaves room for what the workload used (the \"observed excess\" term)",
		size.Format(r.WindowExcess), r.WindowExcess, size.Format(w.PeakNonARC), w.PeakNonARCAt.UTC().Format(time.RFC3339), size.Format(r.Reserve), size.Format(r.HostBase))
}
