package meminfo

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"math/bits"
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

// FuzzParseMeminfo checks that ParseMeminfo never panics and agrees with a
// plain reference reading of its rules: the same Info on success, a
// *LineError on the same line for a malformed line or contradicting value,
// and an error about the whole file otherwise.
func FuzzParseMeminfo(f *testing.F) {
	addLabSeeds(f, "meminfo")
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseMeminfo(bytes.NewReader(data))
		want, wantLine := referenceMeminfo(data)
		checkAgainstReference(t, "ParseMeminfo", got, err, want, wantLine)
		if err == nil && (got.MemTotal == 0 || got.MemAvailable > got.MemTotal || got.Hugepages > got.MemTotal) {
			t.Fatalf("ParseMeminfo = %+v: MemTotal 0, or MemAvailable or Hugepages above it", got)
		}
	})
}

// FuzzParsePSI checks ParsePSI in the same way against referencePSI.
func FuzzParsePSI(f *testing.F) {
	addLabSeeds(f, "pressure_memory")
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParsePSI(bytes.NewReader(data))
		want, wantLine := referencePSI(data)
		checkAgainstReference(t, "ParsePSI", got, err, want, wantLine)
	})
}

// checkAgainstReference compares a parser's result with the reference's:
// wantLine > 0 is the line of a *LineError (quoting at most 80 bytes and
// "…"), -1 an error that is not one, 0 success with want.
func checkAgainstReference[T comparable](t *testing.T, name string, got T, err error, want T, wantLine int) {
	t.Helper()
	var le *LineError
	var zero T
	switch {
	case wantLine > 0:
		if !errors.As(err, &le) || le.Line != wantLine || le.Path != "" {
			t.Fatalf("%s error %v, want a *LineError on line %d", name, err, wantLine)
		}
		if len(le.Text) > 80+len("…") {
			t.Fatalf("%s error quotes %d bytes of the line, want at most 80 and \"…\"", name, len(le.Text))
		}
	case wantLine < 0:
		if err == nil || errors.As(err, &le) {
			t.Fatalf("%s error %v, want an error about the whole file", name, err)
		}
	default:
		if err != nil || got != want {
			t.Fatalf("%s = %+v, %v; want %+v", name, got, err, want)
		}
	}
	if err != nil && got != zero {
		t.Fatalf("%s returned %+v with error %v, want zero", name, got, err)
	}
}

// referenceMeminfo is a slow, plain reading of the ParseMeminfo rules. It
// returns the 1-based line of the first malformed or contradicting line,
// -1 for an error about the whole file, or 0 and the Info.
func referenceMeminfo(data []byte) (Info, int) {
	if len(data) > 256<<10 {
		return Info{}, -1
	}
	type entry struct {
		line       int
		num, bytes uint64
	}
	last := map[string]entry{}
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) > 3 || len(f) < 2 {
			return Info{}, i + 1
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return Info{}, i + 1
		}
		b := n
		if len(f) == 3 {
			hi, lo := bits.Mul64(n, 1024)
			if f[2] != "kB" || hi != 0 {
				return Info{}, i + 1
			}
			b = lo
		}
		last[f[0]] = entry{i + 1, n, b}
	}
	get := func(name string) (entry, bool) {
		e, ok := last[name+":"]
		return e, ok
	}
	v := func(name string) uint64 { e, _ := get(name); return e.bytes }
	total, ok := get("MemTotal")
	if !ok {
		return Info{}, -1
	}
	if total.bytes == 0 {
		return Info{}, total.line
	}
	info := Info{
		MemTotal: total.bytes, MemFree: v("MemFree"),
		ActiveFile: v("Active(file)"), InactiveFile: v("Inactive(file)"),
		SReclaimable: v("SReclaimable"), SUnreclaim: v("SUnreclaim"), Shmem: v("Shmem"),
		SwapTotal: v("SwapTotal"), SwapFree: v("SwapFree"), Buffers: v("Buffers"), Cached: v("Cached"),
		AnonPages: v("AnonPages"), KernelStack: v("KernelStack"), PageTables: v("PageTables"), Percpu: v("Percpu"),
	}
	if avail, ok := get("MemAvailable"); ok {
		if avail.bytes > total.bytes {
			return Info{}, avail.line
		}
		info.MemAvailable, info.HasMemAvailable = avail.bytes, true
	} else {
		// Saturating, as the kernel's numbers never get near 2^64.
		sum := new(big.Int).SetUint64(info.MemFree)
		for _, half := range []uint64{info.ActiveFile / 2, info.InactiveFile / 2, info.SReclaimable / 2} {
			sum.Add(sum, new(big.Int).SetUint64(half))
		}
		info.MemAvailable = math.MaxUint64
		if sum.IsUint64() {
			info.MemAvailable = sum.Uint64()
		}
		info.MemAvailableEstimated = true
	}
	hugetlb, hasHugetlb := get("Hugetlb")
	count, hasCount := get("HugePages_Total")
	size, hasSize := get("Hugepagesize")
	if hasSize {
		info.Hugepagesize = size.bytes
	}
	var line int
	switch {
	case hasHugetlb:
		info.Hugepages, info.HugepagesSource, line = hugetlb.bytes, HugepagesFromHugetlb, hugetlb.line
	case hasCount && hasSize:
		p := new(big.Int).Mul(new(big.Int).SetUint64(count.num), new(big.Int).SetUint64(size.bytes))
		if !p.IsUint64() {
			return Info{}, count.line
		}
		info.Hugepages, info.HugepagesSource, line = p.Uint64(), HugepagesFromPages, count.line
	}
	if info.Hugepages > info.MemTotal {
		return Info{}, line
	}
	return info, 0
}

// referencePSI is a slow, plain reading of the ParsePSI rules, returning as
// referenceMeminfo does.
func referencePSI(data []byte) (PSI, int) {
	if len(data) > 256<<10 {
		return PSI{}, -1
	}
	var p PSI
	hasSome := false
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (f[0] != "some" && f[0] != "full") {
			continue
		}
		vals := map[string]string{}
		for _, field := range f[1:] {
			k, val, ok := strings.Cut(field, "=")
			if !ok {
				return PSI{}, i + 1
			}
			if k != "avg10" && k != "avg60" && k != "avg300" && k != "total" {
				continue
			}
			if _, dup := vals[k]; dup {
				return PSI{}, i + 1
			}
			vals[k] = val
		}
		if len(vals) != 4 {
			return PSI{}, i + 1
		}
		var avg [3]float64
		for j, k := range []string{"avg10", "avg60", "avg300"} {
			a, err := strconv.ParseFloat(vals[k], 64)
			if err != nil || !(a >= 0 && a <= 100) {
				return PSI{}, i + 1
			}
			avg[j] = a
		}
		total, err := strconv.ParseUint(vals["total"], 10, 64)
		if err != nil {
			return PSI{}, i + 1
		}
		if f[0] == "some" {
			p.SomeAvg10, p.SomeAvg60, p.SomeAvg300, p.SomeTotal, hasSome = avg[0], avg[1], avg[2], total, true
		} else {
			p.FullAvg10, p.FullAvg60, p.FullAvg300, p.FullTotal, p.HasFull = avg[0], avg[1], avg[2], total, true
		}
	}
	if !hasSome {
		return PSI{}, -1
	}
	return p, 0
}
