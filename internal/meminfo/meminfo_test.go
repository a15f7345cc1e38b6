package meminfo

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

const kB = 1024

// makeRoot builds a root directory holding the given files (paths relative
// to the root, such as Path) and returns it.
func makeRoot(t testing.TB, files map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFixtures reads every meminfo capture in shared/fixtures through Read
// and checks the values.
func TestFixtures(t *testing.T) {
	tests := []struct {
		file    string
		want    Info
		wantErr string // after "<path>"
	}{
		{file: "gopsutil-anonhugepages.txt", want: Info{
			// A three-line fragment without a final newline: it has
			// MemTotal, so it parses; the lines it lacks read as 0.
			MemTotal: 260799420 * kB, MemFree: 119443248 * kB, MemAvailable: 127880216 * kB, HasMemAvailable: true,
		}},
		{file: "gopsutil-intelcorei5.txt", want: Info{
			Buffers: 207516 * kB, Cached: 3791568 * kB, AnonPages: 3116472 * kB, KernelStack: 14224 * kB, PageTables: 63712 * kB, Percpu: 19136 * kB,
			MemTotal: 16115528 * kB, MemFree: 8577628 * kB, MemAvailable: 11225936 * kB, HasMemAvailable: true,
			ActiveFile: 1121992 * kB, InactiveFile: 1683344 * kB, SReclaimable: 182100 * kB, SUnreclaim: 65724 * kB,
			Shmem: 1193752 * kB, SwapTotal: 8065020 * kB, SwapFree: 8065020 * kB,
			Hugepages: 0, HugepagesSource: HugepagesFromPages,
			Hugepagesize: 2048 * kB, // "Hugepagesize:       2048 kB"
		}},
		{
			// Linux 2.4 header "total: used: free: ..." has six fields.
			file:    "gopsutil-issue1002.txt",
			wantErr: `:1: malformed line "        total:    used:    free:  shared: buffers:  cached:": want "Name: value" or "Name: value kB"`,
		},
		{file: "hotsos-kubernetes-4GiB.txt", want: Info{
			Buffers: 102024 * kB, Cached: 2658200 * kB, AnonPages: 814448 * kB, KernelStack: 5280 * kB, PageTables: 7208 * kB, Percpu: 2184 * kB,
			MemTotal: 4026036 * kB, MemFree: 129248 * kB, MemAvailable: 2775844 * kB, HasMemAvailable: true,
			ActiveFile: 1235012 * kB, InactiveFile: 1527440 * kB, SReclaimable: 173756 * kB, SUnreclaim: 85876 * kB,
			Shmem: 1256 * kB, Hugepages: 0, HugepagesSource: HugepagesFromHugetlb,
			Hugepagesize: 2048 * kB, // "Hugepagesize:       2048 kB"
		}},
		{file: "hotsos-rabbitmq-lxd-container-1GiB.txt", want: Info{
			Cached: 616764 * kB, AnonPages: 309796 * kB, KernelStack: 22252 * kB, PageTables: 36128 * kB, Percpu: 10288 * kB,
			// lxcfs: the container limit, with the slab lines zeroed.
			MemTotal: 1048576 * kB, MemFree: 2612 * kB, MemAvailable: 619376 * kB, HasMemAvailable: true,
			ActiveFile: 295292 * kB, InactiveFile: 360068 * kB, Shmem: 296 * kB,
			Hugepages: 0, HugepagesSource: HugepagesFromHugetlb,
			Hugepagesize: 2048 * kB, // "Hugepagesize:       2048 kB"
		}},
		{file: "hotsos-vault-lxd-container-16GiB.txt", want: Info{
			Cached: 1543732 * kB, AnonPages: 240004 * kB, KernelStack: 19968 * kB, PageTables: 37336 * kB, Percpu: 100832 * kB,
			MemTotal: 16393172 * kB, MemFree: 14473636 * kB, MemAvailable: 16017368 * kB, HasMemAvailable: true,
			ActiveFile: 587596 * kB, InactiveFile: 917016 * kB, Shmem: 54796 * kB,
			Hugepages: 0, HugepagesSource: HugepagesFromHugetlb,
			Hugepagesize: 2048 * kB, // "Hugepagesize:       2048 kB"
		}},
		{file: "node_exporter-2015.txt", want: Info{
			Buffers: 22040 * kB, Cached: 930888 * kB, AnonPages: 2244172 * kB, KernelStack: 5800 * kB, PageTables: 75212 * kB,
			// No MemAvailable: MemFree + (Active(file)+Inactive(file))/2 + SReclaimable/2.
			MemTotal: 3742148 * kB, MemFree: 225472 * kB,
			MemAvailable: (225472 + (213412+145676)/2 + 44772/2) * kB, MemAvailableEstimated: true,
			ActiveFile: 213412 * kB, InactiveFile: 145676 * kB, SReclaimable: 44772 * kB, SUnreclaim: 54160 * kB,
			Shmem: 593840 * kB, SwapTotal: 4194300 * kB, SwapFree: 3155360 * kB,
			Hugepages: 0, HugepagesSource: HugepagesFromPages,
			Hugepagesize: 2048 * kB, // "Hugepagesize:       2048 kB"
		}},
		{file: "procfs-fixtures-ttar.txt", want: Info{
			Buffers: 1020128 * kB, Cached: 12007640 * kB, AnonPages: 266216 * kB, KernelStack: 1616 * kB, PageTables: 5288 * kB, Percpu: 26176 * kB,
			MemTotal: 15666184 * kB, MemFree: 440324 * kB,
			MemAvailable: (440324 + (6494020+6532440)/2 + 1738124/2) * kB, MemAvailableEstimated: true,
			ActiveFile: 6494020 * kB, InactiveFile: 6532440 * kB, SReclaimable: 1738124 * kB, SUnreclaim: 69140 * kB,
			Shmem: 1308 * kB, Hugepages: 0, HugepagesSource: HugepagesFromPages,
			Hugepagesize: 2048 * kB, // "Hugepagesize:       2048 kB"
		}},
	}

	dir := testutil.Fixture(t, "meminfo")
	all, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.file] = true
	}
	for _, f := range all {
		if !covered[filepath.Base(f)] {
			t.Errorf("fixture %s has no test case", filepath.Base(f))
		}
	}

	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			root := makeRoot(t, map[string][]byte{Path: readFile(t, filepath.Join(dir, tt.file))})
			got, err := Read(testutil.OpenRoot(t, root))
			if tt.wantErr != "" {
				want := filepath.Join(root, Path) + tt.wantErr
				if err == nil || err.Error() != want {
					t.Fatalf("Read error = %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Read (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLab(t *testing.T) {
	tests := []struct {
		step string
		want Info
	}{
		{"11-arc-filled", Info{
			Buffers: 5536 * kB, Cached: 61040 * kB, AnonPages: 8516 * kB, KernelStack: 1984 * kB, PageTables: 484 * kB, Percpu: 760 * kB,
			MemTotal: 4007108 * kB, MemFree: 1764076 * kB, MemAvailable: 1685256 * kB, HasMemAvailable: true,
			ActiveFile: 50236 * kB, InactiveFile: 16032 * kB, SReclaimable: 16332 * kB, SUnreclaim: 20152 * kB,
			Shmem: 308 * kB, Hugepages: 0, HugepagesSource: HugepagesFromHugetlb,
			Hugepagesize: 2048 * kB, // "Hugepagesize:       2048 kB"
		}},
		{"22-pressure-45s", Info{
			Buffers: 208 * kB, Cached: 8468 * kB, AnonPages: 3494400 * kB, KernelStack: 2128 * kB, PageTables: 7816 * kB, Percpu: 760 * kB,
			MemTotal: 4007108 * kB, MemFree: 192392 * kB, MemAvailable: 83352 * kB, HasMemAvailable: true,
			ActiveFile: 4124 * kB, InactiveFile: 1992 * kB, SReclaimable: 16044 * kB, SUnreclaim: 19816 * kB,
			Shmem: 2548 * kB, Hugepages: 0, HugepagesSource: HugepagesFromHugetlb,
			Hugepagesize: 2048 * kB, // "Hugepagesize:       2048 kB"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			data := readFile(t, filepath.Join("testdata", "lab-2.1.11", tt.step, "meminfo"))
			root := makeRoot(t, map[string][]byte{Path: data})
			got, err := Read(testutil.OpenRoot(t, root))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Read (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHugepages(t *testing.T) {
	const base = "MemTotal:       16115528 kB\nMemFree:         8577628 kB\n"
	tests := []struct {
		name       string
		in         string
		want       uint64
		wantSource string
	}{
		{"hugetlb wins", base + "HugePages_Total:     512\nHugepagesize:       2048 kB\nHugetlb:         3145728 kB\n",
			3145728 * kB, HugepagesFromHugetlb}, // 1 GiB pages as well: Hugetlb covers every size
		{"pages only", base + "HugePages_Total:     512\nHugePages_Free:      512\nHugepagesize:       2048 kB\n",
			512 * 2048 * kB, HugepagesFromPages},
		{"hugetlb zero", base + "HugePages_Total:       0\nHugepagesize:       2048 kB\nHugetlb:               0 kB\n",
			0, HugepagesFromHugetlb},
		{"size without count", base + "Hugepagesize:       2048 kB\n", 0, ""},
		{"none", base, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(testutil.OpenRoot(t, makeRoot(t, map[string][]byte{Path: []byte(tt.in)})))
			if err != nil {
				t.Fatal(err)
			}
			if got.Hugepages != tt.want || got.HugepagesSource != tt.wantSource {
				t.Errorf("Hugepages = %d from %q, want %d from %q", got.Hugepages, got.HugepagesSource, tt.want, tt.wantSource)
			}
			// The default page size, whether or not a pool exists: 2048 kB.
			if wantSize := map[bool]uint64{true: 2048 * kB}[strings.Contains(tt.in, "Hugepagesize:")]; got.Hugepagesize != wantSize {
				t.Errorf("Hugepagesize = %d, want %d", got.Hugepagesize, wantSize)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	long := "X: " + strings.Repeat("1", 70000)
	tests := []struct {
		name, in string
		want     string // after "<path>"
		line     int    // the *LineError's line, 0 for an error about the whole file
	}{
		{name: "empty", in: "", want: ": no MemTotal line: not a Linux /proc/meminfo"},
		{name: "no MemTotal", in: "MemFree: 1 kB\n", want: ": no MemTotal line: not a Linux /proc/meminfo"},
		{name: "zero MemTotal", in: "MemFree: 1 kB\nMemTotal: 0 kB\n", line: 2,
			want: `:2: malformed line "MemTotal: 0 kB": MemTotal is 0`},
		{name: "one field", in: "MemTotal: 1 kB\nMemFree:\n", line: 2,
			want: `:2: malformed line "MemFree:": want "Name: value" or "Name: value kB"`},
		{name: "four fields", in: "MemTotal: 1 kB x\n", line: 1,
			want: `:1: malformed line "MemTotal: 1 kB x": want "Name: value" or "Name: value kB"`},
		{name: "bad unit", in: "MemTotal: 1 MB\n", line: 1, want: `:1: malformed line "MemTotal: 1 MB": unit "MB" is not kB`},
		// Every line is checked, the ones Info does not use too.
		{name: "negative", in: "MemTotal: 10 kB\nFoo: -1 kB\n", line: 2,
			want: `:2: malformed line "Foo: -1 kB": value is not an unsigned decimal 64-bit integer`},
		{name: "too big", in: "MemTotal: 18446744073709551616\n", line: 1,
			want: `:1: malformed line "MemTotal: 18446744073709551616": value is not an unsigned decimal 64-bit integer`},
		// The kernel prints decimal (seq_put_decimal_ull_width).
		{name: "hexadecimal", in: "MemTotal: 0x10 kB\n", line: 1,
			want: `:1: malformed line "MemTotal: 0x10 kB": value is not an unsigned decimal 64-bit integer`},
		// 2^54 kB is 2^64 bytes; 2^54 − 1 kB is the largest that fits.
		{name: "kB overflow", in: "Zswap: 1 kB\nMemTotal: 18014398509481984 kB\n", line: 2,
			want: `:2: malformed line "MemTotal: 18014398509481984 kB": 18014398509481984 kB overflows 64-bit bytes`},
		{name: "kB overflow on a line Info does not use", in: "MemTotal: 1 kB\nZswap: 18014398509481984 kB\n", line: 2,
			want: `:2: malformed line "Zswap: 18014398509481984 kB": 18014398509481984 kB overflows 64-bit bytes`},
		{name: "hugepage overflow", in: "MemTotal: 1 kB\nHugePages_Total: 18014398509481984\nHugepagesize: 2048 kB\n", line: 2,
			want: `:2: malformed line "HugePages_Total: 18014398509481984": HugePages_Total × Hugepagesize (18014398509481984 × 2097152 bytes) overflows 64 bits`},
		{name: "MemAvailable above MemTotal", in: "MemTotal: 1024 kB\nMemAvailable: 1025 kB\n", line: 2,
			want: `:2: malformed line "MemAvailable: 1025 kB": MemAvailable (1049600 bytes) is above MemTotal (1048576 bytes)`},
		{name: "Hugetlb above MemTotal", in: "MemTotal: 1024 kB\nHugetlb: 2048 kB\n", line: 2,
			want: `:2: malformed line "Hugetlb: 2048 kB": hugepages (2097152 bytes, Hugetlb) are above MemTotal (1048576 bytes)`},
		{name: "hugepages above MemTotal", in: "MemTotal: 1024 kB\nHugePages_Total: 2\nHugepagesize: 2048 kB\n", line: 2,
			want: `:2: malformed line "HugePages_Total: 2": hugepages (4194304 bytes, HugePages_Total × Hugepagesize) are above MemTotal (1048576 bytes)`},
		// A long line is quoted up to 80 bytes.
		{name: "long line", in: "MemTotal: 1 kB\n" + long + "\nMemFree: 5 kB\n", line: 2,
			want: `:2: malformed line "` + long[:80] + `…": value is not an unsigned decimal 64-bit integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := makeRoot(t, map[string][]byte{Path: []byte(tt.in)})
			got, err := Read(testutil.OpenRoot(t, root))
			want := filepath.Join(root, Path) + tt.want
			if err == nil || err.Error() != want {
				t.Fatalf("Read error = %v, want %q", err, want)
			}
			if got != (Info{}) {
				t.Errorf("Read returned %+v with its error, want zero", got)
			}
			var le *LineError
			if errors.As(err, &le) != (tt.line > 0) || (le != nil && le.Line != tt.line) {
				t.Errorf("Read error %#v: want a *LineError on line %d (0: none)", err, tt.line)
			}
			// The pure parser gives the same error, without the path.
			_, perr := ParseMeminfo(strings.NewReader(tt.in))
			if pwant := strings.TrimPrefix(tt.want, ": "); tt.line > 0 {
				pwant = "line " + strings.TrimPrefix(tt.want, ":")
				if perr == nil || perr.Error() != pwant {
					t.Errorf("ParseMeminfo error = %v, want %q", perr, pwant)
				}
			} else if perr == nil || perr.Error() != pwant {
				t.Errorf("ParseMeminfo error = %v, want %q", perr, pwant)
			}
		})
	}
}

// TestParseMeminfo checks the rules of the format: values without a unit
// taken as bytes, unknown names ignored, the last of repeated names
// counting, blank lines skipped, "\r\n" line ends and a missing final
// newline.
func TestParseMeminfo(t *testing.T) {
	tests := []struct {
		name, in string
		want     Info
	}{
		{name: "MemTotal only: MemAvailable estimated from MemFree 0", in: "MemTotal: 1000 kB\n",
			want: Info{MemTotal: 1000 * kB, MemAvailableEstimated: true}},
		{name: "rules", in: "MemTotal: 16 kB\nMemFree: 8 kB\nMemAvailable: 4096\nWhatever: 7\nShmem: 1 kB\nShmem: 2 kB\n\n" +
			"SwapFree: 9 kB\r\nSwapFree: 3 kB",
			want: Info{MemTotal: 16 * kB, MemFree: 8 * kB, MemAvailable: 4096, HasMemAvailable: true, Shmem: 2 * kB, SwapFree: 3 * kB}},
		// 2^54 − 1 kB is the largest kB value that fits in 64-bit bytes.
		{name: "largest kB value", in: "MemTotal: 18014398509481983 kB\n",
			want: Info{MemTotal: 18014398509481983 * kB, MemAvailableEstimated: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMeminfo(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseMeminfo (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMeminfoTooLarge(t *testing.T) {
	in := "MemTotal: 1 kB\n" + strings.Repeat("X: 1 kB\n", 256<<10/8)
	_, err := ParseMeminfo(strings.NewReader(in))
	if want := "larger than 262144 bytes: not a /proc/meminfo"; err == nil || err.Error() != want {
		t.Fatalf("ParseMeminfo error = %v, want %q", err, want)
	}
}

func TestReadMissing(t *testing.T) {
	for name, root := range map[string]string{
		"no proc dir": t.TempDir(),
		"no meminfo":  makeRoot(t, nil),
	} {
		_, err := Read(testutil.OpenRoot(t, root))
		want := filepath.Join(root, Path) + ": no such file or directory"
		if err == nil || err.Error() != want || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: Read error = %v, want %q wrapping os.ErrNotExist", name, err, want)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	data := readFile(b, filepath.Join("testdata", "lab-2.1.11", "22-pressure-45s", "meminfo"))
	root := makeRoot(b, map[string][]byte{Path: data})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(testutil.OpenRoot(b, root)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEveryCapture parses every real /proc/meminfo and memory PSI capture:
// the snapshots, replays and real-kernel lane roots under testdata, this
// package's lab captures, and, in a subtest, our lab's raw captures in
// ../shared/lab. Before the parsers were written by hand they were compared
// with procfs's on these same files (and ../shared/fixtures/meminfo): all
// 104 meminfo and 82 PSI captures gave the same values. The values of some
// are pinned by hand in TestFixtures, TestLab and TestReadPSILab.
func TestEveryCapture(t *testing.T) {
	check := func(t *testing.T, dir string) (mem, psi int) {
		t.Helper()
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			var parse func([]byte) error
			switch {
			case d.Name() == "meminfo":
				mem++
				parse = func(b []byte) error { _, err := ParseMeminfo(bytes.NewReader(b)); return err }
			case d.Name() == "pressure_memory" || strings.HasSuffix(p, "/pressure/memory"):
				psi++
				parse = func(b []byte) error { _, err := ParsePSI(bytes.NewReader(b)); return err }
			default:
				return nil
			}
			if err := parse(readFile(t, p)); err != nil {
				t.Errorf("%s: %v", p, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return mem, psi
	}
	repo := testutil.RepoRoot(t)
	var mem, psi int
	for _, dir := range []string{filepath.Join(repo, "testdata"), "testdata"} {
		m, p := check(t, dir)
		mem, psi = mem+m, psi+p
	}
	// At the time of writing: 60 and 60. Fewer means the walk lost them.
	if mem < 60 || psi < 60 {
		t.Errorf("found %d meminfo and %d PSI captures in the repository, want at least 60 each", mem, psi)
	}
	t.Run("shared lab", func(t *testing.T) {
		mem, psi := check(t, filepath.Join(testutil.SharedDir(t), "lab"))
		if mem == 0 || psi == 0 {
			t.Errorf("found %d meminfo and %d PSI captures in ../shared/lab, want some of each", mem, psi)
		}
	})
}
