package initramfs

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/arcadvise/arcadvise/internal/modprobe"
)

// Limits bound what Parse reads. A zero field takes its default.
type Limits struct {
	// MaxImage bounds the bytes read from the image (default 1 GiB; the
	// largest Ubuntu and Proxmox images, with firmware, are 100-250 MB).
	MaxImage int64
	// MaxUnpacked bounds the bytes all compressed segments unpack to
	// together (default 2 GiB; real images unpack to 50-600 MB): a
	// decompression bomb stops there.
	MaxUnpacked int64
	// MaxMembers bounds the cpio members of all archives (default 500000;
	// an Ubuntu image with firmware has about 10000).
	MaxMembers int
	// MaxFile bounds one modprobe.d file (default 1 MiB, as on the host).
	MaxFile int64
	// MaxWindow bounds a decompressor's dictionary or window (default
	// 128 MiB: zstd --ultra -22 uses 128 MiB, xz and lzma -9 use 64 MiB),
	// which is memory allocated before a byte is unpacked.
	MaxWindow int64
}

// DefaultLimits are the limits Read uses.
var DefaultLimits = Limits{
	MaxImage:    1 << 30,
	MaxUnpacked: 2 << 30,
	MaxMembers:  500000,
	MaxFile:     1 << 20,
	MaxWindow:   128 << 20,
}

func (l Limits) withDefaults() Limits {
	if l.MaxImage <= 0 {
		l.MaxImage = DefaultLimits.MaxImage
	}
	if l.MaxUnpacked <= 0 {
		l.MaxUnpacked = DefaultLimits.MaxUnpacked
	}
	if l.MaxMembers <= 0 {
		l.MaxMembers = DefaultLimits.MaxMembers
	}
	if l.MaxFile <= 0 {
		l.MaxFile = DefaultLimits.MaxFile
	}
	if l.MaxWindow <= 0 {
		l.MaxWindow = DefaultLimits.MaxWindow
	}
	return l
}

// Bounds on what is kept: besides the modprobe.d files, Parse keeps the
// small files under etc/ and the *.conf files (a modprobe.d entry may be a
// symlink to one of them), and every symlink.
const (
	maxKeptBytes = 32 << 20 // bodies kept in all
	maxKeptFiles = 8192     // bodies kept in all
	maxOtherBody = 64 << 10 // a body kept only as a possible symlink target
	maxKernels   = 64       // kernel versions listed
	maxZFS       = 64       // zfs modules listed
	pathMax      = 4096     // PATH_MAX: the kernel's bound on a name and a symlink target
	maxHops      = 40       // symlinks followed in one resolution, as MAXSYMLINKS
)

// Errors Parse wraps, for errors.Is.
var (
	// ErrTruncated: the image ends inside an archive or a compressed stream.
	ErrTruncated = errors.New("truncated")
	// ErrTooLarge: the image, what it unpacks to, a member count or a
	// modprobe.d file is over its limit.
	ErrTooLarge = errors.New("over the limit")
	// ErrUnsafeName: a member name with a ".." component.
	ErrUnsafeName = errors.New("unsafe member name")
	// ErrUnsupported: a compression arcadvise cannot read (lzop).
	ErrUnsupported = errors.New("unsupported compression")
	// ErrFormat: not an initramfs: bad magic, bad header, junk.
	ErrFormat = errors.New("not a valid initramfs")
)

// Contents is what Parse found in an image.
type Contents struct {
	// Segments are the parts of the image in order: the uncompressed
	// archives first (early microcode, firmware), then the compressed ones.
	Segments []Segment
	// Members counts the cpio members of all archives (trailers excluded).
	Members int
	// Unpacked counts the bytes the compressed segments unpacked to.
	Unpacked int64
	// Modprobe are the files modprobe (kmod) would list in the image's
	// modprobe.d directories, every regular file and symlink directly in
	// them, in the order of modprobe.Dirs and then by name (bytes), and
	// /etc/modprobe.conf last when present. The same file reached through
	// two directories (/lib -> /usr/lib) is listed under both, with the
	// same Resolved.
	Modprobe []File
	// ZFSModules are the zfs module files (zfs.ko, .ko.xz, .ko.zst, .ko.gz)
	// under lib/modules, as image paths ("/usr/lib/modules/6.1.0-28-amd64/updates/dkms/zfs.ko").
	ZFSModules []string
	// Kernels are the kernel versions with a directory under lib/modules.
	Kernels []string
	// Loads says what in the image loads the zfs module, each naming the
	// member and line (see loaders.go); empty when nothing does, and zfs
	// then loads from the initramfs only when the boot's own script needs
	// it to mount / (a root on ZFS).
	Loads []string
}

