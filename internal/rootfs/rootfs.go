// Package rootfs reads and writes files under a root directory ("/" on the
// host, or a snapshot) without ever leaving it, and without hanging or
// running out of memory on what it finds there.
//
// Paths are resolved as inside a chroot: a symlink is followed, an absolute
// target is taken from the root (a snapshot's /etc/modprobe.d/x.conf ->
// /usr/lib/... stays in the snapshot), and ".." stops at the root. Every
// step goes through Go's os.Root (openat with RESOLVE_BENEATH semantics), so
// a directory swapped for a symlink during the walk cannot lead outside
// either: os.Root refuses it. The last component is opened with O_NOFOLLOW,
// O_NONBLOCK (a FIFO cannot block the open) and checked to be a regular file
// before a byte is read; reads stop at a size fit for the file.
package rootfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrNotRegular is wrapped when a path names something other than a regular
// file (a FIFO, a device, a socket, a directory).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped when a file holds more than the reader's limit.
var ErrTooLarge = errors.New("file too large")

// maxLinks bounds the symlinks followed in one resolution, as the kernel's
// MAXSYMLINKS.
const maxLinks = 40

// FS is a root directory.
type FS struct {
	dir  string
	root *os.Root
	dirf *os.File // the root for openat2, opened on first use
	real string   // the root's name as the kernel gives it (realDir)
	// parent is the FS this one was opened from (Sub), subs the ones
	// opened from it and not closed yet: Close closes them too.
	parent *FS
	subs   map[*FS]bool
}

// Open opens dir as a root.
func Open(dir string) (*FS, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &FS{dir: dir, root: r}, nil
}

// Close releases the root, and the roots opened from it with Sub.
func (f *FS) Close() error {
	for s := range f.subs {
		s.Close()
	}
	if f.parent != nil {
		delete(f.parent.subs, f)
	}
	if f.dirf != nil {
		f.dirf.Close()
	}
	return f.root.Close()
}

// Root is the os.Root, for callers that need more than this package offers.
func (f *FS) Root() *os.Root { return f.root }

// Path is rel as a host path, for messages.
func (f *FS) Path(rel string) string { return filepath.Join(f.dir, filepath.FromSlash(rel)) }

// Dir is the root's host path.
func (f *FS) Dir() string { return f.dir }

// Sub opens the directory rel (resolved inside the root) as a root of its
// own, as a recorded window's snapshots are: still confined, since it is
// opened through this root.
func (f *FS) Sub(rel string) (*FS, error) {
	res, err := f.Resolve(rel)
	if err != nil {
		return nil, err
	}
	if res == "" {
		res = "."
	}
	r, err := f.root.OpenRoot(res)
	if err != nil {
		return nil, f.wrap(rel, err)
	}
	s := &FS{dir: f.Path(res), root: r, parent: f}
	if f.subs == nil {
		f.subs = map[*FS]bool{}
	}
	f.subs[s] = true
	return s, nil
}

