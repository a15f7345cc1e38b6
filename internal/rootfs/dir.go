package rootfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Dir is a directory held open by its descriptor: the one door every byte
// arcadvise writes goes through (a modprobe.d file and its backups, the
// Prometheus textfile). Names are single components taken relative to the
// descriptor and never followed as symlinks, so a directory or a name
// swapped for a symlink while arcadvise works cannot lead a write anywhere
// else; modes are set with fchmod on the open file, never by path; a file
// takes its place with renameat2 on the descriptor.
type Dir struct {
	r    *os.Root // confined to this directory
	d    *os.File // the directory itself: flock, fsync, renameat2
	path string   // host path, for messages
}

// ErrChanged is wrapped when a file changed between the moment arcadvise
// compared it with what it planned from and the moment it was replaced:
// the replacement is undone and the other change kept.
var ErrChanged = errors.New("changed since it was read")

// OpenDir opens the directory rel under the root (resolved as in a chroot).
func (f *FS) OpenDir(rel string) (*Dir, error) {
	d, err := f.openDir(rel)
	if err != nil {
		return nil, err
	}
	return newDir(d, f.Path(rel))
}

// Writable reports, as an error, why the directory rel could not be
// written (a read-only mount, permissions), before anything is tried: the
// closest existing directory on the way to rel is asked (access(2) with
// W_OK, which knows about read-only mounts).
func (f *FS) Writable(rel string) error {
	res, err := f.Resolve(rel)
	if err != nil {
		return err
	}
	for {
		d, err := f.openDir(res)
		if errors.Is(err, fs.ErrNotExist) && res != "" && res != "." {
			res = path.Dir(res)
			if res == "." {
				res = ""
			}
			continue
		}
		if err != nil {
			return err
		}
		err = unix.Faccessat(int(d.Fd()), ".", unix.W_OK, unix.AT_EACCESS)
		d.Close()
		return f.wrap(res, err)
	}
}

// MkdirAll creates the directory rel under the root and its parents, as
// mkdir -p does, confined to the root: a write, so only an act calls it.
func (f *FS) MkdirAll(rel string, perm fs.FileMode) error {
	res, err := f.Resolve(rel)
	if err != nil {
		return err
	}
	if res == "" {
		return nil
	}
	return f.wrap(rel, f.root.MkdirAll(res, perm))
}

// newDir wraps an open directory; it takes d.
func newDir(d *os.File, hostPath string) (*Dir, error) {
	r, err := os.OpenRoot(fdPath(d))
	if err != nil {
		d.Close()
		return nil, &Error{Path: hostPath, Err: err}
	}
	return &Dir{r: r, d: d, path: hostPath}, nil
}

// Close releases the directory.
func (d *Dir) Close() error {
	d.r.Close()
	return d.d.Close()
}

// Path is the host path of name in the directory, for messages.
func (d *Dir) Path(name string) string { return path.Join(d.path, name) }

func (d *Dir) wrap(name string, err error) error {
	if err == nil {
		return nil
	}
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		err = pe.Err
	}
	if le, ok := errors.AsType[*os.LinkError](err); ok {
		err = le.Err
	}
	return &Error{Path: d.Path(name), Err: err}
}

// checkName refuses anything but a single path component.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid file name %q", name)
	}
	return nil
}

// Lock takes an exclusive flock on the directory, waiting up to wait for
// another holder: arcadvise holds it from the last read of a file to its
// rename, so that two runs cannot both write on the same old content. Only
// arcadvise takes this lock; an editor does not, which is why Commit also
// compares the file with what was planned from.
func (d *Dir) Lock(wait time.Duration) (unlock func(), err error) {
	fd := int(d.d.Fd())
	for end := time.Now().Add(wait); ; time.Sleep(20 * time.Millisecond) {
		err = syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(fd, syscall.LOCK_UN) }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(end) {
			return nil, &Error{Path: d.path, Err: fmt.Errorf("%w (another arcadvise is writing there)", err)}
		}
	}
}

// Sync fsyncs the directory, so that renames in it are durable.
func (d *Dir) Sync() error { return d.wrap(".", d.d.Sync()) }