// Segment is one part of the image.
type Segment struct {
	Offset      int64  // where it starts in the image
	Compression string // "none", "gzip", "bzip2", "lzma", "xz", "lz4" (legacy, as the kernel reads it), "lz4-frame", "zstd"
	Archives    int    // cpio archives (TRAILER!!! seen)
	Members     int    // cpio members in them
	Unpacked    int64  // bytes unpacked (compressed segments)
}

// File is a modprobe configuration file in the image.
type File struct {
	// Path is where kmod finds it: a directory of modprobe.Dirs and the
	// name, or /etc/modprobe.conf.
	Path string
	// Resolved is the member that holds the content, after the image's
	// symlinks (the same as Path when none is involved).
	Resolved string
	// Target is the symlink's target when the entry is a symlink.
	Target string
	// Missing says the entry is a symlink whose target is not a regular
	// file kept from the image (Data is then nil): missing, a directory, or
	// a file neither under etc/ nor named *.conf (only those are kept as
	// possible targets).
	Missing bool
	// Data is the content.
	Data []byte
}

// Compressions lists the compressions of the segments, in order, without
// repeats ("none" for the uncompressed archives).
func (c *Contents) Compressions() []string {
	var out []string
	for _, s := range c.Segments {
		if len(out) == 0 || out[len(out)-1] != s.Compression {
			out = append(out, s.Compression)
		}
	}
	return out
}

// Parse reads an initramfs image as the kernel unpacks it (init/initramfs.c,
// unpack_to_rootfs): concatenated segments, each either an uncompressed
// newc cpio archive (magic 070701, or 070702 with checksums) or a
// compressed stream, told apart by their magic as lib/decompress.c does,
// with zero bytes between them skipped. A compressed stream's output holds
// one or more cpio archives, zero padding between them allowed. Nothing is
// extracted: the bodies of the members Parse does not need are read past
// (decompressed, but not kept). Every bound is in lim.
//
// Member names are taken relative to the image's root: a leading "/" or
// "./" is dropped, as the kernel unpacks into the root of rootfs. A name
// with a ".." component is refused (ErrUnsafeName): the kernel would
// unpack "../../etc/x" at /etc/x, and no initramfs builder writes such a
// name, so an image holding one is not taken at its word.
func Parse(r io.Reader, lim Limits) (*Contents, error) {
	p := newParser(lim)
	if err := p.run(newInput(r, p.lim.MaxImage)); err != nil {
		return nil, err
	}
	return p.contents(), nil
}

type parser struct {
	lim      Limits
	c        Contents
	unpacked int64

	kept      int64             // bytes of bodies kept
	files     map[string][]byte // image path (no leading /) -> body, regular files kept
	links     map[string]string // image path -> symlink target, all symlinks
	kernels   map[string]bool
	zfs       map[string]bool
	present   map[string]bool // members of modulesLoadBinaries seen
	nArchive  int             // archives so far, for hard link keys
	hardlinks map[hlKey]*hlGroup
}

// hlKey identifies an inode within one archive, as the kernel's find_link
// does (init/initramfs.c: ino, major, minor, file type; the table is freed
// at each TRAILER!!!).
type hlKey struct {
	archive           int
	ino, major, minor uint32
	mode              uint32
}

type hlGroup struct {
	names []string
	body  []byte
	has   bool
}

func newParser(lim Limits) *parser {
	return &parser{
		lim:       lim.withDefaults(),
		files:     map[string][]byte{},
		links:     map[string]string{},
		kernels:   map[string]bool{},
		zfs:       map[string]bool{},
		present:   map[string]bool{},
		hardlinks: map[hlKey]*hlGroup{},
	}
}

// byteSource is what the cpio walker reads: the image itself for an
// uncompressed segment, a decompressor's buffered output otherwise.
type byteSource interface {
	io.Reader
	io.ByteReader
	UnreadByte() error
	Offset() int64
	discard(n int64) (int64, error)
}

