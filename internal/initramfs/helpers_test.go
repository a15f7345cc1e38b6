package initramfs

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os/exec"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// member is a cpio member for the hand-made archives.
type member struct {
	name   string
	mode   uint32 // type and permissions; 0 means a regular file 0644
	body   string // content, or the symlink's target
	ino    uint32 // 0: a fresh one
	nlink  uint32 // 0: 1
	crc    bool   // 070702 with the checksum of body
	badCRC bool   // 070702 with a wrong checksum
}

const (
	modeFile = sIFREG | 0o644
	modeDir  = sIFDIR | 0o755
	modeLink = sIFLNK | 0o777
)

// newc writes a newc archive of ms and its TRAILER!!!, padded to 4 bytes,
// as cpio(5) "New ASCII Format" lays it out (each header 110 bytes, the
// name with its NUL padded to 4, the body padded to 4).
func newc(ms ...member) []byte {
	var b bytes.Buffer
	ino := uint32(100)
	write := func(m member) {
		mode := m.mode
		if mode == 0 {
			mode = modeFile
		}
		if m.ino == 0 {
			ino++
			m.ino = ino
		}
		if m.nlink == 0 {
			m.nlink = 1
		}
		magic, check := "070701", uint32(0)
		if m.crc || m.badCRC {
			magic = "070702"
			for _, c := range []byte(m.body) {
				check += uint32(c)
			}
			if m.badCRC {
				check++
			}
		}
		fmt.Fprintf(&b, "%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
			magic, m.ino, mode, 0, 0, m.nlink, 1700000000, len(m.body), 0, 0, 0, 0, len(m.name)+1, check)
		b.WriteString(m.name)
		b.WriteByte(0)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.WriteString(m.body)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	for _, m := range ms {
		write(m)
	}
	write(member{name: "TRAILER!!!", ino: 0xffffffff})
	return b.Bytes()
}

// gz compresses b with compress/gzip.
func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

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
	t.Helper()
	p := testutil.Tool(t, tool, pkg)
	cmd := exec.Command(p, args...)
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v", tool, args, err)
	}
	return out
}