// Resolve follows the symlinks of rel (a slash-separated path relative to
// the root, or absolute from the root) as in a chroot and returns the
// resolved path relative to the root, with no symlink left in it as it was
// seen. A missing component ends the walk and the rest is appended as is,
// so that a file (and directories) about to be created resolve too; a ".."
// after a missing component is ENOENT, as in the kernel.
func (f *FS) Resolve(rel string) (string, error) {
	if res, ok := f.resolveFD(rel); ok {
		return res, nil
	}
	todo := splitPath(rel)
	var done []string
	for links := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := path.Join(append(slices.Clone(done), c)...)
		fi, err := f.root.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			// Nothing further to follow: what is missing is to be
			// created. As in the kernel, a missing directory cannot
			// be passed through with "..".
			for _, r := range todo {
				if r == ".." || r == "." {
					return "", f.wrap(rel, syscall.ENOENT)
				}
			}
			return path.Join(append(append(done, c), todo...)...), nil
		}
		if err != nil {
			return "", f.wrap(rel, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if links++; links > maxLinks {
			return "", f.wrap(rel, syscall.ELOOP)
		}
		target, err := f.root.Readlink(cur)
		if err != nil {
			return "", f.wrap(rel, err)
		}
		if strings.HasPrefix(target, "/") {
			done = nil // absolute: from the root
		}
		todo = append(splitPath(target), todo...)
	}
	return path.Join(done...), nil
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// OpenRegular resolves rel and opens it for reading, non-blocking, only if
// it is a regular file. The type is checked on an O_PATH descriptor first,
// so that a FIFO never blocks and a device node's driver never runs (a
// watchdog would be armed by its open), then the same inode is opened for
// reading.
func (f *FS) OpenRegular(rel string) (*os.File, error) {
	pf, err := f.openPath(rel)
	if err != nil {
		return nil, err
	}
	return regularReopen(pf, os.O_RDONLY|syscall.O_NONBLOCK, f.Path(rel))
}

// openPath resolves rel inside the root and opens what it names with
// O_PATH: no I/O, no driver, only a handle to look at.
func (f *FS) openPath(rel string) (*os.File, error) {
	if fh, err, ok := f.openat2(rel, unix.O_PATH); ok {
		return fh, f.wrap(rel, err)
	}
	// Without openat2: the chroot walk, then os.Root opens the path it
	// found, without following a symlink that appeared meanwhile.
	res, err := f.Resolve(rel)
	if err != nil {
		return nil, err
	}
	if res == "" {
		res = "."
	}
	fh, err := f.root.OpenFile(res, unix.O_PATH|syscall.O_NOFOLLOW, 0)
	return fh, f.wrap(rel, err)
}

// ReadFile reads the regular file rel, at most max bytes: a larger file is
// an error wrapping ErrTooLarge.
func (f *FS) ReadFile(rel string, max int64) ([]byte, error) {
	if b, err, ok := f.readFileFD(rel, max); ok {
		return b, err
	}
	fh, err := f.OpenRegular(rel)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := readMax(fh, fileSize(fh), max)
	if err != nil {
		return nil, f.wrap(rel, err)
	}
	return b, nil
}

// openDir opens the directory rel, resolved as in a chroot, non-blocking.
func (f *FS) openDir(rel string) (*os.File, error) {
	const flags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_DIRECTORY
	if d, err, ok := f.openat2(rel, flags); ok {
		return d, f.wrap(rel, err)
	}
	res, err := f.Resolve(rel)
	if err != nil {
		return nil, err
	}
	if res == "" {
		res = "."
	}
	d, err := f.root.OpenFile(res, flags, 0)
	if err != nil {
		return nil, f.wrap(rel, err)
	}
	return d, nil
}

// ReadDir lists the directory rel (resolved).
func (f *FS) ReadDir(rel string) ([]fs.DirEntry, error) {
	d, err := f.openDir(rel)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	des, err := d.ReadDir(-1)
	return des, f.wrap(rel, err)
}

// Lstat is os.Root.Lstat of the resolved parent and the last component.
func (f *FS) Lstat(rel string) (fs.FileInfo, error) {
	if fi, err, ok := f.statFD(strings.TrimSuffix(rel, "/"), unix.O_NOFOLLOW); ok {
		return fi, err
	}
	dir, base := path.Split(strings.TrimSuffix(rel, "/"))
	res, err := f.Resolve(dir)
	if err != nil {
		return nil, err
	}
	fi, err := f.root.Lstat(path.Join(res, base))
	return fi, f.wrap(rel, err)
}

// Stat follows rel to what it names.
func (f *FS) Stat(rel string) (fs.FileInfo, error) {
	if fi, err, ok := f.statFD(rel, 0); ok {
		return fi, err
	}
	res, err := f.Resolve(rel)
	if err != nil {
		return nil, err
	}
	if res == "" {
		res = "."
	}
	fi, err := f.root.Stat(res)
	return fi, f.wrap(rel, err)
}

// wrap names the host path of rel in err, as "PATH: cause", without the
// operation and relative path os errors carry.
func (f *FS) wrap(rel string, err error) error {
	if err == nil {
		return nil
	}
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		err = pe.Err
	}
	return &Error{Path: f.Path(rel), Err: err}
}

// Error is an error about a file under the root: Path is its host path.
type Error struct {
	Path string
	Err  error
}

func (e *Error) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Kind names a file mode for messages.
func Kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a regular file"
}

// WriteExisting writes data to the existing regular file rel (resolved
// inside the root, never created), as "echo VALUE > /sys/module/zfs/
// parameters/NAME" does. Like OpenRegular it looks at the type on an O_PATH
// descriptor before it opens the file for writing.
func (f *FS) WriteExisting(rel string, data []byte) error {
	pf, err := f.openPath(rel)
	if err != nil {
		return err
	}
	fh, err := regularReopen(pf, os.O_WRONLY|os.O_TRUNC|syscall.O_NONBLOCK, f.Path(rel))
	if err != nil {
		return err
	}
	_, err = fh.Write(data)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return f.wrap(rel, err)
}

// TempName is the name of arcadvise's temporary file for base in its
// directory: a dot file (modprobe skips those) that only arcadvise
// produces, ".BASE.arcadvise-<16 hex digits>.tmp".
func TempName(base string) string {
	var b [8]byte
	rand.Read(b[:])
	return "." + base + ".arcadvise-" + hex.EncodeToString(b[:]) + ".tmp"
}

// IsTempName reports whether name is a TempName of base.
func IsTempName(name, base string) bool {
	rest, ok := strings.CutPrefix(name, "."+base+".arcadvise-")
	if !ok {
		return false
	}
	h, ok := strings.CutSuffix(rest, ".tmp")
	if !ok || len(h) != 16 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}
