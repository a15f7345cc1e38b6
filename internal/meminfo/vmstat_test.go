package meminfo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// allHas is a VMStat with every counter present and zero.
var allHas = VMStat{
	HasAllocStall: true, HasPgscanDirect: true, HasPgscanKswapd: true, HasPgstealDirect: true,
	HasPgstealKswapd: true, HasOOMKill: true, HasWorkingsetRefaultFile: true,
}

func TestVMStatLab(t *testing.T) {
	pressure := allHas
	pressure.AllocStall = 3 + 8 // allocstall_normal + allocstall_movable
	pressure.PgscanDirect, pressure.PgscanKswapd = 484, 18856
	pressure.PgstealDirect, pressure.PgstealKswapd = 441, 16833
	pressure.WorkingsetRefaultFile = 642
	tests := []struct {
		step string
		want VMStat
	}{
		{"11-arc-filled", allHas},
		{"22-pressure-45s", pressure},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			data := readFile(t, filepath.Join("testdata", "lab-2.1.11", tt.step, "vmstat"))
			got, err := ReadVMStat(makeRoot(t, map[string][]byte{VMStatPath: data}))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadVMStat (-want +got):\n%s", diff)
			}
			parsed, err := ParseVMStat(bytes.NewReader(data))
			if err != nil || parsed != got {
				t.Errorf("ParseVMStat = %+v, %v; ReadVMStat = %+v", parsed, err, got)
			}
		})
	}
}

func TestParseVMStat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want VMStat
	}{
		{
			// Linux 4.4: per-zone pgscan/pgsteal, single allocstall,
			// workingset_refault, no oom_kill.
			name: "4.4 per-zone",
			in: "nr_free_pages 12345\nworkingset_refault 1234\n" +
				"pgsteal_kswapd_dma 0\npgsteal_kswapd_dma32 100\npgsteal_kswapd_normal 200\npgsteal_kswapd_movable 0\n" +
				"pgsteal_direct_dma 0\npgsteal_direct_dma32 10\npgsteal_direct_normal 20\npgsteal_direct_movable 0\n" +
				"pgscan_kswapd_dma 0\npgscan_kswapd_dma32 300\npgscan_kswapd_normal 400\npgscan_kswapd_movable 0\n" +
				"pgscan_direct_dma 0\npgscan_direct_dma32 30\npgscan_direct_normal 40\npgscan_direct_movable 0\n" +
				"pgscan_direct_throttle 99\nallocstall 7\n",
			want: VMStat{
				AllocStall: 7, HasAllocStall: true,
				PgscanDirect: 70, HasPgscanDirect: true, PgscanKswapd: 700, HasPgscanKswapd: true,
				PgstealDirect: 30, HasPgstealDirect: true, PgstealKswapd: 300, HasPgstealKswapd: true,
				WorkingsetRefaultFile: 1234, HasWorkingsetRefaultFile: true,
			},
		},
		{
			name: "32-bit highmem zone",
			in:   "allocstall_dma 1\nallocstall_normal 2\nallocstall_high 4\noom_kill 5\n",
			want: VMStat{AllocStall: 7, HasAllocStall: true, OOMKill: 5, HasOOMKill: true},
		},
		{
			name: "refault_file preferred over the old name, blank lines, tabs and CRLF",
			in:   "workingset_refault 1\n\nworkingset_refault_file\t9\r\n  \npgscan_direct 3",
			want: VMStat{WorkingsetRefaultFile: 9, HasWorkingsetRefaultFile: true, PgscanDirect: 3, HasPgscanDirect: true},
		},
		{
			name: "repeated name: the last value counts",
			in:   "oom_kill 1\nallocstall_normal 5\noom_kill 2\nallocstall_normal 6\n",
			want: VMStat{OOMKill: 2, HasOOMKill: true, AllocStall: 6, HasAllocStall: true},
		},
		{
			name: "max values",
			in:   "oom_kill 18446744073709551615\n",
			want: VMStat{OOMKill: 18446744073709551615, HasOOMKill: true},
		},
		{name: "empty", in: "", want: VMStat{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseVMStat(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseVMStat (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseVMStatErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"one field", "nr_free_pages 1\noom_kill\n", `line 2: malformed line "oom_kill": want "name value"`},
		{"three fields", "oom_kill 1 2\n", `line 1: malformed line "oom_kill 1 2": want "name value"`},
		{"negative", "a 1\nb 2\nnr_x -1\n", `line 3: malformed line "nr_x -1": value is not an unsigned decimal 64-bit integer`},
		{"hex", "oom_kill 0x10\n", `line 1: malformed line "oom_kill 0x10": value is not an unsigned decimal 64-bit integer`},
		{"overflow", "oom_kill 18446744073709551616\n", `line 1: malformed line "oom_kill 18446744073709551616": value is not an unsigned decimal 64-bit integer`},
		{"sum overflow", "allocstall_dma 18446744073709551615\nallocstall_normal 1\n", "allocstall_* counters add up to more than 64 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := allHas
			err := ParseVMStatBytes([]byte(tt.in), &v)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("ParseVMStatBytes error = %v, want %q", err, tt.want)
			}
			if v != (VMStat{}) {
				t.Errorf("ParseVMStatBytes left %+v after an error, want zero", v)
			}
			root := makeRoot(t, map[string][]byte{VMStatPath: []byte(tt.in)})
			_, err = ReadVMStat(root)
			want := readErr(root, VMStatPath, tt.want)
			if err == nil || err.Error() != want {
				t.Fatalf("ReadVMStat error = %v, want %q", err, want)
			}
		})
	}
}

func TestParseVMStatBytesReuse(t *testing.T) {
	v := allHas
	v.OOMKill = 99
	if err := ParseVMStatBytes([]byte("pgscan_kswapd 4\n"), &v); err != nil {
		t.Fatal(err)
	}
	if want := (VMStat{PgscanKswapd: 4, HasPgscanKswapd: true}); v != want {
		t.Fatalf("ParseVMStatBytes = %+v, want %+v", v, want)
	}
}

func TestReadVMStatMissing(t *testing.T) {
	root := makeRoot(t, nil)
	_, err := ReadVMStat(root)
	want := filepath.Join(root, VMStatPath) + ": no such file or directory"
	if err == nil || err.Error() != want || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadVMStat error = %v, want %q", err, want)
	}
}

func TestParseVMStatBytesAllocs(t *testing.T) {
	data := readFile(t, filepath.Join("testdata", "lab-2.1.11", "22-pressure-45s", "vmstat"))
	var v VMStat
	allocs := testing.AllocsPerRun(100, func() {
		if err := ParseVMStatBytes(data, &v); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ParseVMStatBytes allocates %v times per run, want 0", allocs)
	}
}

func BenchmarkParseVMStatBytes(b *testing.B) {
	data := readFile(b, filepath.Join("testdata", "lab-2.1.11", "22-pressure-45s", "vmstat"))
	var v VMStat
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := ParseVMStatBytes(data, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadVMStat(b *testing.B) {
	data := readFile(b, filepath.Join("testdata", "lab-2.1.11", "22-pressure-45s", "vmstat"))
	root := makeRoot(b, map[string][]byte{VMStatPath: data})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadVMStat(root); err != nil {
			b.Fatal(err)
		}
	}
}
