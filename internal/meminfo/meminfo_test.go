package meminfo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/procfs"
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
// (procfs) and checks the values.
func TestFixtures(t *testing.T) {
	tests := []struct {
		file    string
		want    Info
		wantErr string // after "<path>: "
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
		}},
		{
			// Linux 2.4 header "total: used: free: ..." has six fields;
			// procfs quotes the line but gives no line number.
			file:    "gopsutil-issue1002.txt",
			wantErr: `malformed: Malformed line "        total:    used:    free:  shared: buffers:  cached:"`,
		},
		{file: "hotsos-kubernetes-4GiB.txt", want: Info{
			Buffers: 102024 * kB, Cached: 2658200 * kB, AnonPages: 814448 * kB, KernelStack: 5280 * kB, PageTables: 7208 * kB, Percpu: 2184 * kB,
			MemTotal: 4026036 * kB, MemFree: 129248 * kB, MemAvailable: 2775844 * kB, HasMemAvailable: true,
			ActiveFile: 1235012 * kB, InactiveFile: 1527440 * kB, SReclaimable: 173756 * kB, SUnreclaim: 85876 * kB,
			Shmem: 1256 * kB, Hugepages: 0, HugepagesSource: HugepagesFromHugetlb,
		}},
		{file: "hotsos-rabbitmq-lxd-container-1GiB.txt", want: Info{
			Cached: 616764 * kB, AnonPages: 309796 * kB, KernelStack: 22252 * kB, PageTables: 36128 * kB, Percpu: 10288 * kB,
			// lxcfs: the container limit, with the slab lines zeroed.
			MemTotal: 1048576 * kB, MemFree: 2612 * kB, MemAvailable: 619376 * kB, HasMemAvailable: true,
			ActiveFile: 295292 * kB, InactiveFile: 360068 * kB, Shmem: 296 * kB,
			Hugepages: 0, HugepagesSource: HugepagesFromHugetlb,
		}},
		{file: "hotsos-vault-lxd-container-16GiB.txt", want: Info{
			Cached: 1543732 * kB, AnonPages: 240004 * kB, KernelStack: 19968 * kB, PageTables: 37336 * kB, Percpu: 100832 * kB,
			MemTotal: 16393172 * kB, MemFree: 14473636 * kB, MemAvailable: 16017368 * kB, HasMemAvailable: true,
			ActiveFile: 587596 * kB, InactiveFile: 917016 * kB, Shmem: 54796 * kB,
			Hugepages: 0, HugepagesSource: HugepagesFromHugetlb,
		}},
		{file: "node_exporter-2015.txt", want: Info{
			Buffers: 22040 * kB, Cached: 930888 * kB, AnonPages: 2244172 * kB, KernelStack: 5800 * kB, PageTables: 75212 * kB,
			// No MemAvailable: MemFree + (Active(file)+Inactive(file))/2 + SReclaimable/2.
			MemTotal: 3742148 * kB, MemFree: 225472 * kB,
			MemAvailable: (225472 + (213412+145676)/2 + 44772/2) * kB, MemAvailableEstimated: true,
			ActiveFile: 213412 * kB, InactiveFile: 145676 * kB, SReclaimable: 44772 * kB, SUnreclaim: 54160 * kB,
			Shmem: 593840 * kB, SwapTotal: 4194300 * kB, SwapFree: 3155360 * kB,
			Hugepages: 0, HugepagesSource: HugepagesFromPages,
		}},
		{file: "procfs-fixtures-ttar.txt", want: Info{
			Buffers: 1020128 * kB, Cached: 12007640 * kB, AnonPages: 266216 * kB, KernelStack: 1616 * kB, PageTables: 5288 * kB, Percpu: 26176 * kB,
			MemTotal: 15666184 * kB, MemFree: 440324 * kB,
			MemAvailable: (440324 + (6494020+6532440)/2 + 1738124/2) * kB, MemAvailableEstimated: true,
			ActiveFile: 6494020 * kB, InactiveFile: 6532440 * kB, SReclaimable: 1738124 * kB, SUnreclaim: 69140 * kB,
			Shmem: 1308 * kB, Hugepages: 0, HugepagesSource: HugepagesFromPages,
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
				want := filepath.Join(root, Path) + ": " + tt.wantErr
				if err == nil || err.Error() != want {
					t.Fatalf("Read error = %v, want %q", err, want)
				}
				if !errors.Is(err, procfs.ErrFileParse) {
					t.Errorf("Read error does not wrap procfs.ErrFileParse: %v", err)
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
		}},
		{"22-pressure-45s", Info{
			Buffers: 208 * kB, Cached: 8468 * kB, AnonPages: 3494400 * kB, KernelStack: 2128 * kB, PageTables: 7816 * kB, Percpu: 760 * kB,
			MemTotal: 4007108 * kB, MemFree: 192392 * kB, MemAvailable: 83352 * kB, HasMemAvailable: true,
			ActiveFile: 4124 * kB, InactiveFile: 1992 * kB, SReclaimable: 16044 * kB, SUnreclaim: 19816 * kB,
			Shmem: 2548 * kB, Hugepages: 0, HugepagesSource: HugepagesFromHugetlb,
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
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // after "<path>: "
		// procfs rejected the file: the error wraps procfs.ErrFileParse.
		// The other errors come from FromProcfs.
		procfsErr bool
	}{
		{name: "empty", in: "", want: "no MemTotal line: not a Linux /proc/meminfo"},
		{name: "no MemTotal", in: "MemFree: 1 kB\n", want: "no MemTotal line: not a Linux /proc/meminfo"},
		{name: "zero MemTotal", in: "MemTotal: 0 kB\n", want: "MemTotal is 0"},
		// procfs quotes the line for a wrong number of fields, without
		// its number.
		{name: "one field", in: "MemTotal: 1 kB\nMemFree:\n", want: `malformed: Malformed line "MemFree:"`, procfsErr: true},
		{name: "blank line", in: "MemTotal: 1 kB\n\nMemFree: 1 kB\n", want: `malformed: Malformed line ""`, procfsErr: true},
		{name: "four fields", in: "MemTotal: 1 kB x\n", want: `malformed: Malformed line "MemTotal: 1 kB x"`, procfsErr: true},
		// For a bad unit procfs gives the unit only.
		{name: "bad unit", in: "MemTotal: 1 MB\n", want: `malformed: Unsupported unit in optional 3rd field "MB"`, procfsErr: true},
		// For a bad number procfs gives strconv's error only.
		{name: "negative", in: "MemTotal: 10 kB\nFoo: -1 kB\n", want: `malformed: strconv.ParseUint: parsing "-1": invalid syntax`, procfsErr: true},
		{name: "too big", in: "MemTotal: 18446744073709551616\n", want: `malformed: strconv.ParseUint: parsing "18446744073709551616": value out of range`, procfsErr: true},
		// procfs wraps the kB value around; FromProcfs catches it by name.
		{name: "kB overflow", in: "Zswap: 1 kB\nMemTotal: 18014398509481984 kB\n", want: "MemTotal: 18014398509481984 kB overflows 64-bit bytes"},
		{name: "hugepage overflow", in: "MemTotal: 1 kB\nHugePages_Total: 18014398509481984\nHugepagesize: 2048 kB\n",
			want: "HugePages_Total × Hugepagesize (18014398509481984 × 2097152 bytes) overflows 64 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := makeRoot(t, map[string][]byte{Path: []byte(tt.in)})
			got, err := Read(testutil.OpenRoot(t, root))
			want := filepath.Join(root, Path) + ": " + tt.want
			if err == nil || err.Error() != want {
				t.Fatalf("Read error = %v, want %q", err, want)
			}
			if got != (Info{}) {
				t.Errorf("Read returned %+v with its error, want zero", got)
			}
			if errors.Is(err, procfs.ErrFileParse) != tt.procfsErr {
				t.Errorf("errors.Is(%v, procfs.ErrFileParse) = %v, want %v", err, !tt.procfsErr, tt.procfsErr)
			}
		})
	}
}

