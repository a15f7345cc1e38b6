package meminfo

import (
	"bytes"
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

func TestParseBoostFactor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  string // a substring of the error, "" for none
	}{
		{"15000\n", 15000, ""}, // the default, as proc_dointvec prints it
		{"0\n", 0, ""},         // boosting off (the lane's -boost0 configuration)
		{"5000", 5000, ""},     // no newline
		{" 20000 \n\n", 20000, ""},
		{"2147483647\n", 2147483647, ""}, // INT_MAX, the most the sysctl holds
		{"2147483648\n", 0, `line 1: malformed line "2147483648": want a decimal number from 0 to 2147483647`},
		{"-1\n", 0, "want a decimal number from 0 to 2147483647"},
		{"15000 0\n", 0, "want a decimal number"},
		{"15000\n1\n", 0, `line 2: malformed line "1": the sysctl holds one number, on one line`},
		{"", 0, "empty"},
		{strings.Repeat("1", 5000), 0, "line 1: malformed line \"…\": longer than 4096 bytes"},
		{strings.Repeat("x", 100) + "\n", 0, `"` + strings.Repeat("x", 80) + `…"`},
	} {
		got, err := ParseBoostFactor(strings.NewReader(tc.in))
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseBoostFactor(%.40q) = %d, %v; want %d, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestReadBoostFactor(t *testing.T) {
	root := t.TempDir()
	if _, err := ReadBoostFactor(testutil.OpenRoot(t, root)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no file: %v, want fs.ErrNotExist (older snapshots, kernels before 5.0)", err)
	}
	testutil.WriteTree(t, root, map[string]string{BoostFactorPath: "0\n"})
	if v, err := ReadBoostFactor(testutil.OpenRoot(t, root)); v != 0 || err != nil {
		t.Errorf("ReadBoostFactor = %d, %v; want 0", v, err)
	}
	testutil.WriteTree(t, root, map[string]string{BoostFactorPath: "15000\nx\n"})
	_, err := ReadBoostFactor(testutil.OpenRoot(t, root))
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || !strings.HasSuffix(le.Path, BoostFactorPath) {
		t.Errorf("a second line: %v, want a *LineError naming %s and line 2", err, BoostFactorPath)
	}
}

func TestMaxBoost(t *testing.T) {
	for _, tc := range []struct{ high, factor, want uint64 }{
		{101352 << 10, 15000, 155676672}, // the lane's guests: 1.5 × 98.98 MiB
		{101352 << 10, 0, 0},
		{101352 << 10, 5000, 51892224},
		{3, 15000, 4},                                // 4.5 rounded down
		{10000<<49 + 9999, 15000, 15000<<49 + 14998}, // no overflow, no loss: 9999 × 1.5 = 14998.5
	} {
		if got := MaxBoost(tc.high, tc.factor); got != tc.want {
			t.Errorf("MaxBoost(%d, %d) = %d, want %d", tc.high, tc.factor, got, tc.want)
		}
	}
}

// FuzzParseBoostFactor: a value no larger than INT_MAX that the input's
// first line spells in decimal, or an error; never a panic.
func FuzzParseBoostFactor(f *testing.F) {
	f.Add([]byte("15000\n"))
	f.Add([]byte("0\n"))
	f.Add([]byte("2147483648\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseBoostFactor(bytes.NewReader(data))
		if err != nil {
			if v != 0 {
				t.Fatalf("ParseBoostFactor(%q) = %d with error %v, want 0", data, v, err)
			}
			return
		}
		first, _, _ := strings.Cut(string(data), "\n")
		digits := strings.TrimLeft(strings.TrimSpace(first), "0")
		if digits == "" {
			digits = "0"
		}
		if v > maxBoostFactor || digits != strconv.FormatUint(v, 10) {
			t.Fatalf("ParseBoostFactor(%q) = %d, not the first line's number", data, v)
		}
	})
}
