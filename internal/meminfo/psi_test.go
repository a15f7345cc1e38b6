package meminfo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/testutil"

	"github.com/google/go-cmp/cmp"
)

func TestReadPSILab(t *testing.T) {
	tests := []struct {
		step string
		want PSI
	}{
		{"11-arc-filled", PSI{HasFull: true}},
		{"22-pressure-45s", PSI{
			SomeAvg10: 0.82, SomeAvg60: 0.68, SomeAvg300: 0.18, SomeTotal: 671101,
			FullAvg10: 0.21, FullAvg60: 0.18, FullAvg300: 0.05, FullTotal: 233927,
			HasFull: true,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			data := readFile(t, filepath.Join("testdata", "lab-2.1.11", tt.step, "pressure_memory"))
			got, ok, err := ReadPSI(testutil.OpenRoot(t, makeRoot(t, map[string][]byte{PSIPath: data})))
			if err != nil || !ok {
				t.Fatalf("ReadPSI = %v, %v", ok, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadPSI (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadPSIAbsent(t *testing.T) {
	// A kernel without PSI has no /proc/pressure directory.
	got, ok, err := ReadPSI(testutil.OpenRoot(t, makeRoot(t, map[string][]byte{Path: []byte("MemTotal: 1 kB\n")})))
	if err != nil || ok || got != (PSI{}) {
		t.Fatalf("ReadPSI = %+v, %v, %v; want zero, false, nil", got, ok, err)
	}
}

func TestReadPSI(t *testing.T) {
	tests := []struct {
		name, in string
		want     PSI
	}{
		{
			// cpu pressure on kernels before 5.13 has no "full" line;
			// a line with another first word is skipped.
			name: "some only, unknown line",
			in:   "some avg10=1.50 avg60=2.00 avg300=3.25 total=12345\nnew avg10=1\n",
			want: PSI{SomeAvg10: 1.5, SomeAvg60: 2, SomeAvg300: 3.25, SomeTotal: 12345},
		},
		{
			name: "repeated lines: the last counts, no final newline",
			in: "full avg10=9.00 avg60=9.00 avg300=9.00 total=9\nsome avg10=0.10 avg60=0.20 avg300=0.30 total=4\n" +
				"full avg10=0.01 avg60=0.02 avg300=0.03 total=2",
			want: PSI{SomeAvg10: 0.1, SomeAvg60: 0.2, SomeAvg300: 0.3, SomeTotal: 4,
				FullAvg10: 0.01, FullAvg60: 0.02, FullAvg300: 0.03, FullTotal: 2, HasFull: true},
		},
		{
			// A field a later kernel might add is skipped; the bounds
			// of a percentage are in; "\r\n" and blank lines are whitespace.
			name: "unknown field, bounds, CRLF",
			in:   "\nsome avg10=100.00 avg60=0 avg300=0.00 avg900=7 total=0\r\nfull total=18446744073709551615 avg300=0.00 avg60=0.00 avg10=0.00\r\n",
			want: PSI{SomeAvg10: 100, FullTotal: 18446744073709551615, HasFull: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ReadPSI(testutil.OpenRoot(t, makeRoot(t, map[string][]byte{PSIPath: []byte(tt.in)})))
			if err != nil || !ok {
				t.Fatalf("ReadPSI = %v, %v", ok, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadPSI (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadPSIErrors(t *testing.T) {
	const zeros = "avg10=0.00 avg60=0.00 avg300=0.00 total=0"
	tests := []struct {
		name, in string
		want     string // after "<path>"
		line     int    // the *LineError's line, 0 for none
	}{
		{name: "bad some", in: "some avg10=x avg60=0.00 avg300=0.00 total=0\nfull " + zeros + "\n", line: 1,
			want: `:1: malformed line "some avg10=x avg60=0.00 avg300=0.00 total=0": avg10 "x" is not a percentage`},
		{name: "bad full", in: "some " + zeros + "\nfull avg10=0.00 avg60=0.00 total=0\n", line: 2,
			want: `:2: malformed line "full avg10=0.00 avg60=0.00 total=0": no avg300: want "avg10=… avg60=… avg300=… total=…"`},
		{name: "NaN", in: "some avg10=NaN avg60=0.00 avg300=0.00 total=1\n", line: 1,
			want: `:1: malformed line "some avg10=NaN avg60=0.00 avg300=0.00 total=1": avg10 "NaN" is not a percentage`},
		{name: "above 100", in: "some avg10=0 avg60=100.01 avg300=0 total=1\n", line: 1,
			want: `:1: malformed line "some avg10=0 avg60=100.01 avg300=0 total=1": avg60 "100.01" is not a percentage`},
		{name: "negative", in: "some " + zeros + "\nfull avg10=0 avg60=0 avg300=-0.5 total=1\n", line: 2,
			want: `:2: malformed line "full avg10=0 avg60=0 avg300=-0.5 total=1": avg300 "-0.5" is not a percentage`},
		{name: "infinite", in: "some avg10=+Inf avg60=0 avg300=0 total=1\n", line: 1,
			want: `:1: malformed line "some avg10=+Inf avg60=0 avg300=0 total=1": avg10 "+Inf" is not a percentage`},
		{name: "negative total", in: "some avg10=0 avg60=0 avg300=0 total=-1\n", line: 1,
			want: `:1: malformed line "some avg10=0 avg60=0 avg300=0 total=-1": total "-1" is not an unsigned decimal 64-bit integer`},
		{name: "field without =", in: "some avg10=0 avg60=0 avg300 0 total=1\n", line: 1,
			want: `:1: malformed line "some avg10=0 avg60=0 avg300 0 total=1": field "avg300" is not name=value`},
		{name: "field twice", in: "some avg10=0 avg10=0 avg60=0 avg300=0 total=1\n", line: 1,
			want: `:1: malformed line "some avg10=0 avg10=0 avg60=0 avg300=0 total=1": avg10 appears twice`},
		{name: "empty", in: "", want: `: no "some" line: want "some avg10=… avg60=… avg300=… total=…"`},
		{name: "full only", in: "full " + zeros + "\n", want: `: no "some" line: want "some avg10=… avg60=… avg300=… total=…"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := makeRoot(t, map[string][]byte{PSIPath: []byte(tt.in)})
			got, ok, err := ReadPSI(testutil.OpenRoot(t, root))
			want := filepath.Join(root, PSIPath) + tt.want
			if err == nil || ok || err.Error() != want {
				t.Fatalf("ReadPSI = %v, %v; want error %q", ok, err, want)
			}
			if got != (PSI{}) {
				t.Errorf("ReadPSI returned %+v with its error, want zero", got)
			}
			var le *LineError
			if errors.As(err, &le) != (tt.line > 0) || (le != nil && le.Line != tt.line) {
				t.Errorf("ReadPSI error %#v: want a *LineError on line %d (0: none)", err, tt.line)
			}
		})
	}
}

func TestParsePSITooLarge(t *testing.T) {
	in := "some avg10=0 avg60=0 avg300=0 total=1\n" + strings.Repeat("\n", 256<<10)
	_, err := ParsePSI(strings.NewReader(in))
	if want := "larger than 262144 bytes: not a PSI file"; err == nil || err.Error() != want {
		t.Fatalf("ParsePSI error = %v, want %q", err, want)
	}
}

func TestReadPSIDirectoryError(t *testing.T) {
	// A read error other than "absent" is reported with the path.
	root := makeRoot(t, nil)
	if err := os.MkdirAll(filepath.Join(root, PSIPath), 0o755); err != nil {
		t.Fatal(err)
	}
	_, ok, err := ReadPSI(testutil.OpenRoot(t, root))
	// Only a regular file is read (internal/rootfs).
	want := filepath.Join(root, PSIPath) + ": not a regular file (a directory)"
	if err == nil || ok || err.Error() != want || !errors.Is(err, rootfs.ErrNotRegular) {
		t.Fatalf("ReadPSI = %v, %v; want error %q wrapping rootfs.ErrNotRegular", ok, err, want)
	}
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadPSI error %v should not be ErrNotExist", err)
	}
}

func TestNoPSI(t *testing.T) {
	// A read that fails as with psi=0, wrapped.
	eopnotsupp := fmt.Errorf("x: %w", &fs.PathError{Op: "read", Path: "/proc/pressure/memory", Err: syscall.EOPNOTSUPP})
	if !noPSI(eopnotsupp) {
		t.Errorf("noPSI(%v) = false, want true", eopnotsupp)
	}
	if !noPSI(fmt.Errorf("x: %w", &fs.PathError{Op: "open", Path: "p", Err: syscall.ENOENT})) {
		t.Error("noPSI(ENOENT) = false, want true")
	}
	if noPSI(&fs.PathError{Op: "read", Path: "p", Err: syscall.EIO}) {
		t.Error("noPSI(EIO) = true, want false")
	}
}