// Magics, from lib/decompress.c (compressed_formats) and the formats' own
// specifications for the longer forms checked here.
var (
	magicGzip      = []byte{0x1f, 0x8b}
	magicBzip2     = []byte("BZh")
	magicLZMA      = []byte{0x5d, 0x00}
	magicXZ        = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicLZO       = []byte{0x89, 'L', 'Z', 'O'}
	magicLZ4Legacy = []byte{0x02, 0x21, 0x4c, 0x18} // 0x184C2102 little-endian
	magicLZ4Frame  = []byte{0x04, 0x22, 0x4d, 0x18} // 0x184D2204 little-endian
	magicZstd      = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicCpio      = []byte("07070")
)

func (p *parser) run(in *input) error {
	for {
		// Zero bytes between segments are skipped, as unpack_to_rootfs
		// does (GNU cpio pads its output to 512 bytes; builders pad the
		// early archive to 4).
		if err := in.skipZeros(); err != nil {
			if e := in.srcErr(); e != nil {
				return p.imageErr(in, e)
			}
			break
		}
		start := in.Offset()
		head := in.peek(8)
		if bytes.HasPrefix(head, magicCpio) {
			seg := p.segment(start, "none")
			if err := p.archive(in, seg, in); err != nil {
				return p.segErr(seg, in, err)
			}
			if e := in.srcErr(); e != nil {
				return p.imageErr(in, e)
			}
			continue
		}
		comp, err := p.decompressor(in, head)
		if err != nil {
			return fmt.Errorf("image offset %d: %w", start, err)
		}
		seg := p.segment(start, comp.name)
		if err := p.compressed(in, seg, comp); err != nil {
			return err
		}
	}
	if len(p.c.Segments) == 0 {
		return fmt.Errorf("%w: the image is empty (no cpio archive)", ErrFormat)
	}
	return nil
}

// segment starts a segment, or continues the last one when both are
// uncompressed archives one after the other.
func (p *parser) segment(off int64, comp string) *Segment {
	if n := len(p.c.Segments); comp == "none" && n > 0 && p.c.Segments[n-1].Compression == "none" {
		return &p.c.Segments[n-1]
	}
	p.c.Segments = append(p.c.Segments, Segment{Offset: off, Compression: comp})
	return &p.c.Segments[len(p.c.Segments)-1]
}

func (p *parser) imageErr(in *input, err error) error {
	if errors.Is(err, errImageTooLarge) {
		return fmt.Errorf("%w: image offset %d: %w", ErrTooLarge, in.Offset(), err)
	}
	return fmt.Errorf("image offset %d: %w", in.Offset(), err)
}

