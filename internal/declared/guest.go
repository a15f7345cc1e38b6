package declared

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind names the source a Guest was read from. The strings go into JSON.
type Kind string

// The sources, in the order Read returns them.
const (
	PVEQemu Kind = "pve-qemu" // /etc/pve/qemu-server/<vmid>.conf
	PVELXC  Kind = "pve-lxc"  // /etc/pve/lxc/<ctid>.conf
	Libvirt Kind = "libvirt"  // /etc/libvirt/qemu/*.xml, /run/libvirt/qemu/*.xml
	Cgroup  Kind = "cgroup"   // memory.min of an active cgroup v2
)

// rank orders the sources as Read returns them.
func (k Kind) rank() int {
	switch k {
	case PVEQemu:
		return 0
	case PVELXC:
		return 1
	case Libvirt:
		return 2
	case Cgroup:
		return 3
	}
	return 4
}

// QEMU reports whether guests of this source are QEMU processes (PVE
// qemu-server VMs, libvirt's QEMU domains), which hold QEMUOverhead beside
// the guest's RAM.
func (k Kind) QEMU() bool { return k == PVEQemu || k == Libvirt }

// HugePageUse is the part of a guest's memory backed by huge pages of one
// size.
type HugePageUse struct {
	// PageSize is the huge page size in bytes; 0 is the host's default
	// size (Hugepagesize in /proc/meminfo), which libvirt uses for a
	// <hugepages/> without <page>.
	PageSize uint64
	// Any is PVE's "hugepages: any": 1 GiB pages when the host has a
	// 1 GiB pool and the memory is a multiple of 1 GiB, else 2 MiB
	// (src/PVE/QemuServer/Memory.pm:563-596 hugepages_size); Count picks
	// the size from the host's pools, as qemu-server does at start.
	Any   bool
	Bytes uint64
}

// Guest is one declaration of memory the host keeps for a workload: a VM
// or container config, or a cgroup's memory.min.
type Guest struct {
	Source Kind
	// ID is the guest's key within its source: the VMID or CTID, the
	// libvirt domain name, the cgroup path under /sys/fs/cgroup.
	ID   string
	Name string
	// Path is the file as the admin knows it, e.g.
	// /etc/pve/qemu-server/100.conf (not under --root).
	Path string
	// UUID is libvirt's <uuid> (the key libvirt itself matches a running
	// and a persistent definition by); "" elsewhere.
	UUID string

	// DeclaredBytes is the configured maximum memory: PVE memory (MiB),
	// libvirt <memory> (or its NUMA cells), a cgroup's memory.min.
	DeclaredBytes uint64
	// Unlimited is a cgroup whose memory.min is "max": all memory is
	// protected. Count counts MemTotal for it.
	Unlimited bool
	// BalloonMinBytes is shown, never used: PVE's balloon (the
	// auto-ballooning minimum), libvirt's <currentMemory> when below
	// <memory>. 0: none.
	BalloonMinBytes uint64
	// MaxMemoryBytes is libvirt's <maxMemory>, the hotplug ceiling: shown,
	// not counted (the guest gets more only when a device is added).
	MaxMemoryBytes uint64
	// HardLimitBytes is libvirt's <memtune><hard_limit>: the most the
	// whole QEMU process may hold (its cgroup's memory.max). 0: none.
	HardLimitBytes uint64
	// PmemBytes is the size of libvirt nvdimm and virtio-pmem devices,
	// which <memory> includes but which are host files, not RAM.
	PmemBytes uint64

	// Hugepages lists the guest's memory per huge page size; nil when it
	// uses normal pages. KeepHugepages is PVE's keephugepages (the pages
	// stay allocated after the VM stops).
	Hugepages     []HugePageUse
	KeepHugepages bool
	// Pinned is memory that cannot balloon or be reclaimed: PCI passthrough
	// (PVE hostpciN, libvirt <hostdev>) or libvirt <memoryBacking><locked/>.
	Pinned bool

	Running, OnBoot, Template bool
	// Starting and Stopping are set by arcadvise's guard (--guard), not
	// read from a file: the guest a hook is about to start counts in full
	// whatever the rule says, its huge pages as a stopped guest's (they are
	// allocated at its start); the guest that has just stopped counts 0.
	Starting, Stopping bool
	// Cgroup is the cgroup v2 path (under /sys/fs/cgroup, no leading
	// slash) the guest owns, for de-duplication; "" if unknown.
	Cgroup string
	// AncestorMin is, for a cgroup entry, the ancestor (below the root)
	// with the lowest memory.min when that is below the cgroup's own, and
	// AncestorMinBytes its memory.min: the kernel protects a cgroup no
	// further than its ancestors are protected ("Effective min boundary is
	// limited by memory.min values of all ancestor cgroups",
	// Documentation/admin-guide/cgroup-v2.rst; mm/memcontrol.c
	// effective_protection). "" when no ancestor limits it.
	AncestorMin      string
	AncestorMinBytes uint64

	// Set by Count. Counted: the rule takes this declaration and nothing
	// else counts it already; CountedBytes may still be 0 (a running
	// guest's huge pages are the hugepages term's). Why says which rule
	// and what was left out, for the report's line.
	CountedBytes uint64
	Counted      bool
	Why          string
}

