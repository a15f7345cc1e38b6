package report

import (
	"bufio"
	"fmt"
	"path"
	"strings"

	"github.com/arcadvise/arcadvise/internal/declared"
	"github.com/arcadvise/arcadvise/internal/size"
)

// Declared is what --reserve auto read: the host's declarations, each
// counted or not by the rule (declared.Count).
type Declared struct {
	Rule   declared.Rule
	Guests []declared.Guest
	// Typed: sizes were given beside auto (--reserve auto --reserve 4G).
	Typed bool
}

// Reservation is the JSON "reservation": what --reserve auto counted,
// declaration by declaration. Its counted_bytes is the "auto" entry of
// recommendation.reservations[], and recommendation.reserve_bytes adds the
// typed values to it.
type Reservation struct {
	// Guests is the --guests rule: running, boot or all.
	Guests       string `json:"guests"`
	CountedBytes uint64 `json:"counted_bytes"`
	// Sources are the declarations, in the order of declared.Read: by
	// source (pve-qemu, pve-lxc, libvirt, cgroup), then ID.
	Sources []Source `json:"sources"`
}

// Source is one declaration: a VM, a container or a protected cgroup.
type Source struct {
	Source        string `json:"source"`
	ID            string `json:"id"`
	Name          string `json:"name"`
	Path          string `json:"path"`
	DeclaredBytes uint64 `json:"declared_bytes"`
	// Unlimited: a cgroup whose memory.min is "max" (DeclaredBytes 0).
	Unlimited    bool   `json:"unlimited"`
	CountedBytes uint64 `json:"counted_bytes"`
	Counted      bool   `json:"counted"`
	Why          string `json:"why"`
	Running      bool   `json:"running"`
	OnBoot       bool   `json:"onboot"`
	Template     bool   `json:"template"`
	// Pinned: PCI passthrough or locked memory, which cannot balloon.
	Pinned bool `json:"pinned"`
	// BalloonMinBytes is shown, never counted; HugepagesBytes is the part
	// on huge pages; both 0 when there is none.
	BalloonMinBytes uint64 `json:"balloon_min_bytes"`
	HugepagesBytes  uint64 `json:"hugepages_bytes"`
	// Cgroup is the cgroup v2 path the declaration owns, "" if unknown.
	Cgroup string `json:"cgroup"`
	// AncestorMin names the ancestor cgroup whose lower memory.min
	// (AncestorMinBytes) bounds what the kernel protects of this one;
	// omitted when none does.
	AncestorMin      string  `json:"ancestor_min,omitempty"`
	AncestorMinBytes *uint64 `json:"ancestor_min_bytes,omitempty"`
}

func newReservation(d *Declared) *Reservation {
	r := &Reservation{Guests: d.Rule.String(), CountedBytes: declared.Sum(d.Guests), Sources: []Source{}}
	for _, g := range d.Guests {
		var huge uint64
		for _, u := range g.Hugepages {
			huge += u.Bytes
		}
		r.Sources = append(r.Sources, Source{Source: string(g.Source), ID: g.ID, Name: g.Name, Path: g.Path,
			DeclaredBytes: g.DeclaredBytes, Unlimited: g.Unlimited, CountedBytes: g.CountedBytes, Counted: g.Counted, Why: g.Why,
			Running: g.Running, OnBoot: g.OnBoot, Template: g.Template, Pinned: g.Pinned,
			BalloonMinBytes: g.BalloonMinBytes, HugepagesBytes: huge, Cgroup: g.Cgroup,
			AncestorMin: g.AncestorMin})
		if g.AncestorMin != "" {
			b := g.AncestorMinBytes
			r.Sources[len(r.Sources)-1].AncestorMinBytes = &b
		}
	}
	return r
}

// NothingDeclared is the warning of a --reserve auto that found nothing:
// without a size beside it, the reservation is the observed one.
func NothingDeclared(typed bool) string {
	s := "--reserve auto found nothing declared (no Proxmox VE guest, libvirt domain or cgroup memory.min)"
	if typed {
		return s + ": only the sizes given are reserved"
	}
	return s + ": the reservation is observed, and --diff, --write, --live and --check refuse it"
}

// Kinds are the sources of declared.Read, in its order: the labels of
// arcadvise_reservation_bytes and arcadvise_guests.
var Kinds = []declared.Kind{declared.PVEQemu, declared.PVELXC, declared.Libvirt, declared.Cgroup}

// summary is "3 of 5 declarations count, 5.25 GiB: pve-qemu 2 of 3, ...".
func (r *Reservation) summary() string {
	if len(r.Sources) == 0 {
		return "No declaration found: no Proxmox VE guest, libvirt domain or cgroup memory.min under the root."
	}
	found, counted := map[string]int{}, map[string]int{}
	n := 0
	for _, s := range r.Sources {
		found[s.Source]++
		if s.Counted {
			counted[s.Source]++
			n++
		}
	}
	var parts []string
	for _, k := range Kinds {
		if f := found[string(k)]; f > 0 {
			parts = append(parts, fmt.Sprintf("%s %d of %d", k, counted[string(k)], f))
		}
	}
	return fmt.Sprintf("%d of %d declarations count, %s: %s.", n, len(r.Sources), size.Format(r.CountedBytes), strings.Join(parts, ", "))
}

// reservationText writes the Reservation section: the rule, the sources,
// and one row per declaration: declared, counted ("-" when it does not
// count), then the guest (source, ID, name), its file and why; a cgroup
// by its directory under /sys/fs/cgroup, whose memory.min the why names.
func reservationText(w *bufio.Writer, tb *tables, width int, r *Reservation) error {
	fmt.Fprintf(w, "\nReservation: what the host declares (--reserve auto, --guests %s)\n", r.Guests)
	paragraph(w, width, "  ", 2, r.summary())
	if len(r.Sources) == 0 {
		return nil
	}
	rows := make([][]string, 0, len(r.Sources))
	for _, s := range r.Sources {
		counted := "-"
		if s.Counted {
			counted = size.Format(s.CountedBytes)
		}
		who := s.Source + " " + s.ID
		if s.Name != "" && s.Name != s.ID {
			who += " " + fmt.Sprintf("%q", s.Name)
		}
		who += ", " + s.Path
		if s.Source == string(declared.Cgroup) {
			// The cgroup's directory names it and its file (the why
			// says memory.min), in one word that fits 80 columns.
			who = s.Source + " " + path.Dir(s.Path)
		}
		decl := size.Format(s.DeclaredBytes)
		if s.Unlimited {
			decl = "max"
		}
		rows = append(rows, []string{decl, counted, who + ": " + s.Why})
	}
	return tb.table(w, width, []string{"declared", "counted", "guest, file: why"}, rows, right, right, wrap)
}