func (p *parser) segErr(seg *Segment, src byteSource, err error) error {
	if (errors.Is(err, errImageTooLarge) || errors.Is(err, errBomb)) && !errors.Is(err, ErrTooLarge) {
		err = fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	if seg.Compression == "none" {
		return fmt.Errorf("image offset %d: %w", src.Offset(), err)
	}
	return fmt.Errorf("%s segment at image offset %d, unpacked offset %d: %w", seg.Compression, seg.Offset, src.Offset(), err)
}

// comp is a decompressor for one segment, and how it ends.
type comp struct {
	name string
	r    io.Reader
	// over says how many bytes the decompressor reads past its stream
	// before it returns err as its "no further stream here" error: the
	// parser steps back that many to read what follows. Measured with the
	// libraries (see TestStreamEnds).
	over func(err error) (int, bool)
}

func (p *parser) decompressor(in *input, head []byte) (*comp, error) {
	switch {
	case bytes.HasPrefix(head, magicGzip):
		z, err := gzip.NewReader(in)
		if err != nil {
			return nil, p.startErr("gzip", in, err)
		}
		// One member per segment: what follows it is read as the next
		// segment, as the kernel does.
		z.Multistream(false)
		return &comp{name: "gzip", r: z}, nil
	case bytes.HasPrefix(head, magicBzip2):
		// compress/bzip2 reads 'B','Z' after a stream to look for another
		// one (bzip2.go: "bad magic value in continuation file").
		return &comp{name: "bzip2", r: bzip2.NewReader(in), over: func(err error) (int, bool) {
			var se bzip2.StructuralError
			return 2, errors.As(err, &se) && string(se) == "bad magic value in continuation file"
		}}, nil
	case bytes.HasPrefix(head, magicXZ):
		if err := p.checkXZDict(in); err != nil {
			return nil, err
		}
		z, err := xz.ReaderConfig{SingleStream: true}.NewReader(in)
		if err != nil {
			return nil, p.startErr("xz", in, err)
		}
		// With SingleStream, ulikunitz/xz reads one byte past the stream
		// and says "xz: unexpected data after stream" when it is not the end.
		return &comp{name: "xz", r: z, over: func(err error) (int, bool) {
			return 1, err != nil && err.Error() == "xz: unexpected data after stream"
		}}, nil
	case bytes.HasPrefix(head, magicLZMA):
		// The legacy .lzma header: properties, dictionary size, size.
		if len(head) >= 5 {
			if d := int64(binary.LittleEndian.Uint32(head[1:5])); d > p.lim.MaxWindow {
				return nil, fmt.Errorf("%w: lzma dictionary of %d bytes, more than %d (Limits.MaxWindow)", ErrTooLarge, d, p.lim.MaxWindow)
			}
		}
		z, err := lzma.ReaderConfig{DictCap: int(p.lim.MaxWindow)}.NewReader(in)
		if err != nil {
			return nil, p.startErr("lzma", in, err)
		}
		return &comp{name: "lzma", r: z}, nil
	case bytes.HasPrefix(head, magicZstd):
		z, err := zstd.NewReader(in,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(uint64(p.lim.MaxWindow)),
			zstd.WithDecoderMaxMemory(uint64(p.lim.MaxWindow)))
		if err != nil {
			return nil, p.startErr("zstd", in, err)
		}
		// After a frame, klauspost/compress/zstd reads a 4-byte magic to
		// look for the next one (ErrMagicMismatch when it is not).
		return &comp{name: "zstd", r: &zstdCloser{z}, over: func(err error) (int, bool) {
			return 4, errors.Is(err, zstd.ErrMagicMismatch)
		}}, nil
	case bytes.HasPrefix(head, magicLZ4Legacy), bytes.HasPrefix(head, magicLZ4Frame):
		name := "lz4"
		if bytes.HasPrefix(head, magicLZ4Frame) {
			name = "lz4-frame"
		}
		// pierrec/lz4 reads the next 4 bytes as a block size (legacy) or a
		// frame magic, and rejects them when they are neither.
		return &comp{name: name, r: lz4.NewReader(in), over: func(err error) (int, bool) {
			return 4, errors.Is(err, lz4.ErrInvalidFrame) || errors.Is(err, lz4.ErrOptionInvalidBlockSize)
		}}, nil
	case bytes.HasPrefix(head, magicLZO):
		return nil, fmt.Errorf("%w lzop: no well-kept Go library reads lzo; list it with lsinitramfs, or rebuild it with another compression (COMPRESS=zstd in /etc/initramfs-tools/initramfs.conf, compress=\"zstd\" in dracut.conf)", ErrUnsupported)
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x9e:
		return nil, fmt.Errorf("%w: old gzip (1f 9e, pack)", ErrUnsupported)
	}
	return nil, fmt.Errorf("%w: junk: bytes % x are neither a cpio archive (070701) nor a compressed stream the kernel knows (gzip, bzip2, lzma, xz, lzo, lz4, zstd)", ErrFormat, head)
}

type zstdCloser struct{ d *zstd.Decoder }

func (z *zstdCloser) Read(p []byte) (int, error) { return z.d.Read(p) }

func (p *parser) startErr(name string, in *input, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s stream: the image ends in its header", ErrTruncated, name)
	}
	if e := in.srcErr(); e != nil {
		err = e
	}
	if errors.Is(err, errImageTooLarge) {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return fmt.Errorf("%w: %s stream: %w", ErrFormat, name, err)
}

// checkXZDict reads the first block header of an xz stream (xz-file-format
// 1.2.1, sections 2.1.1 and 3.1, LZMA2 properties 5.3.1) and refuses a
// dictionary over MaxWindow: ulikunitz/xz allocates what the header asks.
// Later blocks of the same stream are written by the same encoder.
func (p *parser) checkXZDict(in *input) error {
	h := in.peek(12 + 1024)
	if len(h) < 13 || h[12] == 0 { // no block: an empty stream's index
		return nil
	}
	size := (int(h[12]) + 1) * 4
	if len(h) < 12+size {
		return nil // the decompressor says what is wrong
	}
	bh := h[12 : 12+size]
	flags := bh[1]
	i := 2
	varint := func() (uint64, bool) {
		var v uint64
		for s := 0; i < len(bh) && s < 63; s += 7 {
			b := bh[i]
			i++
			v |= uint64(b&0x7f) << s
			if b&0x80 == 0 {
				return v, true
			}
		}
		return 0, false
	}
	if flags&0x40 != 0 {
		if _, ok := varint(); !ok {
			return nil
		}
	}
	if flags&0x80 != 0 {
		if _, ok := varint(); !ok {
			return nil
		}
	}
	for f := 0; f <= int(flags&3); f++ {
		id, ok1 := varint()
		n, ok2 := varint()
		if !ok1 || !ok2 || i+int(n) > len(bh) {
			return nil
		}
		if id == 0x21 && n == 1 {
			b := bh[i]
			var dict uint64 = 0xffffffff
			if b < 40 {
				dict = uint64(2|b&1) << (b/2 + 11)
			}
			if int64(dict) > p.lim.MaxWindow {
				return fmt.Errorf("%w: xz dictionary of %d bytes, more than %d (Limits.MaxWindow)", ErrTooLarge, dict, p.lim.MaxWindow)
			}
		}
		i += int(n)
	}
	return nil
}

// compressed walks the archives in one compressed segment, then leaves the
// image right after the stream.
func (p *parser) compressed(in *input, seg *Segment, c *comp) error {
	bud := &budgeted{r: c.r, used: &p.unpacked, max: p.lim.MaxUnpacked}
	out := newByteBuf(bud)
	before := p.unpacked
	defer func() {
		seg.Unpacked = p.unpacked - before
		p.c.Unpacked = p.unpacked
	}()
	for {
		if err := out.skipZeros(); err != nil {
			return p.streamEnd(in, seg, out, c, err)
		}
		if err := p.archive(out, seg, in); err != nil {
			if de, ok := errors.AsType[*decompError](err); ok {
				return p.streamErr(in, seg, out, c, de.err, true)
			}
			return p.segErr(seg, out, err)
		}
	}
}

// streamEnd handles the end of a compressed stream's output, at a point
// between archives.
func (p *parser) streamEnd(in *input, seg *Segment, out *byteBuf, c *comp, err error) error {
	if err == io.EOF {
		if e := in.srcErr(); e != nil {
			return p.segErr(seg, out, e)
		}
		return nil
	}
	if de, ok := errors.AsType[*decompError](err); ok {
		return p.streamErr(in, seg, out, c, de.err, false)
	}
	return p.segErr(seg, out, err)
}

// streamErr handles a decompressor's error: the "no further stream" error
// between archives ends the segment (and steps back), anything else is the
// segment's error.
func (p *parser) streamErr(in *input, seg *Segment, out *byteBuf, c *comp, err error, midArchive bool) error {
	if c.over != nil && !midArchive {
		if k, ok := c.over(err); ok {
			if rerr := in.rewind(k); rerr != nil {
				return p.segErr(seg, out, rerr)
			}
			if in.Offset() <= seg.Offset || out.Offset() == 0 {
				return p.segErr(seg, out, fmt.Errorf("%w: %s stream: %w", ErrFormat, c.name, err))
			}
			return nil
		}
	}
	if e := in.srcErr(); e != nil {
		return p.segErr(seg, out, e)
	}
	// Fewer than the bytes the decompressor looks ahead for after its
	// stream, all zeros, at the end of the image: padding after a
	// complete archive, not a cut stream.
	if c.over != nil && !midArchive && seg.Archives > 0 && in.err == io.EOF && errors.Is(err, io.ErrUnexpectedEOF) && in.pos > 0 && in.buf[in.pos-1] == 0 {
		return nil
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || in.err == io.EOF {
		return p.segErr(seg, out, fmt.Errorf("%w: the %s stream ends early (%v)", ErrTruncated, c.name, err))
	}
	return p.segErr(seg, out, fmt.Errorf("%w: %s stream: %w", ErrFormat, c.name, err))
}

// The newc header: magic and 13 fields of 8 hex digits (cpio(5), "New
// ASCII Format"; the kernel's do_header reads the same).
const hdrLen = 110

// archive reads one cpio archive, up to and including its TRAILER!!!.
func (p *parser) archive(r byteSource, seg *Segment, in *input) error {
	p.nArchive++
	defer p.endArchive()
	var hdr [hdrLen]byte
	var name [pathMax]byte
	for {
		off := r.Offset()
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return p.truncated(err, "a member header", off, true)
		}
		if !bytes.HasPrefix(hdr[:], magicCpio) || (hdr[5] != '1' && hdr[5] != '2') {
			if bytes.HasPrefix(hdr[:], []byte("070707")) {
				return fmt.Errorf("%w: offset %d: an old portable (odc, 070707) cpio header: the kernel reads only newc (070701, 070702)", ErrFormat, off)
			}
			return fmt.Errorf("%w: offset %d: bad cpio magic %q (want 070701 or 070702)", ErrFormat, off, printable(hdr[:6]))
		}
		var f [13]uint32
		for i := range f {
			v, err := strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				return fmt.Errorf("%w: offset %d: cpio header field %d is %q, not 8 hex digits", ErrFormat, off, i+1, printable(hdr[6+8*i:14+8*i]))
			}
			f[i] = uint32(v)
		}
		ino, mode, nlink, size := f[0], f[1], f[4], int64(f[6])
		major, minor, namesize, check := f[7], f[8], f[11], f[12]
		crc := hdr[5] == '2'
		if namesize == 0 || namesize > pathMax {
			return fmt.Errorf("%w: offset %d: name size %d (the kernel takes 1 to PATH_MAX, 4096)", ErrFormat, off, namesize)
		}
		nb := name[:namesize]
		if _, err := io.ReadFull(r, nb); err != nil {
			return p.truncated(err, "a member name", off, false)
		}
		if nb[namesize-1] != 0 {
			return fmt.Errorf("%w: offset %d: member name %q does not end with NUL", ErrFormat, off, printable(nb))
		}
		raw := string(nb[:namesize-1])
		if strings.IndexByte(raw, 0) >= 0 {
			return fmt.Errorf("%w: offset %d: member name %q has a NUL inside", ErrFormat, off, printable([]byte(raw)))
		}
		if _, err := r.discard(pad4(hdrLen + int64(namesize))); err != nil {
			return p.truncated(err, "the padding after a name", off, false)
		}
		if raw == "TRAILER!!!" {
			if _, err := r.discard(size + pad4(size)); err != nil {
				return p.truncated(err, "the trailer", off, false)
			}
			seg.Archives++
			return nil
		}
		p.c.Members++
		seg.Members++
		if p.c.Members > p.lim.MaxMembers {
			return fmt.Errorf("%w: more than %d cpio members (Limits.MaxMembers)", ErrTooLarge, p.lim.MaxMembers)
		}
		n, err := cleanName(raw)
		if err != nil {
			return fmt.Errorf("offset %d: member %d %q: %w", off, p.c.Members, printable([]byte(raw)), err)
		}
		if err := p.member(r, n, mode, nlink, hlKey{p.nArchive, ino, major, minor, mode & sIFMT}, size, crc, check, off); err != nil {
			return err
		}
		if _, err := r.discard(pad4(size)); err != nil {
			return p.truncated(err, "the padding after a body", off, false)
		}
	}
}

