package declared

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/size"
)

// Count decides, with no I/O, which declarations count toward the
// reservation and how much, and returns a copy of gs with Counted,
// CountedBytes and Why set. The order of gs matters only for huge pages
// (see below); Read's order is stable.
//
// Guests (every source but cgroup):
//
//   - a template never counts: it is never started;
//   - a guest the guard marks Starting counts whatever the rule (it is
//     about to run), its huge pages as a stopped guest's; one it marks
//     Stopping never counts (it has just stopped);
//   - rule Boot (the default) counts the running guests and those that
//     start at boot (PVE onboot, a libvirt autostart link); Running only
//     the running ones; All every guest;
//   - a counted guest counts its full configured memory, DeclaredBytes: the
//     ARC must leave room for it at its maximum; a VM (PVE qemu-server,
//     libvirt) also counts its QEMU process's own memory (QEMUOverhead),
//     which never lives in huge pages. A balloon minimum is
//     shown, not used; libvirt's nvdimm and virtio-pmem devices are host
//     files, not RAM, and are left out; a libvirt <memtune><hard_limit>
//     below the memory and QEMU's own caps a guest without huge pages (the
//     kernel holds the whole QEMU to it);
//   - a guest backed by huge pages holds them outside the memory the ARC
//     and the workload share: a running one's pages are in HugePages_Total
//     and the hugepages term already holds them, so it counts its QEMU's
//     own memory only. A
//     stopped one that counts by the rule counts 0 only when the host's
//     pool of its page size has enough free pages (free, not reserved) to
//     cover it, else in full: qemu-server takes free pages first and
//     allocates the rest at start (hugepages_allocate,
//     src/PVE/QemuServer/Memory.pm:703-737), and libvirt's QEMU takes them
//     from the pool. Several stopped guests share the free pool in the
//     order of gs, first come first served: a guest either fits whole in
//     what is left (and takes it) or counts in full (and takes nothing),
//     which never counts a page twice. The pool is the host's, not one
//     NUMA node's. A PVE VM with keephugepages left its pages in the pool
//     when it stopped, so they are among the free ones.
//
// Cgroups: an active cgroup's memory.min (MemTotal for "max", and never
// more than MemTotal) counts once in its subtree. The kernel limits a
// child's effective protection by its ancestors' and shares a parent's
// protection among the children when they ask for more
// (Documentation/admin-guide/cgroup-v2.rst, "memory.min" and "Reclaim
// Protection"), and systemd distributes a slice's MemoryMin= to its
// children, the rest being shared by them all (systemd.resource-control(5),
// MemoryMin=). So what a subtree protects is the larger of its own
// memory.min and what is counted below it, and each cgroup counts only
// what its memory.min adds to what is counted below it: a protected slice
// around protected services counts the difference, never the sum. A
// protection below an unprotected parent is counted, as the admin
// declared it, though the kernel honours it only when the ancestors are
// protected too. What is counted below a cgroup includes the guests whose
// own cgroup lies under it, by what they count. A cgroup inside a guest's
// own cgroup (qemu.slice/<vmid>.scope, lxc/<ctid>, libvirt's
// machine.slice scope) never counts: the guest does.
func Count(gs []Guest, rule Rule, host Host) []Guest {
	out := slices.Clone(gs)
	avail := map[uint64]uint64{}
	for _, p := range host.HugePages.Pools {
		avail[p.PageSize] = p.Available()
	}
	for i := range out {
		g := &out[i]
		g.Counted, g.CountedBytes, g.Why = false, 0, ""
		if g.Source != Cgroup {
			countGuest(g, rule, host.HugePages, avail)
		}
	}
	countCgroups(out, host.MemTotal)
	return out
}

// selected applies the rule.
func selected(g *Guest, rule Rule) (bool, string) {
	switch {
	case g.Template:
		return false, "template: never started"
	case g.Starting:
		return true, "starting (arcadvise --guard pre-start counts it in full)"
	case g.Stopping:
		return false, "stopped (arcadvise --guard post-stop leaves it out)"
	case g.Running:
		return true, "running"
	case rule == Running:
		return false, "stopped (--guests running counts running guests only)"
	case g.OnBoot:
		return true, "stopped, starts at boot (" + bootWhy(g) + ")"
	case rule == All:
		return true, "stopped (--guests all)"
	}
	return false, "stopped, does not start at boot"
}

