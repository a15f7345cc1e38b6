package meminfo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// addLabSeeds adds the lab captures of one file name as fuzz seeds.
func addLabSeeds(f *testing.F, name string) {
	f.Helper()
	for _, step := range []string{"11-arc-filled", "22-pressure-45s"} {
		f.Add(readFile(f, filepath.Join("testdata", "lab-2.1.11", step, name)))
	}
}

// writeFile replaces the file at path, for the differential fuzz targets
// that hand the same bytes to procfs through a root directory.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// procfsLimit is the most procfs reads of a file (internal/parsers.ReadFileNoStat).
const procfsLimit = 1 << 20

// lineTooLong reports whether err is Parse's error for a line past the
// bufio.Scanner limit, where procfs silently stops reading instead.
func lineTooLong(err error) bool {
	var le *LineError
	return errors.As(err, &le) && strings.Contains(le.Reason, "longer than 64 KiB")
}

// FuzzParse checks that Parse never panics and agrees with Read, which
// parses the same bytes with procfs: the same Info, or errors on the same
// line.
func FuzzParse(f *testing.F) {
	addLabSeeds(f, "meminfo")
	// The other projects' captures are read in place when ../shared exists.
	shared, _ := filepath.Glob(filepath.Join(testutil.RepoRoot(f), "..", "shared", "fixtures", "meminfo", "*.txt"))
	for _, p := range shared {
		f.Add(readFile(f, p))
	}
	root := makeRoot(f, map[string][]byte{Path: nil})
	path := filepath.Join(root, Path)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Parse(bytes.NewReader(data))
		if err == nil {
			if got.MemTotal == 0 || got.HasMemAvailable == got.MemAvailableEstimated {
				t.Fatalf("Parse = %+v: MemTotal 0 or inconsistent MemAvailable flags", got)
			}
		}
		if len(data) > procfsLimit || lineTooLong(err) {
			return
		}
		writeFile(t, path, data)
		gotRead, errRead := Read(root)
		if (err == nil) != (errRead == nil) {
			t.Fatalf("Parse error %v, Read (procfs) error %v", err, errRead)
		}
		if err == nil {
			if diff := cmp.Diff(got, gotRead); diff != "" {
				t.Fatalf("Parse and Read disagree (-Parse +Read):\n%s", diff)
			}
			return
		}
		var le, leRead *LineError
		if errors.As(err, &le) {
			if !errors.As(errRead, &leRead) || leRead.Line != le.Line || leRead.Path != path {
				t.Fatalf("Parse error %v, Read error %v: want the same line, with the path", err, errRead)
			}
		} else if !strings.HasPrefix(errRead.Error(), path+": ") {
			t.Fatalf("Read error %v does not name %s", errRead, path)
		}
	})
}

// FuzzParsePSI checks ParsePSI against ReadPSI, which uses procfs.
func FuzzParsePSI(f *testing.F) {
	addLabSeeds(f, "pressure_memory")
	root := makeRoot(f, map[string][]byte{PSIPath: nil})
	path := filepath.Join(root, PSIPath)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParsePSI(bytes.NewReader(data))
		if len(data) > procfsLimit || lineTooLong(err) {
			return
		}
		writeFile(t, path, data)
		gotRead, ok, errRead := ReadPSI(root)
		if (err == nil) != (errRead == nil) || ok != (errRead == nil) {
			t.Fatalf("ParsePSI error %v, ReadPSI %v, %v", err, ok, errRead)
		}
		if err == nil {
			if diff := cmp.Diff(got, gotRead, cmpopts.EquateNaNs()); diff != "" {
				t.Fatalf("ParsePSI and ReadPSI disagree (-Parse +Read):\n%s", diff)
			}
			return
		}
		if !strings.HasPrefix(errRead.Error(), path+":") {
			t.Fatalf("ReadPSI error %v does not name %s", errRead, path)
		}
	})
}

// FuzzParseVMStat checks ParseVMStatBytes against ParseVMStat and against
// a plain reference parser built on strings.Fields and strconv.
func FuzzParseVMStat(f *testing.F) {
	addLabSeeds(f, "vmstat")
	var v VMStat
	f.Fuzz(func(t *testing.T, data []byte) {
		err := ParseVMStatBytes(data, &v)
		got, err2 := ParseVMStat(bytes.NewReader(data))
		if (err == nil) != (err2 == nil) || (err == nil && got != v) {
			t.Fatalf("ParseVMStatBytes = %+v, %v; ParseVMStat = %+v, %v", v, err, got, err2)
		}
		want, wantLine := referenceVMStat(string(data))
		var le *LineError
		switch {
		case wantLine > 0:
			if !errors.As(err, &le) || le.Line != wantLine {
				t.Fatalf("ParseVMStatBytes error %v, want one on line %d", err, wantLine)
			}
		case wantLine < 0:
			if err == nil || errors.As(err, &le) {
				t.Fatalf("ParseVMStatBytes error %v, want a sum overflow", err)
			}
		default:
			if err != nil || v != want {
				t.Fatalf("ParseVMStatBytes = %+v, %v; want %+v", v, err, want)
			}
		}
	})
}

// referenceVMStat is a slow, plain reading of the VMStat rules. It returns
// the 1-based line of the first malformed line, -1 for a sum overflow, or 0
// and the counters.
func referenceVMStat(s string) (VMStat, int) {
	last := map[string]uint64{}
	for i, line := range strings.Split(s, "\n") {
		fields := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' })
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