func pad4(n int64) int64 { return (4 - n%4) % 4 }

func (p *parser) truncated(err error, what string, off int64, atStart bool) error {
	if _, ok := errors.AsType[*decompError](err); ok {
		return err
	}
	if errors.Is(err, errImageTooLarge) || errors.Is(err, errBomb) {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		if atStart && err == io.EOF {
			return fmt.Errorf("%w: offset %d: the archive ends without its trailer (TRAILER!!!)", ErrTruncated, off)
		}
		return fmt.Errorf("%w: offset %d: the archive ends in %s", ErrTruncated, off, what)
	}
	return err
}

const (
	sIFMT  = 0o170000
	sIFREG = 0o100000
	sIFLNK = 0o120000
	sIFDIR = 0o040000
)

// cleanName makes a member name relative to the image root, as the
// kernel, which unpacks into the root of rootfs, takes it. A ".." refuses
// the image.
func cleanName(raw string) (string, error) {
	for _, c := range strings.Split(raw, "/") {
		if c == ".." {
			return "", fmt.Errorf("%w: the name has a \"..\" component: the kernel would unpack it at /%s, which no initramfs builder writes; the image is not read further", ErrUnsafeName, path.Clean("/" + raw)[1:])
		}
	}
	n := path.Clean("/" + raw)
	return strings.TrimPrefix(n, "/"), nil
}

