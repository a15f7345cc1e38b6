// Package host takes one reading of everything arcadvise looks at under a
// root directory: arcstats, /proc/meminfo, memory PSI, /proc/vmstat and
// /sys/module/zfs. The root is "/" on a live host, or a snapshot directory
// holding the same paths. A --sample tick is the same reading taken again.
//
// Each file has one reader, in the package that owns its format:
// arcstats.Read, meminfo.Read, meminfo.ReadPSI, meminfo.ReadWatermarks,
// meminfo.ReadVMStat and zfsmod.Read. Nothing else opens these files.
package host

import (
	"errors"
	"fmt"
	"github.com/arcadvise/arcadvise/internal/container"
	"io/fs"
	"time"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/meminfo"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// Snapshot is one reading of the host.
type Snapshot struct {
	Root   string    // the directory it was read from
	At     time.Time // when it was taken (a replay's recorded time)
	Arc    *arcstats.Stats
	Mem    meminfo.Info
	PSI    meminfo.PSI
	HasPSI bool // the kernel has PSI (4.20+, not booted with psi=0)
	VM     meminfo.VMStat
	HasVM  bool // proc/vmstat exists (absent from older snapshots)
	// Zones are the kernel's reclaim watermarks from /proc/zoneinfo;
	// HasZones is false when the file is absent (older snapshots).
	Zones    meminfo.Watermarks
	HasZones bool
	Module   zfsmod.State
	// Kernel is the kernel release (proc/sys/kernel/osrelease), "" when
	// the root does not have it.
	Kernel string
	// Container is set when arcadvise runs inside one: arcstats is the
	// host's ARC, /proc/meminfo may be the container's, and nothing may
	// be written or applied.
	Container container.Where
	// Warnings are oddities that do not stop the advice, such as an
	// arcstats header whose row count disagrees with the rows.
	Warnings []string
}

// Read takes a snapshot of the host under root, stamped with the current
// time. arcstats comes first: if the zfs module is not loaded nothing else
// matters.
func Read(root string) (*Snapshot, error) {
	s := &Snapshot{Root: root, At: time.Now()}
	var err error
	if s.Arc, err = arcstats.Read(root); err != nil {
		return nil, err
	}
	if err := s.Arc.CheckRows(); err != nil {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s: %v", arcstats.Path, err))
	}
	if s.Mem, err = meminfo.Read(root); err != nil {
		return nil, err
	}
	if s.PSI, s.HasPSI, err = meminfo.ReadPSI(root); err != nil {
		return nil, err
	}
	// proc/vmstat is optional: snapshots from before the lane recorded it
	// do not have it.
	switch s.VM, err = meminfo.ReadVMStat(root); {
	case err == nil:
		s.HasVM = true
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	// proc/zoneinfo is optional for the same reason.
	switch s.Zones, err = meminfo.ReadWatermarks(root, s.Mem.MemTotal); {
	case err == nil:
		s.HasZones = true
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if s.Module, err = zfsmod.Read(root); err != nil {
		return nil, err
	}
	if s.Kernel, err = readKernelRelease(root); err != nil {
		return nil, err
	}
	if s.Container, err = container.Detect(root); err != nil {
		return nil, err
	}
	if c := s.Container; c.In() {
		s.Warnings = append(s.Warnings, fmt.Sprintf("running inside a container (%s, from %s): arcstats is the host's ARC while /proc/meminfo may be the container's, so the advice is for reference only; --write and --live refuse. Run arcadvise on the host itself.", c.Kind, c.Evidence))
	}
	if w := s.memoryMismatch(); w != "" {
		s.Warnings = append(s.Warnings, w)
	}
	return s, nil
}

// memoryMismatch warns when /proc/meminfo and the module disagree on the
// host's memory by more than 1/16. Inside a container, lxcfs shows the
// container's limit as MemTotal while arcstats shows the host's ARC
// (riemann-tools skips the ARC in containers for this reason); after memory
// hot-plug, 2.1+ resets c_min and c_max to defaults for the new size
// (arc_hotplug_callback, zfs-internals.md §2.7).
func (s *Snapshot) memoryMismatch() string {
	all, ok := s.Arc.Uint("memory_all_bytes")
	mem := s.Mem.MemTotal
	if !ok || all == 0 || mem == 0 {
		return ""
	}
	diff := max(all, mem) - min(all, mem)
	if diff <= max(all, mem)/16 {
		return ""
	}
	return fmt.Sprintf("MemTotal (%d) and the module's memory_all_bytes (%d) disagree: inside a container (lxcfs) MemTotal is the container's limit while arcstats shows the host's ARC; after memory hot-plug the module may hold stale limits. The advice uses MemTotal; run arcadvise on the host itself.", mem, all)
}

// ArcSize is the ARC's size from arcstats (0 when the row is missing).
func (s *Snapshot) ArcSize() uint64 {
	v, _ := s.Arc.Uint("size")
	return v
}

// CStartsAtMax reports whether the module sets c = c_max at load, as
// 0.6.x–0.8.x do; from 2.0 c starts at c_min (commit 17ca30185a). Without a
// version, the 2.0 field abd_chunk_waste_size tells.
func (s *Snapshot) CStartsAtMax() bool {
	if v := s.Module.Version; v.Known() {
		return !v.AtLeast(zfsmod.V(2, 0, 0))
	}
	return !s.Arc.Has("abd_chunk_waste_size")
}