// Names lists the directory.
func (d *Dir) Names() ([]string, error) {
	f, err := d.r.OpenFile(".", os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, d.wrap(".", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	return names, d.wrap(".", err)
}

// Lstat describes name without following a symlink.
func (d *Dir) Lstat(name string) (fs.FileInfo, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	fi, err := d.r.Lstat(name)
	return fi, d.wrap(name, err)
}

// Remove removes name (not a directory).
func (d *Dir) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return d.wrap(name, d.r.Remove(name))
}

// Link gives the file old the new name too; it fails with fs.ErrExist
// rather than replace a file.
func (d *Dir) Link(old, new string) error {
	if err := errors.Join(checkName(old), checkName(new)); err != nil {
		return err
	}
	return d.wrap(new, unix.Linkat(int(d.d.Fd()), old, int(d.d.Fd()), new, 0))
}

// Symlink creates the symlink name pointing to target; it fails with
// fs.ErrExist rather than replace a file.
func (d *Dir) Symlink(target, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return d.wrap(name, unix.Symlinkat(target, int(d.d.Fd()), name))
}

// State is what a name in a directory holds, read without following a
// symlink at the name itself.
type State struct {
	Exists  bool
	Symlink bool   // the name is a symlink: Target is where it points
	Target  string // (its content, the file it leads to, is not read here)
	Data    []byte // a regular file's content
	Mode    fs.FileMode
	UID     int
	GID     int
	// Immutable is set when the file has the immutable or append-only
	// attribute (chattr +i, +a): not even root can replace it.
	Immutable bool
}

// Equal reports whether two states hold the same thing: both absent, the
// same symlink target, or the same content.
func (s State) Equal(t State) bool {
	return s.Exists == t.Exists && s.Symlink == t.Symlink && s.Target == t.Target && bytes.Equal(s.Data, t.Data)
}

// Read reads what name holds, at most max bytes of a regular file. A
// FIFO, a device or a directory is refused without being opened for I/O.
func (d *Dir) Read(name string, max int64) (State, error) {
	var st State
	if err := checkName(name); err != nil {
		return st, err
	}
	fi, err := d.r.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, d.wrap(name, err)
	}
	st.Exists, st.Mode = true, fi.Mode().Perm()
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.UID, st.GID = int(sys.Uid), int(sys.Gid)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		st.Symlink = true
		st.Target, err = d.r.Readlink(name)
		return st, d.wrap(name, err)
	}
	fh, err := d.OpenRegular(name)
	if err != nil {
		return st, err
	}
	defer fh.Close()
	st.Immutable = Immutable(fh)
	st.Data, err = readMax(fh, fileSize(fh), max)
	return st, d.wrap(name, err)
}

// OpenRegular opens name for reading when it is a regular file, not
// through a symlink; the type is checked on an O_PATH descriptor before the
// file is opened for I/O, so a device's driver never runs.
func (d *Dir) OpenRegular(name string) (*os.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	pf, err := d.r.OpenFile(name, unix.O_PATH|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, d.wrap(name, err)
	}
	return regularReopen(pf, os.O_RDONLY|syscall.O_NONBLOCK, d.Path(name))
}

// readMax reads r to its end, at most max bytes: more is an error
// wrapping ErrTooLarge. size is what fstat said (0 for most of /proc and
// /sys), a hint for the first buffer, so that a file is read in one call
// and its end seen by the next.
func readMax(r io.Reader, size, max int64) ([]byte, error) {
	lim := max + 1 // one more than max: to tell "exactly max" from "more"
	if lim <= 0 {
		lim = math.MaxInt64
	}
	n := int64(4096)
	if size > 0 {
		n = size + 1
	}
	b := make([]byte, 0, min(n, lim))
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow
			if int64(cap(b)) > lim {
				b = b[:len(b):lim]
			}
		}
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if int64(len(b)) > max {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
		}
		switch {
		case err == io.EOF:
			return b, nil
		case err != nil:
			return nil, err
		}
	}
}

// The inode flags of chattr +i and +a (linux/fs.h).
const (
	fsImmutableFL = 0x00000010
	fsAppendFL    = 0x00000020
)