// member handles one member after its name: keeps what Parse needs and
// reads past the rest of its body.
func (p *parser) member(r byteSource, n string, mode, nlink uint32, key hlKey, size int64, crc bool, check uint32, off int64) error {
	typ := mode & sIFMT
	// A later member replaces an earlier one of the same name, as the
	// kernel's clean_path does.
	delete(p.files, n)
	delete(p.links, n)
	for _, b := range modulesLoadBinaries {
		if n == b {
			p.present[n] = true
		}
	}
	switch typ {
	case sIFLNK:
		if size == 0 || size > pathMax {
			return fmt.Errorf("%w: offset %d: symlink %q: target of %d bytes (the kernel takes 1 to PATH_MAX, 4096)", ErrFormat, off, n, size)
		}
		t := make([]byte, size)
		if _, err := io.ReadFull(r, t); err != nil {
			return p.truncated(err, "a symlink target", off, false)
		}
		if len(p.links) < p.lim.MaxMembers {
			p.links[n] = string(t)
		}
		return nil
	case sIFDIR:
		p.noteDir(n)
	case sIFREG:
		p.noteModule(n)
		want, limit := p.wants(n, size)
		if nlink >= 2 {
			g := p.hardlinks[key]
			if g == nil && len(p.hardlinks) < p.lim.MaxMembers {
				g = &hlGroup{}
				p.hardlinks[key] = g
			}
			if g != nil {
				if want {
					g.names = append(g.names, n)
				}
				// The body of a linked group may come with any of its
				// names (GNU cpio puts it on the last one): keep it when
				// a name of the group is wanted.
				if size > 0 && !want && len(g.names) > 0 {
					want, limit = true, p.lim.MaxFile
				}
			}
		}
		if !want {
			break
		}
		if size > limit {
			if isModprobePath(n) {
				return fmt.Errorf("%w: offset %d: %s: %d bytes, more than %d (Limits.MaxFile)", ErrTooLarge, off, n, size, limit)
			}
			break
		}
		if p.kept+size > maxKeptBytes || len(p.files) >= maxKeptFiles {
			if isModprobePath(n) {
				return fmt.Errorf("%w: offset %d: %s: more than %d bytes or %d files of configuration kept", ErrTooLarge, off, n, maxKeptBytes, maxKeptFiles)
			}
			break
		}
		body := make([]byte, size)
		if _, err := io.ReadFull(r, body); err != nil {
			return p.truncated(err, "a file body", off, false)
		}
		if crc {
			var sum uint32
			for _, b := range body {
				sum += uint32(b)
			}
			if sum != check {
				return fmt.Errorf("%w: offset %d: %s: checksum %08x, the header says %08x", ErrFormat, off, n, sum, check)
			}
		}
		p.kept += size
		p.files[n] = body
		if nlink >= 2 {
			if g := p.hardlinks[key]; g != nil && size > 0 {
				g.body, g.has = body, true
			}
		}
		return nil
	}
	if _, err := r.discard(size); err != nil {
		return p.truncated(err, "a file body", off, false)
	}
	return nil
}

