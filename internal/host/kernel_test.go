package host

import (
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

func TestParseKernelRelease(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"6.1.0-57-amd64\n", "6.1.0-57-amd64", ""},                           // the lane's Debian guest
		{"6.18.44-fc-v857\n", "6.18.44-fc-v857", ""},                         // this project's build machine
		{"5.14.0-427.13.1.el9_4.x86_64", "5.14.0-427.13.1.el9_4.x86_64", ""}, // no newline
		{"", "", "empty"},
		{"\n", "", "empty"},
		{"6.1 0\n", "", "is not a kernel release"},
		{"6.1\x00\n", "", "is not a kernel release"},
		{strings.Repeat("9", 65) + "\n", "", "more than a kernel release holds"},
	} {
		got, err := ParseKernelRelease(strings.NewReader(tc.in))
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseKernelRelease(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestReadKernelRelease(t *testing.T) {
	root := t.TempDir()
	if rel, err := readKernelRelease(testutil.OpenRoot(t, root)); rel != "" || err != nil {
		t.Errorf("no file: %q, %v; want \"\", nil (older snapshots)", rel, err)
	}
	testutil.WriteTree(t, root, map[string]string{KernelPath: "6.1.0-57-amd64\n"})
	if rel, err := readKernelRelease(testutil.OpenRoot(t, root)); rel != "6.1.0-57-amd64" || err != nil {
		t.Errorf("readKernelRelease = %q, %v", rel, err)
	}
	testutil.WriteTree(t, root, map[string]string{KernelPath: "not a release\n"})
	if _, err := readKernelRelease(testutil.OpenRoot(t, root)); err == nil || !strings.Contains(err.Error(), KernelPath) {
		t.Errorf("bad release: %v, want an error naming %s", err, KernelPath)
	}
}

// FuzzParseKernelRelease: a release, or an error; never a release with a
// space, a control byte or more than 64 bytes.
func FuzzParseKernelRelease(f *testing.F) {
	f.Add([]byte("6.1.0-57-amd64\n"))
	f.Add([]byte("5.14.0-427.13.1.el9_4.x86_64"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rel, err := ParseKernelRelease(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		if rel == "" || len(rel) > 64 || strings.ContainsAny(rel, " \n\t\x00") {
			t.Fatalf("ParseKernelRelease(%q) = %q", data, rel)
		}
	})
}
