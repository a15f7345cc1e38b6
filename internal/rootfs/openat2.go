package rootfs

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// openat2 has the kernel resolve rel as a chroot would, in one system call
// (openat2(2), Linux 5.6 and later): RESOLVE_IN_ROOT treats the root as "/"
// for absolute symlinks and "..", RESOLVE_NO_MAGICLINKS refuses /proc magic
// links. os.Root walks a path one openat per component instead, which the
// real-kernel lane measured at ~25 ms per run under emulation (docs/
// real-kernel.md, timing). ok is false when the kernel (or a seccomp
// filter) does not offer openat2, or a rename raced the walk (EAGAIN): the
// caller then takes the os.Root path, which gives the same answer.
func (f *FS) openat2(rel string, flags int) (fh *os.File, err error, ok bool) {
	fd, err, ok := f.openat2FD(rel, flags)
	if !ok || err != nil {
		return nil, err, ok
	}
	return os.NewFile(uintptr(fd), f.Path(rel)), nil, true
}

// openat2FD is openat2 giving the bare descriptor: the readers that only
// look at a file (Stat, Lstat, ReadFile) skip what an *os.File costs at
// each open (an fcntl and an epoll registration, the finalizer), which the
// real-kernel lane's timing counts.
func (f *FS) openat2FD(rel string, flags int) (fd int, err error, ok bool) {
	if noOpenat2.Load() {
		return -1, nil, false
	}
	dirfd, err := f.dirFD()
	if err != nil {
		return -1, nil, false
	}
	name := strings.TrimLeft(rel, "/")
	if name == "" {
		name = "."
	}
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(dirfd, name, &how)
		switch {
		case err == nil:
			return fd, nil, true
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM) && !f.permIsReal(name):
			noOpenat2.Store(true)
			return -1, nil, false
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EXDEV):
			return -1, nil, false
		}
		return -1, &os.PathError{Op: "openat2", Path: rel, Err: err}, true
	}
}

// noOpenat2 is set once openat2 turns out to be unavailable.
var noOpenat2 atomic.Bool

// dirFD is the root directory's descriptor for openat2, opened once.
func (f *FS) dirFD() (int, error) {
	if f.dirf == nil {
		// The root itself, through the handle already open: the root's
		// path is opened once per run (rootfs.Open).
		d, err := f.root.OpenFile(".", os.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err != nil {
			return -1, err
		}
		f.dirf = d
	}
	return int(f.dirf.Fd()), nil
}

// permIsReal tells a real EACCES/EPERM on the file from a seccomp filter
// that refuses openat2 itself: the filter refuses "." too.
func (f *FS) permIsReal(name string) bool {
	if name == "." {
		return false
	}
	fd, err := unix.Openat2(int(f.dirf.Fd()), ".", &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_DIRECTORY, Resolve: unix.RESOLVE_IN_ROOT})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}
