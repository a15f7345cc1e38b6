// Package host takes one reading of everything arcadvise looks at under a
// root directory: arcstats, /proc/meminfo, memory PSI, /proc/vmstat,
// /proc/zoneinfo and /sys/module/zfs (the counters, read again at every
// --sample tick), and, once per run, the system around them: the kernel
// release, vm.watermark_boost_factor, os-release and the mount table
// (internal/osinfo), whether this
// is a container, the modprobe.d configuration and the crash-capture
// settings. The root is "/" on a live host, or a snapshot directory holding
// the same paths, opened once (internal/rootfs) and handed down.
//
// Each file has one reader, in the package that owns its format:
// arcstats.Read, meminfo.Read, meminfo.ReadPSI, meminfo.ReadWatermarks,
// meminfo.ReadVMStat, meminfo.ReadBoostFactor, zfsmod.Read,
// osinfo.ReadDistro, osinfo.ReadMounts, container.Detect, nextboot.Sources,
// modprobe.Load, crashcap.Read, initramfs.Find and initramfs.Read. Nothing
// else opens these files.
//
// The initramfs images are listed once per run (a directory listing and a
// stat each) and read only when ReadInitramfs is called: reading one
// decompresses it (0.2 s for Debian's zstd image, 0.6 s gzip, 3.7 s xz),
// which a one-shot report does not wait for.
package host

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/container"
	"github.com/arcadvise/arcadvise/internal/crashcap"
	"github.com/arcadvise/arcadvise/internal/initramfs"
	"github.com/arcadvise/arcadvise/internal/meminfo"
	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/nextboot"
	"github.com/arcadvise/arcadvise/internal/osinfo"
	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// Snapshot is one reading of the host.
type Snapshot struct {
	Root   string     // the root's host path, for messages
	FS     *rootfs.FS // the root, for what reads or writes under it later
	At     time.Time  // when it was taken (a replay's recorded time)
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
	// System is what is read once per run; every tick of a window shares
	// it.
	*System
	// Warnings are oddities that do not stop the advice, such as an
	// arcstats header whose row count disagrees with the rows.
	Warnings []string
}

// System is what a run reads once: it does not change while a window is
// watched, or not in a way the advice follows.
type System struct {
	// Kernel is the kernel release (proc/sys/kernel/osrelease), "" when
	// the root does not have it.
	Kernel string
	// BoostFactor is vm.watermark_boost_factor
	// (proc/sys/vm/watermark_boost_factor) when HasBoostFactor; without
	// the file (snapshots from before the lane recorded it, kernels before
	// 5.0) HasBoostFactor is false and the policy takes the kernel's
	// default (policy.freeFloor).
	BoostFactor    uint64
	HasBoostFactor bool
	Distro         osinfo.Distro
	Mounts         osinfo.Mounts
	// Container is set when arcadvise runs inside one: arcstats is the
	// host's ARC, /proc/meminfo may be the container's, and nothing may
	// be written or applied.
	Container container.Where
	// Modprobe is the zfs module configuration for the next load
	// (modprobe.d and the kernel command line).
	Modprobe *modprobe.Config
	// CrashCapture says whether the next panic would leave a trace.
	CrashCapture crashcap.Report
	// NextBoot are the next boot's kernel command line sources
	// (internal/nextboot): /etc/default/grub, /etc/kernel/cmdline, the
	// boot loader entries. Their zfs.* words are in Modprobe's settings,
	// after /proc/cmdline's.
	NextBoot []nextboot.Source
	// ProxmoxBootTool says proxmox-boot-tool keeps the boot in sync on
	// the ESPs (/etc/kernel/proxmox-boot-uuids): a command line change
	// reaches them only with proxmox-boot-tool refresh.
	ProxmoxBootTool bool
	// Initramfs are the initramfs images under /boot, the running
	// kernel's first (initramfs.Find), each read only by ReadInitramfs.
	Initramfs []InitramfsImage
	// InitramfsRead says ReadInitramfs has read them.
	InitramfsRead bool
	// DracutZFS is where zfs's dracut module is installed (its
	// module-setup.sh), "" when it is not.
	DracutZFS string
	// Warnings are the system's oddities (a container).
	Warnings []string
}