// Immutable reports whether f has the immutable or append-only attribute.
func Immutable(f *os.File) bool {
	flags, err := unix.IoctlGetInt(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	return err == nil && flags&(fsImmutableFL|fsAppendFL) != 0
}

// Staged is new content in a temporary file of the directory, written,
// given its final mode, owner and extended attributes, and synced: all of a
// replacement but the rename (Commit), so that nothing slow stands between
// the last comparison and the rename.
type Staged struct {
	d    *Dir
	Name string // the temporary name, TempName(base)
	ino  uint64
	// ours are this process's descriptors on the file being replaced
	// (Attrs.XattrsFrom): not another writer's.
	ours []int
}

// Attrs are the mode, owner and extended attributes a staged file takes.
type Attrs struct {
	Perm fs.FileMode
	// UID and GID are the owner; -1 leaves the creator's.
	UID, GID int
	// XattrsFrom, when set, is the file whose extended attributes (POSIX
	// ACLs, the SELinux label, user attributes) the new file gets, so
	// that a rewritten file keeps them.
	XattrsFrom *os.File
}

// Stage writes data to a new temporary file named for base (TempName),
// with attrs, synced. Discard removes it; Commit puts it in place.
func (d *Dir) Stage(base string, data []byte, attrs Attrs) (*Staged, error) {
	if err := checkName(base); err != nil {
		return nil, err
	}
	tmp := TempName(base)
	fh, err := d.r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, d.wrap(base, err)
	}
	_, err = fh.Write(data)
	if err == nil && attrs.XattrsFrom != nil {
		err = copyXattrs(fh, attrs.XattrsFrom)
	}
	if err == nil && attrs.UID >= 0 {
		err = fh.Chown(attrs.UID, attrs.GID) // fchown: the open file, not a path
	}
	if err == nil {
		err = fh.Chmod(attrs.Perm) // fchmod, after fchown (which clears set-id bits)
	}
	if err == nil {
		err = fh.Sync()
	}
	var ino uint64
	if err == nil {
		ino, err = inode(fh)
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.r.Remove(tmp)
		return nil, d.wrap(base, err)
	}
	st := &Staged{d: d, Name: tmp, ino: ino}
	if attrs.XattrsFrom != nil {
		st.ours = append(st.ours, int(attrs.XattrsFrom.Fd()))
	}
	return st, nil
}

// writerWait bounds how long Commit waits for another process to close the
// file it replaced (an editor between its open and its write).
const writerWait = 2 * time.Second

// waitWriters waits, up to writerWait, until no other process holds the
// displaced file (now at s.Name) open for writing.
func (s *Staged) waitWriters() {
	fi, err := s.d.r.Lstat(s.Name)
	if err != nil {
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	for end := time.Now().Add(writerWait); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if len(writers(uint64(st.Dev), st.Ino, s.ours, 500*time.Millisecond)) == 0 {
			return
		}
	}
}

// Discard removes the staged file, if it is still the one Stage wrote.
func (s *Staged) Discard() {
	if s.owns(s.Name) {
		s.d.r.Remove(s.Name)
	}
}

// owns reports whether name is the staged file itself (the same inode).
func (s *Staged) owns(name string) bool {
	fi, err := s.d.r.Lstat(name)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Ino == s.ino && fi.Mode().IsRegular()
}

