package meminfo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// PSIPath is the location of the memory pressure file below the root.
const PSIPath = "proc/pressure/memory"

// PSI is memory pressure stall information (Linux 4.20+). The averages are
// percentages of wall time over 10, 60 and 300 seconds; the totals are
// cumulative stall times in microseconds. "Some" is time in which at least
// one task stalled on memory, "full" time in which all non-idle tasks did.
type PSI struct {
	SomeAvg10, SomeAvg60, SomeAvg300 float64
	SomeTotal                        uint64 // µs
	FullAvg10, FullAvg60, FullAvg300 float64
	FullTotal                        uint64 // µs
	HasFull                          bool   // the file has a "full" line
}

// ReadPSI reads <root>/proc/pressure/memory, confined to the root as Read
// is, and parses it with ParsePSI. It returns ok=false and no error when
// the kernel has no PSI: the file is absent (kernel before 4.20 or built
// without CONFIG_PSI) or reading it fails with EOPNOTSUPP (PSI disabled
// with psi=0). Errors name the file, and the line for a malformed one.
func ReadPSI(fsys *rootfs.FS) (PSI, bool, error) {
	data, err := fsys.ReadFile(PSIPath, maxRead)
	if err != nil {
		if noPSI(err) {
			return PSI{}, false, nil
		}
		return PSI{}, false, err
	}
	p, err := ParsePSI(bytes.NewReader(data))
	if err != nil {
		return PSI{}, false, withPath(fsys.Path(PSIPath), err)
	}
	return p, true, nil
}

// noPSI reports whether a read error means that the kernel has no PSI.
func noPSI(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EOPNOTSUPP)
}

// ParsePSI parses a /proc/pressure/memory file (kernel/sched/psi.c
// psi_show): a "some" line and, from 4.20 on memory, a "full" line, each
//
//	some avg10=0.82 avg60=0.68 avg300=0.18 total=671101
//
// The averages are percentages, total is microseconds. Lines that start
// with another word are skipped, as are fields other than these four (a
// later kernel may add either); of a repeated "some" or "full" line the
// last counts. A malformed line, or an average that is not a percentage
// (0 to 100), gives a *LineError with the line's number; a file without a
// "some" line is an error. At most 256 KiB is read.
func ParsePSI(r io.Reader) (PSI, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRead+1))
	if err != nil {
		return PSI{}, fmt.Errorf("reading PSI: %w", err)
	}
	if len(data) > maxRead {
		return PSI{}, fmt.Errorf("larger than %d bytes: not a PSI file", maxRead)
	}
	var p PSI
	hasSome := false
	n := 0
	for line := range strings.Lines(string(data)) {
		n++
		line = strings.TrimSuffix(line, "\n")
		f := strings.Fields(line)
		if len(f) == 0 || (f[0] != "some" && f[0] != "full") {
			continue
		}
		avg, total, err := psiLine(f[1:])
		if err != nil {
			return PSI{}, lineError(n, line, err.Error())
		}
		if f[0] == "some" {
			p.SomeAvg10, p.SomeAvg60, p.SomeAvg300, p.SomeTotal = avg[0], avg[1], avg[2], total
			hasSome = true
		} else {
			p.FullAvg10, p.FullAvg60, p.FullAvg300, p.FullTotal = avg[0], avg[1], avg[2], total
			p.HasFull = true
		}
	}
	if !hasSome {
		return PSI{}, errors.New(`no "some" line: want "some avg10=… avg60=… avg300=… total=…"`)
	}
	return p, nil
}

// psiFields are the fields of a PSI line, in the order psi_show prints them.
var psiFields = [...]string{"avg10", "avg60", "avg300", "total"}

// psiLine parses the fields of a PSI line after its first word.
func psiLine(fields []string) (avg [3]float64, total uint64, err error) {
	var seen [len(psiFields)]bool
	for _, f := range fields {
		name, val, ok := strings.Cut(f, "=")
		if !ok {
			return avg, 0, fmt.Errorf("field %q is not name=value", f)
		}
		i := slices.Index(psiFields[:], name)
		if i < 0 {
			continue
		}
		if seen[i] {
			return avg, 0, fmt.Errorf("%s appears twice", name)
		}
		seen[i] = true
		if name == "total" {
			if total, err = strconv.ParseUint(val, 10, 64); err != nil {
				return avg, 0, fmt.Errorf("total %q is not an unsigned decimal 64-bit integer", val)
			}
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
			return avg, 0, fmt.Errorf("%s %q is not a percentage", name, val)
		}
		avg[i] = v
	}
	for i, ok := range seen {
		if !ok {
			return avg, 0, fmt.Errorf(`no %s: want "avg10=… avg60=… avg300=… total=…"`, psiFields[i])
		}
	}
	return avg, total, nil
}