// TestReadLikeProcfs checks rules that come from procfs: base-0 integers,
// values without a unit taken as bytes, unknown keys ignored, the last of
// repeated keys winning, and a repeated huge value that a later line fixes.
func TestReadLikeProcfs(t *testing.T) {
	in := "MemTotal: 0x10 kB\nMemFree: 010 kB\nMemAvailable: 4096\nWhatever: 7\nShmem: 1 kB\nShmem: 2 kB\n" +
		"SwapFree: 18014398509481984 kB\nSwapFree: 3 kB\n"
	want := Info{MemTotal: 16 * kB, MemFree: 8 * kB, MemAvailable: 4096, HasMemAvailable: true, Shmem: 2 * kB, SwapFree: 3 * kB}
	got, err := Read(testutil.OpenRoot(t, makeRoot(t, map[string][]byte{Path: []byte(in)})))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
}

// TestReadLongLine pins what procfs does with a line of 64 KiB or more,
// which Parse used to reject: procfs accepts the file, stops reading at
// that line without an error, and ignores the lines after it.
func TestReadLongLine(t *testing.T) {
	in := "MemTotal: 1 kB\nX: " + strings.Repeat("1", 70000) + "\nMemFree: 5 kB\n"
	got, err := Read(testutil.OpenRoot(t, makeRoot(t, map[string][]byte{Path: []byte(in)})))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	// MemFree, after the long line, is not seen.
	want := Info{MemTotal: 1 * kB, MemAvailableEstimated: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
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

func TestFromProcfs(t *testing.T) {
	if _, err := FromProcfs(procfs.Meminfo{}); err == nil || err.Error() != "no MemTotal line: not a Linux /proc/meminfo" {
		t.Fatalf("FromProcfs(empty) error = %v, want no MemTotal line", err)
	}
	total, totalBytes := uint64(1000), uint64(1000*kB)
	got, err := FromProcfs(procfs.Meminfo{MemTotal: &total, MemTotalBytes: &totalBytes})
	if err != nil {
		t.Fatal(err)
	}
	want := Info{MemTotal: 1000 * kB, MemAvailableEstimated: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FromProcfs (-want +got):\n%s", diff)
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