// Commit puts the staged file at name. With want nil it simply renames
// over name (the textfile, which nobody edits). Otherwise name must hold
// what want says (absent, the same content, the same symlink target) at
// the moment of the swap, or nothing is replaced and the error wraps
// ErrChanged:
//
//   - name is read and compared with want; there is no fsync between this
//     comparison and the swap (Stage synced the new file already).
//   - The staged file and name are exchanged atomically (renameat2
//     RENAME_EXCHANGE; RENAME_NOREPLACE when name must not exist), and
//     what was displaced is compared with want again: an edit that landed
//     between the first comparison and the swap is caught there, and the
//     exchange is undone, putting the edit back.
//   - On a file system without RENAME_EXCHANGE (OpenZFS before 2.2 among
//     them: EINVAL) the comparison is followed at once by a plain rename.
//
// The displaced old file is removed. max bounds the comparison read.
func (s *Staged) Commit(name string, want *State, max int64) error {
	d := s.d
	if err := checkName(name); err != nil {
		return err
	}
	dfd := int(d.d.Fd())
	if want == nil {
		// In a directory another user can write (the textfile's), that
		// user may have swapped the staged name for something else:
		// renaming it into place would publish their file as ours.
		if !s.owns(s.Name) {
			return d.wrap(name, fmt.Errorf("arcadvise's temporary file %s was replaced by someone else: nothing written", s.Name))
		}
		return d.wrap(name, unix.Renameat(dfd, s.Name, dfd, name))
	}
	changed := func() error {
		return d.wrap(name, fmt.Errorf("%w (another arcadvise, or an edit): nothing written; run again", ErrChanged))
	}
	if !want.Exists {
		err := unix.Renameat2(dfd, s.Name, dfd, name, unix.RENAME_NOREPLACE)
		switch {
		case errors.Is(err, unix.EEXIST):
			return changed()
		case errors.Is(err, unix.EINVAL):
			got, rerr := d.Read(name, max)
			if rerr != nil {
				return rerr
			}
			if got.Exists {
				return changed()
			}
			err = unix.Renameat(dfd, s.Name, dfd, name)
		}
		return d.wrap(name, err)
	}
	got, err := d.Read(name, max)
	if err != nil {
		return err
	}
	if !got.Equal(*want) {
		return changed()
	}
	err = unix.Renameat2(dfd, s.Name, dfd, name, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.EINVAL) {
		return d.wrap(name, unix.Renameat(dfd, s.Name, dfd, name))
	}
	if err != nil {
		return d.wrap(name, err)
	}
	// s.Name now holds what name held at the instant of the swap. It is
	// compared at once, and again once the directory is synced and no
	// other process holds it open for writing: an editor that opened the
	// old file just before the swap writes to it after, and it is then
	// put back.
	for pass := 0; pass < 2; pass++ {
		if pass == 1 {
			if err := d.Sync(); err != nil {
				return err
			}
			s.waitWriters()
		}
		displaced, err := d.Read(s.Name, max)
		if err == nil && displaced.Equal(*want) {
			continue
		}
		// Put the other change back where it was.
		if uerr := unix.Renameat2(dfd, s.Name, dfd, name, unix.RENAME_EXCHANGE); uerr != nil {
			return d.wrap(name, fmt.Errorf("%w; putting it back failed too (%v): the other version is at %s", ErrChanged, uerr, s.Name))
		}
		s.Discard()
		return errors.Join(err, changed())
	}
	d.r.Remove(s.Name)
	return nil
}

// regularReopen checks that the O_PATH file pf is a regular file and opens
// it for I/O with flags through /proc/self/fd (the same inode, whatever
// happened to the path since); it closes pf.
func regularReopen(pf *os.File, flags int, hostPath string) (*os.File, error) {
	defer pf.Close()
	fi, err := pf.Stat()
	if err != nil {
		return nil, &Error{Path: hostPath, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Path: hostPath, Err: fmt.Errorf("%w (%s)", ErrNotRegular, Kind(fi.Mode()))}
	}
	fd, err := unix.Open(fdPath(pf), flags|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &Error{Path: hostPath, Err: err}
	}
	return os.NewFile(uintptr(fd), hostPath), nil
}

// fdPath is the /proc/self/fd path of an open file: opening it opens the
// very file the descriptor refers to.
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

func inode(f *os.File) (uint64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino, nil
	}
	return 0, errors.New("no inode number")
}

// copyXattrs gives dst every extended attribute of src: POSIX ACLs
// (system.posix_acl_access), the SELinux label (security.selinux), user
// and trusted attributes. A file system without extended attributes has
// none to copy.
func copyXattrs(dst, src *os.File) error {
	sz, err := unix.Flistxattr(int(src.Fd()), nil)
	if errors.Is(err, unix.ENOTSUP) || sz == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing extended attributes: %w", err)
	}
	buf := make([]byte, sz)
	if sz, err = unix.Flistxattr(int(src.Fd()), buf); err != nil {
		return fmt.Errorf("listing extended attributes: %w", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		vs, err := unix.Fgetxattr(int(src.Fd()), name, nil)
		if err != nil {
			return fmt.Errorf("reading extended attribute %s: %w", name, err)
		}
		val := make([]byte, vs)
		if vs, err = unix.Fgetxattr(int(src.Fd()), name, val); err != nil {
			return fmt.Errorf("reading extended attribute %s: %w", name, err)
		}
		if err := unix.Fsetxattr(int(dst.Fd()), name, val[:vs], 0); err != nil {
			return fmt.Errorf("copying extended attribute %s: %w", name, err)
		}
	}
	return nil
}

// fileSize is f's size from fstat, 0 when it cannot be had (a hint).
func fileSize(f *os.File) int64 {
	if fi, err := f.Stat(); err == nil {
		return fi.Size()
	}
	return 0
}