func bootWhy(g *Guest) string {
	if g.Source == Libvirt {
		return "autostart"
	}
	return "onboot: 1"
}

func countGuest(g *Guest, rule Rule, hp HugePages, avail map[uint64]uint64) {
	ok, why := selected(g, rule)
	notes := []string{why}
	defer func() { g.Why = strings.Join(notes, "; ") }()
	if !ok {
		return
	}
	g.Counted = true
	ram := g.DeclaredBytes - min(g.PmemBytes, g.DeclaredBytes)
	if g.PmemBytes > 0 {
		notes = append(notes, size.Format(g.PmemBytes)+" of nvdimm/virtio-pmem is host files, not RAM")
	}
	var own uint64 // the QEMU process's own memory, in normal pages
	if g.Source.QEMU() {
		own = QEMUOverhead(ram)
		notes = append(notes, "QEMU's own "+size.Format(own)+" (64 MiB + RAM/512)")
	}
	if len(g.Hugepages) == 0 {
		total := ram + own
		if g.HardLimitBytes > 0 && g.HardLimitBytes < total {
			total = g.HardLimitBytes
			notes = append(notes, "capped by memtune hard_limit "+size.Format(g.HardLimitBytes))
		}
		g.CountedBytes = total
		if g.BalloonMinBytes > 0 {
			notes = append(notes, "balloon minimum "+size.Format(g.BalloonMinBytes)+" shown, not used")
		}
		return
	}
	g.CountedBytes = own
	for _, u := range g.Hugepages {
		sz := pageSize(u, hp)
		name := "huge"
		if sz > 0 {
			name = size.Format(sz)
		}
		if g.Running && !g.Starting {
			notes = append(notes, fmt.Sprintf("%s on %s pages, in HugePages_Total: the hugepages term holds it",
				size.Format(u.Bytes), name))
			continue
		}
		need := uint64(0)
		if sz > 0 {
			need = (u.Bytes + sz - 1) / sz
		}
		switch left, ok := avail[sz]; {
		case sz == 0 || !ok:
			notes = append(notes, fmt.Sprintf("%s on %s pages, of which the host has no pool: counted",
				size.Format(u.Bytes), name))
		case left >= need:
			avail[sz] = left - need
			notes = append(notes, fmt.Sprintf("%s on %s pages: %d free pages of the pool cover it",
				size.Format(u.Bytes), name, need))
			continue
		default:
			notes = append(notes, fmt.Sprintf("%s on %s pages: the pool has %d free pages, it needs %d, "+
				"allocated at start: counted", size.Format(u.Bytes), name, left, need))
		}
		g.CountedBytes += u.Bytes
	}
}

// QEMUOverhead is the memory a VM's QEMU process holds beside the guest's
// RAM from its start: 64 MiB for QEMU's libraries and structures and RAM/512
// for the page tables that map the guest's memory. It is oVirt's estimate of
// the overhead QEMU imposes at once, the one its scheduler checks against a
// host's free memory before it starts a VM (getStaticOverheadInMb, x86, in
// oVirt/ovirt-engine backend/manager/modules/bll/src/main/java/org/ovirt/
// engine/core/bll/utils/VmOverheadCalculatorImpl.java; hasPhysMemoryToRunVmGroup
// in SlaValidator.java). What oVirt calls possible overhead, allocated later
// if at all (video memory, 8 MiB per vCPU and per I/O thread), is not counted.
func QEMUOverhead(ram uint64) uint64 { return 64*size.MiB + ram/512 }

// pageSize is the page size a guest's huge pages use on this host; 0 when
// unknown.
func pageSize(u HugePageUse, hp HugePages) uint64 {
	switch {
	case u.Any:
		// Memory.pm:575-583: 1 GiB when supported and the size fits.
		if _, ok := hp.Pool(size.GiB); ok && u.Bytes%size.GiB == 0 {
			return size.GiB
		}
		if _, ok := hp.Pool(2 * size.MiB); ok {
			return 2 * size.MiB
		}
		return 0
	case u.PageSize == 0:
		return hp.Default
	}
	return u.PageSize
}

