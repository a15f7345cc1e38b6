package initramfs

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fuzzLimits keep each input cheap: a bomb or a large dictionary stops at
// once.
var fuzzLimits = Limits{MaxImage: 1 << 20, MaxUnpacked: 4 << 20, MaxMembers: 4096, MaxFile: 64 << 10, MaxWindow: 1 << 20}

// FuzzParse checks that any image either parses or fails with one of
// Parse's errors, never a panic or a hang, and that what it returns holds
// together: paths under the modprobe directories, each one's data present
// unless missing, counts within the limits. The seed corpus
// (testdata/fuzz/FuzzParse) holds images of every compression made by the
// real programs, hand-made archives (links, hard links, checksums) and
// broken ones.
func FuzzParse(f *testing.F) {
	f.Add(newc(member{Name: "etc/modprobe.d/zfs.conf", Body: zfsConf}))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(bytes.NewReader(data), fuzzLimits)
		if err != nil {
			for _, e := range []error{ErrTruncated, ErrTooLarge, ErrUnsafeName, ErrUnsupported, ErrFormat} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("error of no known kind: %v", err)
		}
		if c.Members > fuzzLimits.MaxMembers || c.Unpacked > fuzzLimits.MaxUnpacked || len(c.Segments) == 0 {
			t.Fatalf("members %d, unpacked %d, %d segments", c.Members, c.Unpacked, len(c.Segments))
		}
		n := 0
		for _, s := range c.Segments {
			n += s.Members
		}
		if n != c.Members {
			t.Fatalf("segments count %d members, contents %d", n, c.Members)
		}
		for _, f := range c.Modprobe {
			if !strings.HasPrefix(f.Path, "/") || !strings.HasPrefix(f.Resolved, "/") || strings.Contains(f.Resolved, "..") {
				t.Fatalf("bad paths %+v", f)
			}
			if f.Missing != (f.Data == nil) || int64(len(f.Data)) > fuzzLimits.MaxFile {
				t.Fatalf("bad data %+v", f)
			}
		}
	})
}
