package meminfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// VMStatPath is the location of the vmstat file below the root directory.
const VMStatPath = "proc/vmstat"

// VMStat holds the reclaim counters of /proc/vmstat that show memory
// pressure. All are cumulative since boot. A counter the kernel does not
// print is 0 with its Has flag false.
type VMStat struct {
	// AllocStall counts direct-reclaim entries by allocating tasks: the sum
	// of allocstall_<zone> (4.11+: dma, dma32, normal, high, movable,
	// device), or the single "allocstall" of older kernels.
	AllocStall    uint64
	HasAllocStall bool

	// Pages scanned and reclaimed by direct reclaim and by kswapd:
	// pgscan_direct, pgscan_kswapd, pgsteal_direct and pgsteal_kswapd
	// (4.8+), or the sum of their per-zone forms (pgscan_direct_normal, …)
	// on older kernels. pgscan_direct_throttle is a different counter and
	// is not included.
	PgscanDirect, PgscanKswapd, PgstealDirect, PgstealKswapd             uint64
	HasPgscanDirect, HasPgscanKswapd, HasPgstealDirect, HasPgstealKswapd bool

	// OOMKill counts OOM-killer kills (oom_kill, 4.13+).
	OOMKill    uint64
	HasOOMKill bool

	// WorkingsetRefaultFile counts refaults of evicted page-cache pages:
	// workingset_refault_file (5.9+), or workingset_refault of 4.x–5.8,
	// which counted file pages only.
	WorkingsetRefaultFile    uint64
	HasWorkingsetRefaultFile bool
}

// Counter families that are summed over zones, in slot order.
const (
	famAllocStall = iota
	famPgscanDirect
	famPgscanKswapd
	famPgstealDirect
	famPgstealKswapd
	numFamilies
)

var familyNames = [numFamilies]string{"allocstall", "pgscan_direct", "pgscan_kswapd", "pgsteal_direct", "pgsteal_kswapd"}

// zones are the zone suffixes of per-zone counters (mm/vmstat.c TEXTS_FOR_ZONES).
var zones = [...]string{"dma", "dma32", "normal", "high", "movable", "device"}

// slotSingle is the slot of a family's zone-less counter, after the zones.
const slotSingle = len(zones)

// Slots of the counters that belong to no family.
const (
	slotOOMKill = iota
	slotRefaultFile
	slotRefaultOld
)

// vmstatSlot maps a counter name to its family and zone slot, or to one of
// the other slots for family fam == -1.
type vmstatSlot struct{ fam, slot int }

var vmstatNames = func() map[string]vmstatSlot {
	m := map[string]vmstatSlot{
		"oom_kill":                {-1, slotOOMKill},
		"workingset_refault_file": {-1, slotRefaultFile},
		"workingset_refault":      {-1, slotRefaultOld},
	}
	for f, name := range familyNames {
		m[name] = vmstatSlot{f, slotSingle}
		for z, zone := range zones {
			m[name+"_"+zone] = vmstatSlot{f, z}
		}
	}
	return m
}()

// maxVMStat bounds how much of /proc/vmstat is read: a real one is under
// 8 KiB.
const maxVMStat = 1 << 20

// ParseVMStat reads a /proc/vmstat file: one "name value" pair per line,
// value an unsigned decimal integer. Blank lines are skipped; any other line
// that is not two such fields gives a *LineError with its line number.
func ParseVMStat(r io.Reader) (VMStat, error) {
	// Per family: the zone counters and the zone-less one, and which were seen.
	var vals [numFamilies][len(zones) + 1]uint64
	var seen [numFamilies][len(zones) + 1]bool
	var oom, refaultFile, refaultOld uint64
	var hasOOM, hasRefaultFile, hasRefaultOld bool

	data, err := io.ReadAll(io.LimitReader(r, maxVMStat+1))
	if err != nil {
		return VMStat{}, fmt.Errorf("reading vmstat: %w", err)
	}
	if len(data) > maxVMStat {
		return VMStat{}, fmt.Errorf("larger than %d bytes: not a vmstat file", maxVMStat)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return VMStat{}, lineError(n, line, `want "name value"`)
		}
		val, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return VMStat{}, lineError(n, line, "value is not an unsigned decimal 64-bit integer")
		}
		s, ok := vmstatNames[f[0]]
		if !ok {
			continue
		}
		switch {
		case s.fam >= 0:
			vals[s.fam][s.slot], seen[s.fam][s.slot] = val, true
		case s.slot == slotOOMKill:
			oom, hasOOM = val, true
		case s.slot == slotRefaultFile:
			refaultFile, hasRefaultFile = val, true
		case s.slot == slotRefaultOld:
			refaultOld, hasRefaultOld = val, true
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return VMStat{}, &LineError{Line: n + 1, Text: "…", Reason: "longer than 64 KiB", Err: err}
		}
		return VMStat{}, fmt.Errorf("reading vmstat: %w", err)
	}

	var sums [numFamilies]uint64
	var has [numFamilies]bool
	for f := range numFamilies {
		if seen[f][slotSingle] {
			sums[f], has[f] = vals[f][slotSingle], true
			continue
		}
		for z := range zones {
			if !seen[f][z] {
				continue
			}
			has[f] = true
			if sums[f] > ^uint64(0)-vals[f][z] {
				return VMStat{}, fmt.Errorf("%s_* counters add up to more than 64 bits", familyNames[f])
			}
			sums[f] += vals[f][z]
		}
	}
	v := VMStat{
		AllocStall: sums[famAllocStall], HasAllocStall: has[famAllocStall],
		PgscanDirect: sums[famPgscanDirect], HasPgscanDirect: has[famPgscanDirect],
		PgscanKswapd: sums[famPgscanKswapd], HasPgscanKswapd: has[famPgscanKswapd],
		PgstealDirect: sums[famPgstealDirect], HasPgstealDirect: has[famPgstealDirect],
		PgstealKswapd: sums[famPgstealKswapd], HasPgstealKswapd: has[famPgstealKswapd],
		OOMKill: oom, HasOOMKill: hasOOM,
	}
	switch {
	case hasRefaultFile:
		v.WorkingsetRefaultFile, v.HasWorkingsetRefaultFile = refaultFile, true
	case hasRefaultOld:
		v.WorkingsetRefaultFile, v.HasWorkingsetRefaultFile = refaultOld, true
	}
	return v, nil
}

// ReadVMStat reads <root>/proc/vmstat. Errors name the file, and the line
// for a malformed one.
func ReadVMStat(fsys *rootfs.FS) (VMStat, error) {
	path := fsys.Path(VMStatPath)
	f, err := fsys.OpenRegular(VMStatPath)
	if err != nil {
		return VMStat{}, err
	}
	defer f.Close()
	v, err := ParseVMStat(f)
	if err != nil {
		return VMStat{}, withPath(path, err)
	}
	return v, nil
}