// Read takes a snapshot of the host under the root, stamped with the
// current time: the counters, then the system around them.
func Read(fsys *rootfs.FS) (*Snapshot, error) {
	s, err := ReadCounters(fsys)
	if err != nil {
		return nil, err
	}
	sys, err := ReadSystem(fsys)
	if err != nil {
		return nil, err
	}
	s.Attach(sys)
	return s, nil
}

// ReadCounters reads what changes from one --sample tick to the next.
// arcstats comes first: if the zfs module is not loaded nothing else
// matters. The snapshot has no System until Attach.
func ReadCounters(fsys *rootfs.FS) (*Snapshot, error) {
	s := &Snapshot{Root: fsys.Dir(), FS: fsys, At: time.Now()}
	var err error
	if s.Arc, err = arcstats.Read(fsys); err != nil {
		return nil, err
	}
	if err := s.Arc.CheckRows(); err != nil {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s: %v", arcstats.Path, err))
	}
	if s.Mem, err = meminfo.Read(fsys); err != nil {
		return nil, err
	}
	if s.PSI, s.HasPSI, err = meminfo.ReadPSI(fsys); err != nil {
		return nil, err
	}
	// proc/vmstat is optional: snapshots from before the lane recorded it
	// do not have it.
	switch s.VM, err = meminfo.ReadVMStat(fsys); {
	case err == nil:
		s.HasVM = true
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	// proc/zoneinfo is optional for the same reason.
	switch s.Zones, err = meminfo.ReadWatermarks(fsys, s.Mem.MemTotal); {
	case err == nil:
		s.HasZones = true
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if s.Module, err = zfsmod.Read(fsys); err != nil {
		return nil, err
	}
	if err := s.checkSizes(); err != nil {
		return nil, err
	}
	if w := s.memoryMismatch(); w != "" {
		s.Warnings = append(s.Warnings, w)
	}
	return s, nil
}

// ReadSystem reads what a run reads once.
func ReadSystem(fsys *rootfs.FS) (*System, error) {
	sys := &System{}
	var err error
	if sys.Kernel, err = readKernelRelease(fsys); err != nil {
		return nil, err
	}
	switch sys.BoostFactor, err = meminfo.ReadBoostFactor(fsys); {
	case err == nil:
		sys.HasBoostFactor = true
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if sys.Distro, err = osinfo.ReadDistro(fsys); err != nil {
		return nil, err
	}
	if sys.Mounts, err = osinfo.ReadMounts(fsys); err != nil {
		return nil, err
	}
	if sys.Container, err = container.Detect(fsys, sys.Mounts); err != nil {
		return nil, err
	}
	if c := sys.Container; c.In() {
		sys.Warnings = append(sys.Warnings, fmt.Sprintf("running inside a container (%s, from %s): arcstats is the host's ARC while /proc/meminfo may be the container's, so the advice is for reference only; --write and --live refuse. Run arcadvise on the host itself.", c.Kind, c.Evidence))
	}
	if sys.NextBoot, err = nextboot.Sources(fsys); err != nil {
		return nil, err
	}
	next := make([]modprobe.Cmdline, len(sys.NextBoot))
	for i, src := range sys.NextBoot {
		next[i] = modprobe.Cmdline{Path: src.Path, Line: src.Line, Text: src.Cmdline}
	}
	if sys.Modprobe, err = modprobe.Load(fsys, next...); err != nil {
		return nil, err
	}
	sys.ProxmoxBootTool = nextboot.ProxmoxBootTool(fsys)
	if sys.CrashCapture, err = crashcap.Read(fsys, sys.Distro, sys.Mounts, sys.Modprobe, sys.ProxmoxBootTool); err != nil {
		return nil, err
	}
	cands, err := initramfs.Find(fsys, sys.Kernel)
	if err != nil {
		return nil, err
	}
	for _, c := range cands {
		im := InitramfsImage{Candidate: c}
		if fi, err := fsys.Stat(c.Path); err == nil {
			im.ModTime, im.Size = fi.ModTime(), fi.Size()
		}
		sys.Initramfs = append(sys.Initramfs, im)
	}
	if _, sys.DracutZFS, err = initramfs.DracutZFS(fsys); err != nil {
		return nil, err
	}
	return sys, nil
}

// InitramfsImage is an initramfs image found under /boot.
type InitramfsImage struct {
	initramfs.Candidate
	ModTime time.Time // when its builder wrote it
	Size    int64
	// Image is the image as read (ReadInitramfs): nil before, or when
	// Unreadable says why it could not be opened.
	Image      *initramfs.Image
	Unreadable string
}

// ReadInitramfs reads every image listed, through the one root handle.
// An image the run may not open (permission denied: a systemd unit
// without CAP_DAC_READ_SEARCH, a root-only /boot) is noted in Unreadable;
// any other error (a truncated image, a decompression bomb, an unsafe
// member name) is returned, naming the image.
func (sys *System) ReadInitramfs(fsys *rootfs.FS) error {
	if sys.InitramfsRead {
		return nil
	}
	for i := range sys.Initramfs {
		im := &sys.Initramfs[i]
		img, err := initramfs.Read(fsys, im.Candidate)
		switch {
		case err == nil:
			im.Image = img
		case errors.Is(err, fs.ErrPermission):
			im.Unreadable = err.Error()
		default:
			return err
		}
	}
	sys.InitramfsRead = true
	return nil
}

// Attach gives the snapshot the system read once, and its warnings.
func (s *Snapshot) Attach(sys *System) {
	s.System = sys
	s.Warnings = append(append([]string(nil), sys.Warnings...), s.Warnings...)
}

// maxPhysical is the most memory any machine can address: 2^52 bytes,
// x86-64's physical address width with 5-level paging (4 PiB).
const maxPhysical = 1 << 52

// checkSizes refuses an ARC that arcstats says is larger than any machine:
// no real reading has one (inside a container the ARC may exceed
// MemTotal, so that is no bound), and the arithmetic must not take it.
func (s *Snapshot) checkSizes() error {
	for _, f := range []string{"size", "c", "c_min", "c_max"} {
		if v, ok := s.Arc.Uint(f); ok && v > maxPhysical {
			return fmt.Errorf("%s:%d: %s is %d bytes, more than any machine can address (4 PiB): not a reading of a real ARC", s.FS.Path(arcstats.Path), s.Arc.Line(f), f, v)
		}
	}
	return nil
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

// NonARCUsed is the memory held outside the ARC, as the ARC itself counts
// free memory: MemTotal − MemFree − Inactive(file) − ARC size − hugepages,
// clamped at zero. From 2.0 the module's free memory is MemFree +
// Inactive(file) (arc_free_memory, module/os/linux/zfs/arc_os.c), and it
// shrinks the ARC when that falls below arc_sys_free; cold page cache is
// memory the ARC does not fight for. The ARC's buffers are in no meminfo
// line but MemFree (openzfs/zfs#10255, zfs-internals.md §4.1), but its
// small objects live in the kernel's slab and so in Slab as well (ARCSlab),
// and hugepages are not free either. This is the one definition: the
// measured host term, the observed reservation, a sampled window's peak
// and the what-if all use it.
func (s *Snapshot) NonARCUsed() uint64 {
	m := &s.Mem
	used := m.MemTotal
	for _, b := range []uint64{m.MemFree, m.InactiveFile, s.ArcSize(), m.Hugepages} {
		if b >= used {
			return 0 // in uint64, clamped: no conversion can wrap
		}
		used -= b
	}
	return used
}

// NonARCFormula is NonARCUsed's formula, for sources.
const NonARCFormula = "MemTotal − MemFree − Inactive(file) − ARC size − hugepages"