// Where is the guest's source file and ID, for messages.
func (g Guest) Where() string { return string(g.Source) + " " + g.ID + " (" + g.Path + ")" }

// Rule says which guests count.
type Rule int

const (
	// Boot (the default) counts the running guests and those that start at
	// boot (PVE onboot, a libvirt autostart link).
	Boot Rule = iota
	// Running counts only the running guests.
	Running
	// All counts every guest but templates.
	All
)

// ParseRule reads the --guests flag: running, boot or all.
func ParseRule(s string) (Rule, error) {
	switch s {
	case "boot":
		return Boot, nil
	case "running":
		return Running, nil
	case "all":
		return All, nil
	}
	return Boot, fmt.Errorf("invalid guest rule %q: want running, boot or all", s)
}

func (r Rule) String() string {
	switch r {
	case Boot:
		return "boot"
	case Running:
		return "running"
	case All:
		return "all"
	}
	return "Rule(" + strconv.Itoa(int(r)) + ")"
}

// Bounds on what is read. Bad input beyond them is an error, never a hang
// or unbounded memory.
const (
	// MaxBytes is the largest memory size a declaration may state: 1 PiB.
	// No host comes near it (x86-64's 4-level paging maps at most 64 TiB of
	// physical memory; the largest servers sold hold tens of TiB), so a
	// larger value is a typo or garbage, and with at most MaxEntries
	// guests per source the sum of all of them stays below 2^64.
	MaxBytes uint64 = 1 << 50
	// MaxEntries bounds the entries of a config directory: more is an
	// error, not a slow run. A PVE node or libvirt host with thousands of
	// guests is far past any real one.
	MaxEntries = 4096
	// maxPVEConfig is pmxcfs's own limit on a file in /etc/pve:
	// MEMDB_MAX_FILE_SIZE, 1 MiB (proxmox/pve-cluster
	// src/pmxcfs/memdb.h:30 @7091d92e5949).
	maxPVEConfig = 1 << 20
	// maxXML bounds a libvirt XML file. libvirt's own status files are
	// tens of KiB (the largest in its test suite is 19 KiB); 4 MiB leaves
	// room for domains with hundreds of devices.
	maxXML = 4 << 20
	// MaxLibvirtXML is maxXML, for a domain XML read from elsewhere (the
	// guard's --guest-xml -, what libvirt gives its hook on stdin).
	MaxLibvirtXML = maxXML
	// maxXMLDepth bounds element nesting. A domain's deepest elements are
	// about 8 levels down (domstatus adds one).
	maxXMLDepth = 64
	// maxCgroups and maxCgroupDepth bound the walk of /sys/fs/cgroup.
	maxCgroups     = 16384
	maxCgroupDepth = 32
	// maxSmall bounds a one-line kernel file (memory.min, a pid file).
	maxSmall = 4096
	// maxCmdline bounds /proc/PID/cmdline (the kernel shows at most the
	// argument area, a few pages for a QEMU).
	maxCmdline = 1 << 20
)

// ErrTooMany is wrapped when a directory or the cgroup tree has more
// entries than arcadvise reads.
var ErrTooMany = errors.New("too many entries")

// lineError is an error about one line of a file: "PATH:LINE: message".
func lineError(path string, line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
}

// Sum adds the counted bytes of gs, saturating at the largest uint64
// instead of wrapping.
func Sum(gs []Guest) uint64 {
	var s uint64
	for _, g := range gs {
		if !g.Counted {
			continue
		}
		if s > math.MaxUint64-g.CountedBytes {
			return math.MaxUint64
		}
		s += g.CountedBytes
	}
	return s
}

// lessID orders IDs: numbers by value (PVE VMIDs), then the rest by bytes.
func lessID(a, b string) bool {
	na, ea := strconv.ParseUint(a, 10, 64)
	nb, eb := strconv.ParseUint(b, 10, 64)
	switch {
	case ea == nil && eb == nil:
		return na < nb
	case ea == nil:
		return true
	case eb == nil:
		return false
	}
	return strings.Compare(a, b) < 0
}