// countCgroups sets the cgroup entries of out (see Count).
func countCgroups(out []Guest, memTotal uint64) {
	owner := map[string]int{} // a guest's cgroup → its index
	for i, g := range out {
		if g.Source != Cgroup && g.Cgroup != "" {
			owner[g.Cgroup] = i
		}
	}
	active := map[string]int{} // an active cgroup entry's path → its index
	for i := range out {
		g := &out[i]
		if g.Source != Cgroup {
			continue
		}
		if o, ok := ownerOf(g.Cgroup, owner); ok {
			g.Why = "inside the cgroup of " + out[o].Where() + ", which counts it"
			continue
		}
		active[g.Cgroup] = i
	}
	// below[p] is what is counted under the active cgroup p, by its
	// nearest active ancestor; names lists who.
	below := map[string]uint64{}
	names := map[string][]string{}
	add := func(p string, v uint64, who string) {
		if a, ok := nearestActive(p, active); ok {
			below[a] = satAdd(below[a], v)
			names[a] = append(names[a], who)
		}
	}
	for _, g := range out {
		if g.Source != Cgroup && g.Cgroup != "" && g.Counted {
			add(g.Cgroup, g.CountedBytes, string(g.Source)+" "+g.ID)
		}
	}
	order := make([]string, 0, len(active))
	for p := range active {
		order = append(order, p)
	}
	// Deepest first, so that a cgroup's children are done before it.
	slices.SortFunc(order, func(a, b string) int {
		if d := strings.Count(b, "/") - strings.Count(a, "/"); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for _, p := range order {
		g := &out[active[p]]
		own := g.DeclaredBytes
		what := "memory.min " + size.Format(own)
		if g.Unlimited {
			own, what = memTotal, "memory.min max (all memory, MemTotal "+size.Format(memTotal)+")"
		} else if memTotal > 0 && own > memTotal {
			own, what = memTotal, what+", more than MemTotal: "+size.Format(memTotal)
		}
		b := below[p]
		covered := max(own, b)
		switch {
		case b == 0:
			g.Counted, g.CountedBytes = true, own
			g.Why = "active cgroup, " + what
		case own > b:
			g.Counted, g.CountedBytes = true, own-b
			g.Why = fmt.Sprintf("active cgroup, %s less the %s counted below it (%s)", what, size.Format(b), list(names[p]))
		default:
			g.Why = fmt.Sprintf("active cgroup, %s: within the %s counted below it (%s)", what, size.Format(b), list(names[p]))
		}
		if g.AncestorMin != "" {
			g.Why += fmt.Sprintf("; the kernel protects at most %s of it: its ancestor %s has memory.min %s (a cgroup is protected no further than its ancestors are; MemoryMin= on %s too makes it hold)",
				size.Format(g.AncestorMinBytes), g.AncestorMin, size.Format(g.AncestorMinBytes), path.Base(g.AncestorMin))
		}
		add(parentPath(p), covered, "cgroup "+p)
	}
}

// ownerOf finds the guest whose cgroup is p or an ancestor of p.
func ownerOf(p string, owner map[string]int) (int, bool) {
	for q := p; q != ""; q = parentPath(q) {
		if i, ok := owner[q]; ok {
			return i, true
		}
	}
	return 0, false
}

// nearestActive finds p or its nearest ancestor among the active cgroups.
func nearestActive(p string, active map[string]int) (string, bool) {
	for q := p; q != ""; q = parentPath(q) {
		if _, ok := active[q]; ok {
			return q, true
		}
	}
	return "", false
}

func parentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

func satAdd(a, b uint64) uint64 {
	if a > ^uint64(0)-b {
		return ^uint64(0)
	}
	return a + b
}

// list names up to three items and how many more.
func list(s []string) string {
	slices.Sort(s)
	if len(s) <= 3 {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:3], ", ") + " and " + strconv.Itoa(len(s)-3) + " more"
}
