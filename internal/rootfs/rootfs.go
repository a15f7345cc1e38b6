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
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
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
}

// Open opens dir as a root.
func Open(dir string) (*FS, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &FS{dir: dir, root: r}, nil
}

// Close releases the root.
func (f *FS) Close() error {
	if f.dirf != nil {
		f.dirf.Close()
	}
	return f.root.Close()
}

// Root is the os.Root, for callers that need more than this package offers.
func (f *FS) Root() *os.Root { return f.root }

// Path is rel as a host path, for messages.
func (f *FS) Path(rel string) string { return filepath.Join(f.dir, filepath.FromSlash(rel)) }

// Resolve follows the symlinks of rel (a slash-separated path relative to
// the root, or absolute from the root) as in a chroot and returns the
// resolved path relative to the root, with no symlink left in it as it was
// seen. A missing component ends the walk and the rest is appended as is,
// so that a file (and directories) about to be created resolve too; a ".."
// after a missing component is ENOENT, as in the kernel.
func (f *FS) Resolve(rel string) (string, error) {
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
		cur := path.Join(append(slices(done), c)...)
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

func slices(s []string) []string { return append([]string(nil), s...) }

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// OpenRegular resolves rel and opens it for reading: non-blocking, not
// through a symlink at the last step, and only if it is a regular file.
func (f *FS) OpenRegular(rel string) (*os.File, error) {
	const flags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOFOLLOW
	if fh, err, ok := f.openat2(rel, os.O_RDONLY|syscall.O_NONBLOCK); ok {
		if err != nil {
			return nil, f.wrap(rel, err)
		}
		return f.regular(rel, fh)
	}
	// The common case first: os.Root walks the path itself, following
	// relative symlinks inside the root. An absolute symlink (which
	// os.Root refuses) or one at the last step takes the chroot walk.
	name := strings.TrimPrefix(rel, "/")
	if name == "" {
		name = "."
	}
	fh, err := f.root.OpenFile(name, flags, 0)
	if strings.Contains(rel, "..") {
		// ".." after a symlink means what the chroot walk says.
		if err == nil {
			fh.Close()
		}
		err = syscall.ELOOP
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
		var res string
		if res, err = f.Resolve(rel); err != nil {
			return nil, err
		}
		if res == "" {
			res = "."
		}
		fh, err = f.root.OpenFile(res, flags, 0)
	}
	if err != nil {
		return nil, f.wrap(rel, err)
	}
	return f.regular(rel, fh)
}

// regular returns fh if it is a regular file, else closes it.
func (f *FS) regular(rel string, fh *os.File) (*os.File, error) {
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, f.wrap(rel, err)
	}
	if !fi.Mode().IsRegular() {
		fh.Close()
		return nil, f.wrap(rel, fmt.Errorf("%w (%s)", ErrNotRegular, Kind(fi.Mode())))
	}
	return fh, nil
}

// ReadFile reads the regular file rel, at most max bytes: a larger file is
// an error wrapping ErrTooLarge.
func (f *FS) ReadFile(rel string, max int64) ([]byte, error) {
	fh, err := f.OpenRegular(rel)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, f.wrap(rel, err)
	}
	if int64(len(b)) > max {
		return nil, f.wrap(rel, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max))
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

// ReadFile opens dir as a root and reads rel from it: the one-file form.
func ReadFile(dir, rel string, max int64) ([]byte, error) {
	f, err := Open(dir)
	if err != nil {
		return nil, (&FS{dir: dir}).wrap(rel, err)
	}
	defer f.Close()
	return f.ReadFile(rel, max)
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

// Lock takes an exclusive flock on the directory dir (resolved), waiting
// up to wait for another holder: arcadvise holds it from the last read of a
// file to its rename, so that two runs cannot both write on the same old
// content. Only arcadvise takes this lock; an editor does not, which is why
// the writer also compares the file with what it planned from.
func (f *FS) Lock(dir string, wait time.Duration) (unlock func(), err error) {
	d, err := f.openDir(dir)
	if err != nil {
		return nil, err
	}
	for end := time.Now().Add(wait); ; time.Sleep(20 * time.Millisecond) {
		err = syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(d.Fd()), syscall.LOCK_UN); d.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(end) {
			d.Close()
			return nil, f.wrap(dir, fmt.Errorf("%w (another arcadvise is writing there)", err))
		}
	}
}

// WriteExisting opens the existing regular file rel (resolved, not through
// a symlink at the last step, never created) and writes data to it, as a
// module parameter in /sys/module/zfs/parameters is written.
func (f *FS) WriteExisting(rel string, data []byte) error {
	res, err := f.Resolve(rel)
	if err != nil {
		return err
	}
	fh, err := f.root.OpenFile(res, os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return f.wrap(rel, err)
	}
	fi, err := fh.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%w (%s)", ErrNotRegular, Kind(fi.Mode()))
	}
	if err == nil {
		_, err = fh.Write(data)
	}
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

// WriteNew writes data to a new temporary file next to rel (rel's directory
// resolved), with perm and, when uid >= 0, that owner, synced, and returns
// its name relative to the root. Nothing is replaced yet: see Commit.
func (f *FS) WriteNew(rel string, data []byte, perm fs.FileMode, uid, gid int) (string, error) {
	dir, base := path.Split(rel)
	tmp := path.Join(dir, TempName(base))
	fh, err := f.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", f.wrap(rel, err)
	}
	_, err = fh.Write(data)
	if err == nil && uid >= 0 {
		err = fh.Chown(uid, gid)
	}
	if err == nil {
		err = fh.Chmod(perm)
	}
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		f.root.Remove(tmp)
		return "", f.wrap(rel, err)
	}
	return tmp, nil
}

// SyncDir fsyncs the directory dir, so that a rename in it is durable.
func (f *FS) SyncDir(dir string) error {
	if dir == "" {
		dir = "."
	}
	d, err := f.root.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
