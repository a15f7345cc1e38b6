package initramfs

import (
	"errors"
	"fmt"
	"io"
)

// keep is how many bytes already read input keeps, so that a decompressor
// that read a few bytes past the end of its stream (to look for another
// stream) can be rewound to where the next segment starts.
const keep = 16

// input is the image as Parse reads it: buffered, counted, bounded, able to
// peek ahead and to step back up to keep bytes. It implements io.ByteReader,
// so compress/gzip, compress/bzip2 and ulikunitz/xz read it byte by byte
// where they need to and never past their stream by more than they say.
type input struct {
	r    io.Reader
	buf  []byte
	pos  int   // next byte in buf
	end  int   // end of valid bytes in buf
	off  int64 // image offset of buf[pos]
	read int64 // bytes read from r
	max  int64 // at most this many bytes are read from r
	err  error // sticky error from r (io.EOF at the end)
}

func newInput(r io.Reader, max int64) *input {
	return &input{r: r, buf: make([]byte, 64<<10), max: max}
}

// errImageTooLarge is wrapped when the image holds more than Limits.MaxImage.
var errImageTooLarge = errors.New("image too large")

// fill reads more bytes into buf, moving what is left (and keep bytes of
// history) to the front first. It returns false when nothing more comes.
func (in *input) fill() bool {
	if in.err != nil {
		return false
	}
	if in.end == len(in.buf) {
		h := min(in.pos, keep)
		n := copy(in.buf, in.buf[in.pos-h:in.end])
		in.pos, in.end = h, n
	}
	for tries := 0; tries < 100; tries++ {
		n, err := in.r.Read(in.buf[in.end:])
		in.end += n
		in.read += int64(n)
		if in.read > in.max {
			in.err = fmt.Errorf("%w: more than %d bytes (Limits.MaxImage)", errImageTooLarge, in.max)
			return false
		}
		if err != nil {
			in.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	in.err = io.ErrNoProgress
	return false
}

func (in *input) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if in.pos == in.end && !in.fill() {
		return 0, in.err
	}
	n := copy(p, in.buf[in.pos:in.end])
	in.pos += n
	in.off += int64(n)
	return n, nil
}

func (in *input) ReadByte() (byte, error) {
	if in.pos == in.end && !in.fill() {
		return 0, in.err
	}
	b := in.buf[in.pos]
	in.pos++
	in.off++
	return b, nil
}

// UnreadByte steps back one byte.
func (in *input) UnreadByte() error { return in.rewind(1) }

// peek returns up to n bytes ahead without consuming them (fewer at the end
// of the image). n is at most len(buf)/2.
func (in *input) peek(n int) []byte {
	for in.end-in.pos < n && in.err == nil {
		if len(in.buf)-in.pos < n {
			h := min(in.pos, keep)
			m := copy(in.buf, in.buf[in.pos-h:in.end])
			in.pos, in.end = h, m
		}
		if in.end == len(in.buf) {
			break
		}
		if !in.fill() {
			break
		}
	}
	return in.buf[in.pos:min(in.pos+n, in.end)]
}

// rewind steps back k bytes, k at most keep.
func (in *input) rewind(k int) error {
	if k > in.pos {
		return fmt.Errorf("cannot step back %d bytes at image offset %d", k, in.off)
	}
	in.pos -= k
	in.off -= int64(k)
	return nil
}

func (in *input) Offset() int64 { return in.off }

// srcErr is the error the image's reader ended with, if not its end.
func (in *input) srcErr() error {
	if in.err == io.EOF {
		return nil
	}
	return in.err
}

// budgeted counts the bytes a decompressor produces and stops it past the
// budget: a decompression bomb ends there.
type budgeted struct {
	r    io.Reader
	used *int64
	max  int64
	err  error // the decompressor's own error, kept apart from the budget's
}

// errBomb is wrapped when the image unpacks to more than Limits.MaxUnpacked.
var errBomb = errors.New("unpacks to too many bytes")

func (b *budgeted) Read(p []byte) (int, error) {
	if rest := b.max - *b.used; int64(len(p)) > rest+1 {
		p = p[:rest+1]
	}
	n, err := b.r.Read(p)
	*b.used += int64(n)
	if *b.used > b.max {
		return n, fmt.Errorf("%w: more than %d bytes unpacked (Limits.MaxUnpacked): a decompression bomb, or an image larger than any builder makes", errBomb, b.max)
	}
	if err != nil && err != io.EOF {
		b.err = err
		err = &decompError{err}
	}
	return n, err
}

// decompError is an error of the decompressor itself (not of the cpio
// archive in its output).
type decompError struct{ err error }

func (e *decompError) Error() string { return e.err.Error() }
func (e *decompError) Unwrap() error { return e.err }

// byteBuf is a small buffered reader with one byte of push-back and an
// offset, over a decompressor's output.
type byteBuf struct {
	r        io.Reader
	buf      []byte
	pos, end int
	off      int64
	err      error
}

func newByteBuf(r io.Reader) *byteBuf { return &byteBuf{r: r, buf: make([]byte, 64<<10)} }

func (b *byteBuf) fill() bool {
	if b.err != nil {
		return false
	}
	// keep one byte for UnreadByte
	if b.pos > 0 {
		n := copy(b.buf, b.buf[b.pos-1:b.end])
		b.pos, b.end = 1, n
	}
	for tries := 0; tries < 100; tries++ {
		n, err := b.r.Read(b.buf[b.end:])
		b.end += n
		if err != nil {
			b.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	b.err = io.ErrNoProgress
	return false
}

func (b *byteBuf) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.pos == b.end && !b.fill() {
		return 0, b.err
	}
	n := copy(p, b.buf[b.pos:b.end])
	b.pos += n
	b.off += int64(n)
	return n, nil
}

func (b *byteBuf) ReadByte() (byte, error) {
	if b.pos == b.end && !b.fill() {
		return 0, b.err
	}
	c := b.buf[b.pos]
	b.pos++
	b.off++
	return c, nil
}

func (b *byteBuf) UnreadByte() error {
	if b.pos == 0 {
		return errors.New("byteBuf: nothing to unread")
	}
	b.pos--
	b.off--
	return nil
}

func (b *byteBuf) Offset() int64 { return b.off }

// discard skips n bytes.
func (b *byteBuf) discard(n int64) (int64, error) {
	var done int64
	for done < n {
		if b.pos == b.end && !b.fill() {
			return done, b.err
		}
		k := min(int64(b.end-b.pos), n-done)
		b.pos += int(k)
		b.off += k
		done += k
	}
	return done, nil
}

// discard skips n bytes of the image.
func (in *input) discard(n int64) (int64, error) {
	var done int64
	for done < n {
		if in.pos == in.end && !in.fill() {
			return done, in.err
		}
		k := min(int64(in.end-in.pos), n-done)
		in.pos += int(k)
		in.off += k
		done += k
	}
	return done, nil
}

// skipZeros reads past zero bytes, and returns nil at the first other byte
// (not consumed), or the error that ended the stream.
func (b *byteBuf) skipZeros() error {
	for {
		if b.pos == b.end && !b.fill() {
			return b.err
		}
		i := b.pos
		for i < b.end && b.buf[i] == 0 {
			i++
		}
		b.off += int64(i - b.pos)
		b.pos = i
		if i < b.end {
			return nil
		}
	}
}

// skipZeros reads past zero bytes, and returns nil at the first other byte
// (not consumed), or the error that ended the image (io.EOF at its end).
func (in *input) skipZeros() error {
	for {
		if in.pos == in.end && !in.fill() {
			return in.err
		}
		i := in.pos
		for i < in.end && in.buf[i] == 0 {
			i++
		}
		in.off += int64(i - in.pos)
		in.pos = i
		if i < in.end {
			return nil
		}
	}
}