// endArchive gives the members of each hard-linked group the group's body
// (the kernel's maybe_link: later names are links to the first, and the
// body is written into the shared inode whichever member carries it).
func (p *parser) endArchive() {
	for k, g := range p.hardlinks {
		if g.has {
			for _, n := range g.names {
				p.files[n] = g.body
			}
		}
		delete(p.hardlinks, k)
	}
}

// wants says whether a regular member's body is kept, and its bound.
func (p *parser) wants(n string, size int64) (bool, int64) {
	if isModprobePath(n) {
		return true, p.lim.MaxFile
	}
	if strings.HasPrefix(n, "etc/") || strings.HasSuffix(n, ".conf") || isLoaderPath(n) {
		return true, min(p.lim.MaxFile, maxOtherBody)
	}
	return false, 0
}

// isModprobePath: a file directly in a directory named modprobe.d, or
// etc/modprobe.conf. (Which of them kmod lists is decided at the end, once
// the image's symlinks are known.)
func isModprobePath(n string) bool {
	return path.Base(path.Dir(n)) == "modprobe.d" || n == "etc/modprobe.conf"
}

// modulesDir splits "lib/modules/<kver>/rest" or "usr/lib/modules/<kver>/rest".
func modulesDir(n string) (kver, rest string, ok bool) {
	n = strings.TrimPrefix(n, "usr/")
	after, ok := strings.CutPrefix(n, "lib/modules/")
	if !ok || after == "" {
		return "", "", false
	}
	kver, rest, _ = strings.Cut(after, "/")
	return kver, rest, true
}

