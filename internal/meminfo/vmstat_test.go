package meminfo

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
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
			got, err := ReadVMStat(testutil.OpenRoot(t, makeRoot(t, map[string][]byte{VMStatPath: data})))
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
		{
			// The longest line bufio.Scanner takes: 64 KiB − 1 bytes
			// before the newline.
			name: "64 KiB - 1 line",
			in:   "oom_kill" + strings.Repeat(" ", 64<<10-1-len("oom_kill")-len("7")) + "7\n",
			want: VMStat{OOMKill: 7, HasOOMKill: true},
		},
		{
			// Exactly 1 MiB is the most it reads; a real file is under 8 KiB.
			name: "1 MiB",
			in:   "oom_kill 1\n" + strings.Repeat("\n", 1<<20-len("oom_kill 1\n")),
			want: VMStat{OOMKill: 1, HasOOMKill: true},
		},
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

func TestParseVMStatTooLarge(t *testing.T) {
	// Past 1 MiB it is not a vmstat file: an error, not a silent cut that
	// could end a counter mid-number.
	in := "oom_kill 1\n" + strings.Repeat("\n", 1<<20-len("oom_kill 1\n")) + "oom_kill 2\n"
	_, err := ParseVMStat(strings.NewReader(in))
	if err == nil || err.Error() != "larger than 1048576 bytes: not a vmstat file" {
		t.Fatalf("ParseVMStat(1 MiB + 11 bytes) = %v", err)
	}
}

func TestParseVMStatErrors(t *testing.T) {
	long := "oom_kill " + strings.Repeat("1", 100) + " 2"
	tests := []struct {
		name, in, want string
		line           int // of the *LineError; 0 for other errors
	}{
		{"one field", "nr_free_pages 1\noom_kill\n", `line 2: malformed line "oom_kill": want "name value"`, 2},
		{"three fields", "oom_kill 1 2\n", `line 1: malformed line "oom_kill 1 2": want "name value"`, 1},
		{"negative", "a 1\nb 2\nnr_x -1\n", `line 3: malformed line "nr_x -1": value is not an unsigned decimal 64-bit integer`, 3},
		{"hex", "oom_kill 0x10\n", `line 1: malformed line "oom_kill 0x10": value is not an unsigned decimal 64-bit integer`, 1},
		{"overflow", "oom_kill 18446744073709551616\n", `line 1: malformed line "oom_kill 18446744073709551616": value is not an unsigned decimal 64-bit integer`, 1},
		{"sum overflow", "allocstall_dma 18446744073709551615\nallocstall_normal 1\n", "allocstall_* counters add up to more than 64 bits", 0},
		// A long malformed line is quoted up to 80 bytes, then "…".
		{"long malformed line", "oom_kill 1\n" + long + "\n",
			`line 2: malformed line "` + long[:80] + `…": want "name value"`, 2},
		// A line of 64 KiB or more (bufio.Scanner's limit, which
		// counts a line of exactly 64 KiB as too long) is not quoted at all.
		{"64 KiB line", "oom_kill 1\nallocstall " + strings.Repeat("1", 64<<10-len("allocstall ")) + "\noom_kill 2\n",
			`line 2: malformed line "…": longer than 64 KiB`, 2},
		{"70000-byte last line", "oom_kill 1\n\nx " + strings.Repeat("9", 70000),
			`line 3: malformed line "…": longer than 64 KiB`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseVMStat(strings.NewReader(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("ParseVMStat error = %v, want %q", err, tt.want)
			}
			if got != (VMStat{}) {
				t.Errorf("ParseVMStat returned %+v with its error, want zero", got)
			}
			var le *LineError
			if isLine := errors.As(err, &le); isLine != (tt.line > 0) || isLine && (le.Line != tt.line || le.Path != "") {
				t.Errorf("ParseVMStat error %#v, want a *LineError for line %d (0: none) without a path", err, tt.line)
			}
			if strings.Contains(tt.want, "64 KiB") && !errors.Is(err, bufio.ErrTooLong) {
				t.Errorf("ParseVMStat error %v does not wrap bufio.ErrTooLong", err)
			}

			// ReadVMStat names the file, as "path:N:" for a line.
			root := makeRoot(t, map[string][]byte{VMStatPath: []byte(tt.in)})
			got, err = ReadVMStat(testutil.OpenRoot(t, root))
			want := readErr(root, VMStatPath, tt.want)
			if err == nil || err.Error() != want {
				t.Fatalf("ReadVMStat error = %v, want %q", err, want)
			}
			if got != (VMStat{}) {
				t.Errorf("ReadVMStat returned %+v with its error, want zero", got)
			}
			if tt.line > 0 && (!errors.As(err, &le) || le.Line != tt.line || le.Path != filepath.Join(root, VMStatPath)) {
				t.Errorf("ReadVMStat error %#v, want a *LineError for line %d with the path", err, tt.line)
			}
		})
	}
}

func TestReadVMStatMissing(t *testing.T) {
	root := makeRoot(t, nil)
	_, err := ReadVMStat(testutil.OpenRoot(t, root))
	want := filepath.Join(root, VMStatPath) + ": no such file or directory"
	if err == nil || err.Error() != want || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadVMStat error = %v, want %q", err, want)
	}
}

func BenchmarkReadVMStat(b *testing.B) {
	data := readFile(b, filepath.Join("testdata", "lab-2.1.11", "22-pressure-45s", "vmstat"))
	root := makeRoot(b, map[string][]byte{VMStatPath: data})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadVMStat(testutil.OpenRoot(b, root)); err != nil {
			b.Fatal(err)
		}
	}
}

// readErr is the error ReadVMStat gives for a file under root for which
// ParseVMStat said parseErr: the path in front, joined as "path:N:" when
// the parser named a line.
func readErr(root, rel, parseErr string) string {
	path := filepath.Join(root, rel)
	if rest, ok := strings.CutPrefix(parseErr, "line "); ok {
		return path + ":" + rest
	}
	return path + ": " + parseErr
}

func TestVMStatLineErrorKeepsRunes(t *testing.T) {
	// The shortened line never ends in half a UTF-8 sequence.
	line := strings.Repeat("a", 79) + "é x y"
	_, err := ParseVMStat(strings.NewReader(line + "\n"))
	le, ok := errors.AsType[*LineError](err)
	if !ok || le.Text != strings.Repeat("a", 79)+"…" {
		t.Fatalf("ParseVMStat = %v", err)
	}
}
