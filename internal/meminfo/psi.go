package meminfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

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

// psiLineFormat is procfs's format for a PSI line after "some " or "full ".
const psiLineFormat = "avg10=%f avg60=%f avg300=%f total=%d"

// ReadPSI reads <root>/proc/pressure/memory with procfs. It returns
// ok=false and no error when the kernel has no PSI: the file is absent
// (kernel before 4.20 or built without CONFIG_PSI) or reading it fails with
// EOPNOTSUPP (PSI disabled with psi=0). A malformed file is an error that
// names the file and the line.
func ReadPSI(root string) (PSI, bool, error) {
	path := filepath.Join(root, PSIPath)
	fsys, err := procfs.NewFS(filepath.Join(root, "proc"))
	if err != nil {
		return PSI{}, false, fileError(path, err)
	}
	st, err := fsys.PSIStatsForResource("memory")
	if err != nil {
		if noPSI(err) {
			return PSI{}, false, nil
		}
		if errors.Is(err, procfs.ErrFileRead) {
			return PSI{}, false, fileError(path, err)
		}
		// procfs returns fmt.Sscanf's error, without a line: find it.
		if b, rerr := os.ReadFile(path); rerr == nil {
			var le *LineError
			if _, perr := ParsePSI(bytes.NewReader(b)); errors.As(perr, &le) {
				le.Path = path
				le.Err = err
				return PSI{}, false, le
			}
		}
		return PSI{}, false, fmt.Errorf("%s: %w", path, err)
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

// ParsePSI reads a PSI file such as /proc/pressure/memory. Like procfs's
// private parser it scans "some" and "full" lines with the format
// "avg10=%f avg60=%f avg300=%f total=%d" and skips lines with any other
// first word; it also requires a "some" line. A malformed line gives a
// *LineError. Like Parse, it rejects a line longer than 64 KiB, where procfs
// stops reading silently.
func ParsePSI(r io.Reader) (PSI, error) {
	var st procfs.PSIStats
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		prefix, _, _ := strings.Cut(l, " ")
		if prefix != "some" && prefix != "full" {
			continue
		}
		var v procfs.PSILine
		if _, err := fmt.Sscanf(l, prefix+" "+psiLineFormat, &v.Avg10, &v.Avg60, &v.Avg300, &v.Total); err != nil {
			return PSI{}, &LineError{Line: n, Text: l,
				Reason: fmt.Sprintf(`want "%s avg10=<pct> avg60=<pct> avg300=<pct> total=<µs>": %v`, prefix, err), Err: err}
		}
		if prefix == "some" {
			st.Some = &v
		} else {
			st.Full = &v
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return PSI{}, &LineError{Line: n + 1, Reason: "longer than 64 KiB", Err: err}
		}
		return PSI{}, fmt.Errorf("reading pressure file: %w", err)
	}
	return fromPSIStats(st)
}
