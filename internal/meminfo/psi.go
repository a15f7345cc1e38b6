package meminfo

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"syscall"

	"github.com/arcadvise/arcadvise/internal/rootfs"

	"github.com/prometheus/procfs"
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

// ReadPSI reads <root>/proc/pressure/memory with procfs. It returns
// ok=false and no error when the kernel has no PSI: the file is absent
// (kernel before 4.20 or built without CONFIG_PSI) or reading it fails with
// EOPNOTSUPP (PSI disabled with psi=0). A malformed file is an error that
// names the file; procfs, its one parser, does not say which line.
func ReadPSI(fsys *rootfs.FS) (PSI, bool, error) {
	path := fsys.Path(PSIPath)
	data, err := fsys.ReadFile(PSIPath, maxRead)
	if err != nil {
		if noPSI(err) {
			return PSI{}, false, nil
		}
		return PSI{}, false, err
	}
	var st procfs.PSIStats
	err = withProcfs("pressure/memory", data, func(fsys procfs.FS) (err error) {
		st, err = fsys.PSIStatsForResource("memory")
		return err
	})
	if err != nil {
		// procfs returns fmt.Sscanf's error, without a line.
		return PSI{}, false, fmt.Errorf("%s: malformed: %w", path, err)
	}
	p, err := fromPSIStats(st)
	if err != nil {
		return PSI{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return p, true, nil
}

// noPSI reports whether a read error means that the kernel has no PSI.
func noPSI(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EOPNOTSUPP)
}

func fromPSIStats(st procfs.PSIStats) (PSI, error) {
	if st.Some == nil {
		return PSI{}, errors.New(`no "some" line: want "some avg10=… avg60=… avg300=… total=…"`)
	}
	for _, l := range []*procfs.PSILine{st.Some, st.Full} {
		if l == nil {
			continue
		}
		for _, v := range []float64{l.Avg10, l.Avg60, l.Avg300} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 100 {
				return PSI{}, fmt.Errorf("malformed: an average of %v is not a percentage", v)
			}
		}
	}
	p := PSI{
		SomeAvg10: st.Some.Avg10, SomeAvg60: st.Some.Avg60, SomeAvg300: st.Some.Avg300,
		SomeTotal: st.Some.Total,
	}
	if st.Full != nil {
		p.HasFull = true
		p.FullAvg10, p.FullAvg60, p.FullAvg300 = st.Full.Avg10, st.Full.Avg60, st.Full.Avg300
		p.FullTotal = st.Full.Total
	}
	return p, nil
}
