package initramfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

const zfsConf = "options zfs zfs_arc_max=4294967296 zfs_arc_min=1073741824\n"

// got is what a test compares of Contents: segments as "compression:archives:members",
// the modprobe files as path -> content (or "missing"), zfs modules, kernels.
type got struct {
	Segments []string
	Members  int
	Files    map[string]string
	Resolved map[string]string
	ZFS      []string
	Kernels  []string
}

func summarize(c *Contents) got {
	g := got{Members: c.Members, Files: map[string]string{}, Resolved: map[string]string{}}
	for _, s := range c.Segments {
		g.Segments = append(g.Segments, s.Compression+":"+itoa(s.Archives)+":"+itoa(s.Members))
	}
	for _, f := range c.Modprobe {
		if f.Missing {
			g.Files[f.Path] = "missing"
		} else {
			g.Files[f.Path] = string(f.Data)
		}
		if f.Resolved != f.Path {
			g.Resolved[f.Path] = f.Resolved
		}
	}
	g.ZFS, g.Kernels = c.ZFSModules, c.Kernels
	return g
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestParseHandMade(t *testing.T) {
	early := newc(
		member{Name: "kernel", Mode: testutil.CpioDir},
		member{Name: "kernel/x86/microcode/AuthenticAMD.bin", Body: strings.Repeat("\xaa", 1000)},
	)
	main := newc(
		member{Name: ".", Mode: testutil.CpioDir},
		member{Name: "lib", Mode: testutil.CpioLink, Body: "usr/lib"},
		member{Name: "etc/modprobe.d", Mode: testutil.CpioDir},
		member{Name: "etc/modprobe.d/zfs.conf", Body: zfsConf},
		member{Name: "usr/lib/modprobe.d/aliases.conf", Body: "alias foo bar\n"},
		member{Name: "usr/lib/modules/6.1.0-28-amd64", Mode: testutil.CpioDir},
		member{Name: "usr/lib/modules/6.1.0-28-amd64/updates/dkms/zfs.ko.zst", Body: "\x28\xb5\x2f\xfd not really"},
		member{Name: "usr/lib/modules/6.1.0-28-amd64/kernel/fs/ext4/ext4.ko", Body: "not kept"},
	)
	tests := []struct {
		name  string
		image []byte
		want  got
	}{{
		// Debian's layout: the early microcode archive uncompressed, GNU
		// cpio's zero padding, then the main archive compressed. /lib is
		// a symlink to usr/lib, so kmod's /lib/modprobe.d and
		// /usr/lib/modprobe.d are one directory.
		name:  "early microcode then gzip",
		image: cat(early, zeros(512-len(early)%512), gz(t, main)),
		want: got{
			Segments: []string{"none:1:2", "gzip:1:8"},
			Members:  10,
			Files: map[string]string{
				"/etc/modprobe.d/zfs.conf":         zfsConf,
				"/usr/lib/modprobe.d/aliases.conf": "alias foo bar\n",
				"/lib/modprobe.d/aliases.conf":     "alias foo bar\n",
			},
			Resolved: map[string]string{"/lib/modprobe.d/aliases.conf": "/usr/lib/modprobe.d/aliases.conf"},
			ZFS:      []string{"/usr/lib/modules/6.1.0-28-amd64/updates/dkms/zfs.ko.zst"},
			Kernels:  []string{"6.1.0-28-amd64"},
		},
	}, {
		// A file in a later archive replaces the same name in an earlier
		// one (the kernel's clean_path); leading "./" and "/" are dropped.
		name: "later archive wins, names normalised",
		image: cat(
			newc(member{Name: "./etc/modprobe.d/zfs.conf", Body: "options zfs zfs_arc_max=1\n"}),
			gz(t, newc(member{Name: "/etc/modprobe.d/zfs.conf", Body: zfsConf})),
		),
		want: got{
			Segments: []string{"none:1:1", "gzip:1:1"},
			Members:  2,
			Files:    map[string]string{"/etc/modprobe.d/zfs.conf": zfsConf},
			Resolved: map[string]string{},
		},
	}, {
		// A modprobe.d entry that is a symlink to a file elsewhere (what
		// mkinitramfs's copy_file makes of a symlinked host file), and
		// one whose target is not in the image.
		name: "symlinked entries",
		image: gz(t, newc(
			member{Name: "etc/zfs/arc.conf", Body: zfsConf},
			member{Name: "etc/modprobe.d/zfs.conf", Mode: testutil.CpioLink, Body: "/etc/zfs/arc.conf"},
			member{Name: "etc/modprobe.d/gone.conf", Mode: testutil.CpioLink, Body: "../nowhere.conf"},
			member{Name: "etc/modprobe.conf", Body: "options zfs zfs_arc_min=1\n"},
		)),
		want: got{
			Segments: []string{"gzip:1:4"},
			Members:  4,
			Files: map[string]string{
				"/etc/modprobe.d/zfs.conf":  zfsConf,
				"/etc/modprobe.d/gone.conf": "missing",
				"/etc/modprobe.conf":        "options zfs zfs_arc_min=1\n",
			},
			Resolved: map[string]string{
				"/etc/modprobe.d/zfs.conf":  "/etc/zfs/arc.conf",
				"/etc/modprobe.d/gone.conf": "/etc/nowhere.conf",
			},
		},
	}, {
		// Hard links as GNU cpio writes them: the body with the last
		// name, size 0 for the others (the kernel's maybe_link writes it
		// into the shared inode).
		name: "hard links",
		image: newc(
			member{Name: "etc/modprobe.d/a.conf", Ino: 7, Nlink: 2},
			member{Name: "usr/lib/modprobe.d/b.conf", Ino: 7, Nlink: 2, Body: zfsConf},
		),
		want: got{
			Segments: []string{"none:1:2"},
			Members:  2,
			Files: map[string]string{
				"/etc/modprobe.d/a.conf":     zfsConf,
				"/usr/lib/modprobe.d/b.conf": zfsConf,
			},
			Resolved: map[string]string{},
		},
	}, {
		// 070702: the checksum (the sum of the body's bytes) is checked
		// for the bodies kept.
		name:  "crc archive",
		image: newc(member{Name: "etc/modprobe.d/zfs.conf", Body: zfsConf, CRC: true}),
		want: got{
			Segments: []string{"none:1:1"},
			Members:  1,
			Files:    map[string]string{"/etc/modprobe.d/zfs.conf": zfsConf},
			Resolved: map[string]string{},
		},
	}, {
		// Two archives inside one compressed stream, zero padding between
		// them (the kernel's flush_buffer takes '0' as a new archive and
		// NUL as padding).
		name: "two archives in one stream",
		image: gz(t, cat(
			newc(member{Name: "etc/modprobe.d/a.conf", Body: "a\n"}),
			zeros(508),
			newc(member{Name: "etc/modprobe.d/b.conf", Body: "b\n"}),
		)),
		want: got{
			Segments: []string{"gzip:2:2"},
			Members:  2,
			Files: map[string]string{
				"/etc/modprobe.d/a.conf": "a\n",
				"/etc/modprobe.d/b.conf": "b\n",
			},
			Resolved: map[string]string{},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(bytes.NewReader(tc.image), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, summarize(c)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// TestParseOrder: the modprobe files come in modprobe.Dirs order, then by
// name in bytes.
func TestParseOrder(t *testing.T) {
	c, err := Parse(bytes.NewReader(newc(
		member{Name: "usr/lib/modprobe.d/a.conf", Body: "1"},
		member{Name: "etc/modprobe.d/z.conf", Body: "2"},
		member{Name: "etc/modprobe.d/B.conf", Body: "3"},
		member{Name: "run/modprobe.d/m.conf", Body: "4"},
		member{Name: "etc/modprobe.d/notes.txt", Body: "5"},
	)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range c.Modprobe {
		paths = append(paths, f.Path)
	}
	want := []string{
		"/etc/modprobe.d/B.conf", "/etc/modprobe.d/notes.txt", "/etc/modprobe.d/z.conf",
		"/run/modprobe.d/m.conf",
		"/usr/lib/modprobe.d/a.conf",
	}
	if d := cmp.Diff(want, paths); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

// TestStreamEnds: what follows a compressed stream is read as the next
// segment, whatever the decompressor read past the stream's end to find
// that out: another stream, zero padding, an uncompressed archive.
func TestStreamEnds(t *testing.T) {
	a := newc(member{Name: "etc/modprobe.d/a.conf", Body: "a\n"})
	b := newc(member{Name: "etc/modprobe.d/b.conf", Body: "b\n"})
	c := newc(member{Name: "etc/modprobe.d/c.conf", Body: "c\n"})
	for _, cp := range compressors {
		t.Run(cp.name, func(t *testing.T) {
			za := compress(t, cp.tool, cp.args, cp.pkg, a)
			zc := compress(t, cp.tool, cp.args, cp.pkg, c)
			for _, pad := range []int{0, 3, 4, 8} {
				img := cat(za, zeros(pad), b, zc, zeros(pad))
				got, err := Parse(bytes.NewReader(img), Limits{})
				if err != nil {
					t.Fatalf("pad %d: %v", pad, err)
				}
				// The same, read a byte at a time and in odd chunks.
				for _, r := range []io.Reader{iotest.OneByteReader(bytes.NewReader(img)), iotest.HalfReader(bytes.NewReader(img))} {
					again, err := Parse(r, Limits{})
					if err != nil {
						t.Fatalf("pad %d, %T: %v", pad, r, err)
					}
					if d := cmp.Diff(summarize(got), summarize(again)); d != "" {
						t.Fatalf("pad %d, %T: (-whole +pieces)\n%s", pad, r, d)
					}
				}
				s := summarize(got)
				want := []string{cp.segment + ":1:1", "none:1:1", cp.segment + ":1:1"}
				if d := cmp.Diff(want, s.Segments); d != "" {
					t.Errorf("pad %d: segments (-want +got)\n%s", pad, d)
				}
				if len(s.Files) != 3 {
					t.Errorf("pad %d: files %v, want a, b and c", pad, s.Files)
				}
			}
		})
	}
}

// hostile runs Parse on an image that must fail fast and within little
// memory, and checks the error.
func hostile(t *testing.T, img []byte, lim Limits, target error, msg string, maxTime time.Duration, maxAlloc uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := Parse(bytes.NewReader(img), lim)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatalf("no error; want %v", target)
	}
	if !errors.Is(err, target) {
		t.Errorf("error %q is not %v", err, target)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not say %q", err, msg)
	}
	if took > maxTime {
		t.Errorf("took %v, want at most %v", took, maxTime)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > maxAlloc {
		t.Errorf("allocated %d bytes, want at most %d", alloc, maxAlloc)
	}
	t.Logf("%v in %v: %v", target, took.Round(time.Millisecond), err)
}

func TestParseRefuses(t *testing.T) {
	main := cat(
		newc(member{Name: "kernel/x86/microcode/GenuineIntel.bin", Body: strings.Repeat("u", 3000)}),
		gz(t, newc(
			member{Name: "etc/modprobe.d/zfs.conf", Body: zfsConf},
			member{Name: "usr/bin/big", Body: strings.Repeat("x", 100000)},
		)),
	)
	early := len(newc(member{Name: "kernel/x86/microcode/GenuineIntel.bin", Body: strings.Repeat("u", 3000)}))
	if early != 3272 {
		t.Fatalf("early archive is %d bytes, want 3272", early)
	}
	const second, mib = time.Second, uint64(1 << 20)
	tests := []struct {
		name   string
		image  []byte
		lim    Limits
		target error
		msg    string
	}{
		{"dot-dot name", newc(member{Name: "../../etc/x", Body: "options zfs zfs_arc_max=1\n"}), Limits{}, ErrUnsafeName, `member 1 "../../etc/x": unsafe member name: the name has a ".." component: the kernel would unpack it at /etc/x`},
		{"dot-dot inside", gz(t, newc(member{Name: "etc/modprobe.d/../../../etc/modprobe.d/zfs.conf", Body: zfsConf})), Limits{}, ErrUnsafeName, `".." component`},
		{"truncated in an early header", main[:50], Limits{}, ErrTruncated, "offset 0: the archive ends in a member header"},
		{"truncated in an early body", main[:300], Limits{}, ErrTruncated, "the archive ends in a file body"},
		{"truncated before the early trailer", main[:early-124], Limits{}, ErrTruncated, "the archive ends without its trailer (TRAILER!!!)"},
		// early: header 110 + name 38 (37 and its NUL) = 148, a multiple
		// of 4; body 3000, ends at 3148; trailer 110 + 11 = 121, padded
		// to 124: 3272.
		{"truncated in the gzip stream", main[:early+200], Limits{}, ErrTruncated, "gzip segment at image offset 3272"},
		{"truncated before the gzip trailer", main[:len(main)-4], Limits{}, ErrTruncated, "the gzip stream ends early"},
		{"no trailer in a stream", gz(t, newc(member{Name: "a", Body: "1"})[:112+4]), Limits{}, ErrTruncated, "gzip segment"},
		{"lzop", cat([]byte{0x89, 'L', 'Z', 'O', 0, 0x0d, 0x0a, 0x1a, 0x0a}, zeros(40)), Limits{}, ErrUnsupported, "unsupported compression lzop"},
		{"junk", []byte("hello, this is not an initramfs"), Limits{}, ErrFormat, "junk: bytes 68 65 6c 6c 6f 2c 20 74"},
		{"junk after an archive", cat(newc(member{Name: "a", Body: "1"}), []byte("JUNK")), Limits{}, ErrFormat, "image offset 240: not a valid initramfs: junk"},
		{"odc cpio", append([]byte("070707"), zeros(200)...), Limits{}, ErrFormat, "an old portable (odc, 070707) cpio header"},
		{"bad hex", []byte("070701zzzzzzzz" + strings.Repeat("0", 96)), Limits{}, ErrFormat, `cpio header field 1 is "zzzzzzzz"`},
		{"bad checksum", newc(member{Name: "etc/modprobe.d/zfs.conf", Body: zfsConf, BadCRC: true}), Limits{}, ErrFormat, "etc/modprobe.d/zfs.conf: checksum"},
		{"name too long", []byte("070701" + strings.Repeat("0", 88) + "00001001" + "00000000" + strings.Repeat("a", 5000)), Limits{}, ErrFormat, "name size 4097"},
		{"name without NUL", []byte("070701" + strings.Repeat("0", 88) + "00000002" + "00000000" + "ab" + "\x00\x00"), Limits{}, ErrFormat, "does not end with NUL"},
		{"empty", nil, Limits{}, ErrFormat, "the image is empty"},
		{"zeros only", zeros(4096), Limits{}, ErrFormat, "the image is empty"},
		{"too many members", newc(member{Name: "a"}, member{Name: "b"}, member{Name: "c"}), Limits{MaxMembers: 2}, ErrTooLarge, "more than 2 cpio members"},
		{"big modprobe file", newc(member{Name: "etc/modprobe.d/zfs.conf", Body: strings.Repeat("#", 2000)}), Limits{MaxFile: 1000}, ErrTooLarge, "etc/modprobe.d/zfs.conf: 2000 bytes, more than 1000"},
		{"image over the limit", main, Limits{MaxImage: 1000}, ErrTooLarge, "more than 1000 bytes (Limits.MaxImage)"},
		{"unpacked over the limit", main, Limits{MaxUnpacked: 50000}, ErrTooLarge, "more than 50000 bytes unpacked"},
		{"lzma dictionary", cat([]byte{0x5d, 0, 0, 0, 0x40}, bytes.Repeat([]byte{0xff}, 8), zeros(32)), Limits{}, ErrTooLarge, "lzma dictionary of 1073741824 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hostile(t, tc.image, tc.lim, tc.target, tc.msg, second, 16*mib)
		})
	}
}

// TestXZDictionary: an xz block header asking for a 3 GiB dictionary is
// refused before ulikunitz/xz allocates it. The image is xz's own output
// for an empty archive with the dictionary byte of its first block header
// raised to 39 (3 << 30; xz-file-format 5.3.1), the CRC32 after it left
// stale: the check comes first.
func TestXZDictionary(t *testing.T) {
	img := compress(t, "xz", []string{"-c", "--check=crc32"}, "xz-utils", newc(member{Name: "a", Body: "1"}))
	// stream header (12), block header: size, flags, filter id 0x21, props size 1, dict byte
	if img[12+2] != 0x21 || img[12+3] != 1 {
		t.Fatalf("unexpected xz block header % x", img[12:20])
	}
	img[12+4] = 39
	hostile(t, img, Limits{}, ErrTooLarge, "xz dictionary of 3221225472 bytes", time.Second, 16<<20)
}

// TestBombs: gigabytes of zeros compressed; each stops at MaxUnpacked with
// a clear error, in the time it takes to unpack that much, without
// keeping it.
func TestBombs(t *testing.T) {
	zero := make([]byte, 32<<20) // 32 MiB, compressed once per program
	// a regular file "bomb" of 4 GiB - 1 (ino, mode 0100644, uid, gid,
	// nlink, mtime, filesize, 4 device numbers, namesize 5, check)
	hdr := []byte("070701" + "00000001" + "000081a4" + strings.Repeat("0", 16) + "00000001" + "00000000" + "ffffffff" + strings.Repeat("0", 32) + "00000005" + "00000000" + "bomb\x00\x00")
	first := cat(hdr, zero[:len(zero)-len(hdr)])
	for _, cp := range compressors {
		t.Run(cp.name, func(t *testing.T) {
			// One stream: a member of 4 GiB - 1 claimed, stopped at 16 MiB.
			f := compress(t, cp.tool, cp.args, cp.pkg, first)
			hostile(t, f, Limits{MaxUnpacked: 16 << 20}, ErrTooLarge, "more than 16777216 bytes unpacked (Limits.MaxUnpacked): a decompression bomb", 10*time.Second, 100<<20)
			// Three streams of zeros, no archive: the budget is the
			// image's, not a stream's.
			z := compress(t, cp.tool, cp.args, cp.pkg, zero)
			hostile(t, cat(z, z, z), Limits{MaxUnpacked: 64 << 20}, ErrTooLarge, "more than 67108864 bytes unpacked", 10*time.Second, 100<<20)
		})
	}
	// The default limit, 2 GiB, on 96 zstd frames of 32 MiB of zeros
	// (3 GiB) in one segment.
	t.Run("zstd default limit", func(t *testing.T) {
		z := compress(t, "zstd", []string{"-q", "-c"}, "zstd", zero)
		img := compress(t, "zstd", []string{"-q", "-c"}, "zstd", first)
		for i := 0; i < 95; i++ {
			img = append(img, z...)
		}
		t.Logf("a %d-byte image of %d MiB of zeros", len(img), 96*32)
		hostile(t, img, Limits{}, ErrTooLarge, "more than 2147483648 bytes unpacked", 30*time.Second, 100<<20)
	})
}

// TestSparse: a 10 GiB sparse image is refused from its size, before a
// byte is read.
func TestSparse(t *testing.T) {
	root := t.TempDir()
	testutil.WriteTree(t, root, map[string]string{"boot/initrd.img-6.1.0-28-amd64": ""})
	if err := os.Truncate(filepath.Join(root, "boot/initrd.img-6.1.0-28-amd64"), 10<<30); err != nil {
		t.Fatal(err)
	}
	fsys := openRoot(t, root)
	cands, err := Find(fsys, "6.1.0-28-amd64")
	if err != nil || len(cands) != 1 {
		t.Fatalf("Find: %v %v", cands, err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err = Read(fsys, cands[0])
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "initrd.img-6.1.0-28-amd64: over the limit: 10737418240 bytes, more than 1073741824") {
		t.Fatalf("err = %v", err)
	}
	if took > 100*time.Millisecond {
		t.Errorf("took %v", took)
	}
	if a := after.TotalAlloc - before.TotalAlloc; a > 1<<20 {
		t.Errorf("allocated %d bytes", a)
	}
}

// TestGNUCpioHardLinks: hard-linked files as GNU cpio (the one both
// builders run) writes them.
func TestGNUCpioHardLinks(t *testing.T) {
	cpio := testutil.Tool(t, "cpio", "cpio")
	dir := t.TempDir()
	testutil.WriteTree(t, dir, map[string]string{"etc/modprobe.d/a.conf": zfsConf})
	if err := os.MkdirAll(filepath.Join(dir, "usr/lib/modprobe.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "etc/modprobe.d/a.conf"), filepath.Join(dir, "usr/lib/modprobe.d/b.conf")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cpio, "--quiet", "-o", "-H", "newc")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader("etc\netc/modprobe.d\netc/modprobe.d/a.conf\nusr\nusr/lib\nusr/lib/modprobe.d\nusr/lib/modprobe.d/b.conf\n")
	img, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(bytes.NewReader(img), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/etc/modprobe.d/a.conf": zfsConf, "/usr/lib/modprobe.d/b.conf": zfsConf}
	if d := cmp.Diff(want, summarize(c).Files); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}