func (p *parser) noteDir(n string) {
	if kver, rest, ok := modulesDir(n); ok && rest == "" && len(p.kernels) < maxKernels {
		p.kernels[kver] = true
	}
}

func (p *parser) noteModule(n string) {
	kver, _, ok := modulesDir(n)
	if !ok || len(p.zfs) >= maxZFS {
		return
	}
	switch path.Base(n) {
	case "zfs.ko", "zfs.ko.xz", "zfs.ko.zst", "zfs.ko.gz":
		p.zfs["/"+n] = true
		if len(p.kernels) < maxKernels {
			p.kernels[kver] = true
		}
	}
}

// resolve follows the image's symlinks in n (an image path without the
// leading /) as in a chroot: an absolute target is taken from the image
// root, ".." stops there. It returns the resolved path, or false after
// maxHops links.
func (p *parser) resolve(n string) (string, bool) {
	todo := strings.Split(n, "/")
	var done []string
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := strings.Join(append(done, c), "/")
		t, ok := p.links[cur]
		if !ok {
			done = append(done, c)
			continue
		}
		if hops++; hops > maxHops {
			return "", false
		}
		if strings.HasPrefix(t, "/") {
			done = nil
		}
		todo = append(strings.Split(t, "/"), todo...)
	}
	return strings.Join(done, "/"), true
}

func (p *parser) contents() *Contents {
	c := p.c
	seen := map[string]bool{}
	for _, d := range modprobe.Dirs {
		dir, ok := p.resolve(strings.TrimPrefix(d, "/"))
		if !ok {
			continue
		}
		var names []string
		for n := range p.files {
			if path.Dir(n) == dir && !seen[d+"/"+path.Base(n)] {
				names = append(names, path.Base(n))
				seen[d+"/"+path.Base(n)] = true
			}
		}
		for n := range p.links {
			if path.Dir(n) == dir && !seen[d+"/"+path.Base(n)] {
				names = append(names, path.Base(n))
				seen[d+"/"+path.Base(n)] = true
			}
		}
		sort.Strings(names)
		for _, name := range names {
			c.Modprobe = append(c.Modprobe, p.file(d+"/"+name, dir+"/"+name))
		}
	}
	if _, ok := p.files["etc/modprobe.conf"]; ok {
		c.Modprobe = append(c.Modprobe, p.file("/etc/modprobe.conf", "etc/modprobe.conf"))
	} else if _, ok := p.links["etc/modprobe.conf"]; ok {
		c.Modprobe = append(c.Modprobe, p.file("/etc/modprobe.conf", "etc/modprobe.conf"))
	}
	for m := range p.zfs {
		c.ZFSModules = append(c.ZFSModules, m)
	}
	sort.Strings(c.ZFSModules)
	for k := range p.kernels {
		c.Kernels = append(c.Kernels, k)
	}
	sort.Strings(c.Kernels)
	c.Loads = p.loaders()
	return &c
}

// file builds the File kmod finds at adminPath, the entry being the image
// member real (its directory already resolved).
func (p *parser) file(adminPath, real string) File {
	f := File{Path: adminPath, Resolved: "/" + real}
	if t, ok := p.links[real]; ok {
		f.Target = t
		res, ok := p.resolve(real)
		if !ok {
			f.Missing = true
			return f
		}
		f.Resolved = "/" + res
		real = res
	}
	if b, ok := p.files[real]; ok {
		f.Data = b
	} else {
		f.Missing = true
	}
	return f
}

// printable quotes at most 64 bytes of b for a message.
func printable(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}
