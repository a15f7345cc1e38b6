package meminfo

import (
	"bytes"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// addLabSeeds adds the lab captures of one file name as fuzz seeds.
func addLabSeeds(f *testing.F, name string) {
	f.Helper()
	for _, step := range []string{"11-arc-filled", "22-pressure-45s"} {
		f.Add(readFile(f, filepath.Join("testdata", "lab-2.1.11", step, name)))
	}
}

// FuzzParseVMStat checks that ParseVMStat never panics and agrees with a
// plain reference parser: the same counters on success, a *LineError on
// the same line for a malformed or too long line, and the sum overflow
// error otherwise.
func FuzzParseVMStat(f *testing.F) {
	addLabSeeds(f, "vmstat")
	// A long malformed line. Lines at bufio.Scanner's 64 KiB limit are
	// left to TestParseVMStatErrors: as seeds they stall the fuzzer, which
	// spends its default 60 s minimizing each input derived from them.
	f.Add([]byte("oom_kill 1 " + strings.Repeat("2", 200) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseVMStat(bytes.NewReader(data))
		want, wantLine := referenceVMStat(data)
		var le *LineError
		switch {
		case wantLine > 0:
			if !errors.As(err, &le) || le.Line != wantLine || le.Path != "" {
				t.Fatalf("ParseVMStat error %v, want a *LineError on line %d", err, wantLine)
			}
			if len(le.Text) > 80+len("…") {
				t.Fatalf("ParseVMStat error quotes %d bytes of the line, want at most 80 and \"…\"", len(le.Text))
			}
		case wantLine < 0:
			if err == nil || errors.As(err, &le) || !strings.HasSuffix(err.Error(), "_* counters add up to more than 64 bits") {
				t.Fatalf("ParseVMStat error %v, want a sum overflow", err)
			}
		default:
			if err != nil || got != want {
				t.Fatalf("ParseVMStat = %+v, %v; want %+v", got, err, want)
			}
		}
		if err != nil && got != (VMStat{}) {
			t.Fatalf("ParseVMStat returned %+v with error %v, want zero", got, err)
		}
	})
}

// referenceVMStat is a slow, plain reading of the VMStat rules on the first
// 1 MiB of data. It returns the 1-based line of the first malformed line or
// line of 64 KiB or more, -1 for a sum overflow, or 0 and the counters.
func referenceVMStat(data []byte) (VMStat, int) {
	s := string(data[:min(len(data), 1<<20)])
	last := map[string]uint64{}
	for i, line := range strings.Split(s, "\n") {
		// bufio.Scanner's limit: 64 KiB before the newline, "\r" included.
		if len(line) >= 64<<10 {
			return VMStat{}, i + 1
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return VMStat{}, i + 1
		}
		n, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			return VMStat{}, i + 1
		}
		last[fields[0]] = n
	}
	family := func(name string) (uint64, bool, bool) {
		if n, ok := last[name]; ok {
			return n, true, true
		}
		var sum uint64
		has := false
		for _, z := range []string{"dma", "dma32", "normal", "high", "movable", "device"} {
			if n, ok := last[name+"_"+z]; ok {
				if sum+n < sum {
					return 0, false, false
				}
				sum, has = sum+n, true
			}
		}
		return sum, has, true
	}
	var v VMStat
	var ok [5]bool
	v.AllocStall, v.HasAllocStall, ok[0] = family("allocstall")
	v.PgscanDirect, v.HasPgscanDirect, ok[1] = family("pgscan_direct")
	v.PgscanKswapd, v.HasPgscanKswapd, ok[2] = family("pgscan_kswapd")
	v.PgstealDirect, v.HasPgstealDirect, ok[3] = family("pgsteal_direct")
	v.PgstealKswapd, v.HasPgstealKswapd, ok[4] = family("pgsteal_kswapd")
	for _, o := range ok {
		if !o {
			return VMStat{}, -1
		}
	}
	v.OOMKill, v.HasOOMKill = last["oom_kill"]
	if n, has := last["workingset_refault_file"]; has {
		v.WorkingsetRefaultFile, v.HasWorkingsetRefaultFile = n, true
	} else {
		v.WorkingsetRefaultFile, v.HasWorkingsetRefaultFile = last["workingset_refault"]
	}
	return v, 0
}
