package initramfs

import (
	"bytes"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// member is a cpio member for the hand-made archives (testutil.Newc).
type member = testutil.CpioMember

// newc writes a newc archive of ms and its TRAILER!!! (testutil.Newc).
func newc(ms ...member) []byte { return testutil.Newc(ms...) }

// gz compresses b with compress/gzip.
func gz(t testing.TB, b []byte) []byte { return testutil.Gzip(t, b) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func zeros(n int) []byte { return make([]byte, n) }

// compressors are the programs the builders run (mkinitramfs and dracut,
// same options where it matters: lz4 -l is the legacy format the kernel
// reads), with the Debian package of each.
var compressors = []struct {
	name    string // as Segment.Compression says it
	tool    string
	args    []string
	pkg     string
	segment string
}{
	{"gzip", "gzip", []string{"-c", "-n"}, "gzip", "gzip"},
	{"bzip2", "bzip2", []string{"-c"}, "bzip2", "bzip2"},
	{"xz", "xz", []string{"-c", "--check=crc32"}, "xz-utils", "xz"},
	{"lzma", "lzma", []string{"-c"}, "xz-utils", "lzma"},
	{"zstd", "zstd", []string{"-q", "-c"}, "zstd", "zstd"},
	{"lz4", "lz4", []string{"-l", "-c"}, "lz4", "lz4"},
	{"lz4-frame", "lz4", []string{"-c"}, "lz4", "lz4-frame"},
}

// compress runs a compressor program on b.
func compress(t testing.TB, tool string, args []string, pkg string, b []byte) []byte {
	return testutil.Compress(t, tool, args, pkg, b)
}
