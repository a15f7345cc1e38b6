package meminfo

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// BoostFactorPath is vm.watermark_boost_factor below the root directory.
const BoostFactorPath = "proc/sys/vm/watermark_boost_factor"

// DefaultBoostFactor is vm.watermark_boost_factor's default, 15000: after an
// external fragmentation event the kernel lifts a zone's watermarks by up
// to high × factor / 10000 (1.5 × high) until kswapd has reclaimed the
// boost; 0 turns boosting off (Documentation/admin-guide/sysctl/vm.rst;
// boost_watermark() in mm/page_alloc.c, Linux 5.0 on).
const DefaultBoostFactor = 15000

// maxBoostFactor is the largest value the sysctl holds: an int that
// proc_dointvec_minmax bounds below by 0 only (kernel/sysctl.c, extra1 =
// SYSCTL_ZERO).
const maxBoostFactor = 1<<31 - 1

// ParseBoostFactor reads vm.watermark_boost_factor as the kernel prints it
// (proc_dointvec: one decimal number and a newline). Anything else on its
// line, a second line, a negative number or one beyond an int is an error
// (a *LineError); an empty file is an error too.
func ParseBoostFactor(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64), 4096)
	line := 0
	var v uint64
	for sc.Scan() {
		line++
		text := sc.Text()
		if line > 1 {
			if strings.TrimSpace(text) == "" {
				continue
			}
			return 0, lineError(line, text, "the sysctl holds one number, on one line")
		}
		t := strings.TrimSpace(text)
		n, err := strconv.ParseUint(t, 10, 64)
		if err != nil || n > maxBoostFactor {
			return 0, lineError(line, text, "want a decimal number from 0 to 2147483647")
		}
		v = n
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return 0, &LineError{Line: line + 1, Text: "…", Reason: "longer than 4096 bytes", Err: err}
		}
		return 0, err
	}
	if line == 0 {
		return 0, errors.New("empty: want the boost factor, a decimal number")
	}
	return v, nil
}

// ReadBoostFactor reads <root>/proc/sys/vm/watermark_boost_factor, confined
// to the root, at most 4 KiB. A missing file is returned as the rootfs
// error (errors.Is fs.ErrNotExist): snapshots taken before the lane
// recorded it, and kernels before 5.0, do not have it.
func ReadBoostFactor(fsys *rootfs.FS) (uint64, error) {
	data, err := fsys.ReadFile(BoostFactorPath, 4096)
	if err != nil {
		return 0, err
	}
	v, err := ParseBoostFactor(bytes.NewReader(data))
	if err != nil {
		return 0, withPath(fsys.Path(BoostFactorPath), err)
	}
	return v, nil
}

// MaxBoost is the most a watermark boost lifts the zones' watermarks at
// factor (vm.watermark_boost_factor): high × factor / 10000 as the kernel's
// mult_frac() computes it, without overflow or loss to the division
// (boost_watermark(), mm/page_alloc.c). The kernel bounds each zone's boost
// below by a pageblock and skips zones smaller than four pageblocks; summed
// over the zones, high × factor / 10000 is the figure.
func MaxBoost(high, factor uint64) uint64 {
	return high/10000*factor + high%10000*factor/10000
}
