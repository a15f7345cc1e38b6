package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// OpenTrustedDir opens the directory p on the host itself (not under a
// --root), for a file arcadvise writes there that another user reads, such
// as node_exporter's textfile directory, which belongs to the prometheus
// user on Debian. The path is walked one component at a time without
// following symlinks, except a symlink that only root could have made: one
// in a directory owned by root and writable by nobody else. A user who can
// write a directory on the way could otherwise swap it for a symlink and
// steer the root-run write elsewhere. The directory itself may belong to
// anyone: every write in it goes through the returned Dir, relative to its
// descriptor, so names swapped inside it lead nowhere else. It must be
// writable (a read-only mount is found here, before anything is done).
func OpenTrustedDir(p string) (*Dir, error) {
	if !filepath.IsAbs(p) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, &Error{Path: p, Err: err}
		}
		p = abs
	}
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &Error{Path: "/", Err: err}
	}
	todo := splitPath(p)
	var walked []string
	for links := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		if c == "." {
			continue
		}
		if c == ".." {
			// Go back up by opening ".." of where we are: the
			// path's parent as the kernel sees it.
			nfd, err := unix.Openat(fd, "..", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			unix.Close(fd)
			if err != nil {
				return nil, &Error{Path: p, Err: err}
			}
			fd = nfd
			if len(walked) > 0 {
				walked = walked[:len(walked)-1]
			}
			continue
		}
		nfd, err := unix.Openat(fd, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(fd)
			return nil, &Error{Path: "/" + strings.Join(append(walked, c), "/"), Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(nfd, &st); err != nil {
			unix.Close(nfd)
			unix.Close(fd)
			return nil, &Error{Path: p, Err: err}
		}
		here := "/" + strings.Join(append(walked, c), "/")
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			unix.Close(fd)
			fd = nfd
			walked = append(walked, c)
			continue
		case unix.S_IFLNK:
		default:
			unix.Close(nfd)
			unix.Close(fd)
			return nil, &Error{Path: here, Err: fmt.Errorf("%w (not a directory)", syscall.ENOTDIR)}
		}
		unix.Close(nfd)
		// A symlink: followed only when nobody but root could have put
		// it there.
		var dst unix.Stat_t
		if err := unix.Fstat(fd, &dst); err != nil {
			unix.Close(fd)
			return nil, &Error{Path: p, Err: err}
		}
		if dst.Uid != 0 || dst.Mode&0o022 != 0 {
			unix.Close(fd)
			return nil, &Error{Path: here, Err: fmt.Errorf("refusing to follow this symlink: its directory is writable by uid %d or by others, who could point it anywhere; give the directory's real path", dst.Uid)}
		}
		if links++; links > maxLinks {
			unix.Close(fd)
			return nil, &Error{Path: p, Err: syscall.ELOOP}
		}
		buf := make([]byte, 4096)
		n, err := unix.Readlinkat(fd, c, buf)
		if err != nil {
			unix.Close(fd)
			return nil, &Error{Path: here, Err: err}
		}
		target := string(buf[:n])
		if strings.HasPrefix(target, "/") {
			unix.Close(fd)
			if fd, err = unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
				return nil, &Error{Path: "/", Err: err}
			}
			walked = nil
		}
		todo = append(splitPath(target), todo...)
	}
	pf := os.NewFile(uintptr(fd), p)
	defer pf.Close()
	dfd, err := unix.Open(fdPath(pf), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &Error{Path: p, Err: err}
	}
	if err := unix.Faccessat(dfd, ".", unix.W_OK, unix.AT_EACCESS); err != nil {
		unix.Close(dfd)
		return nil, &Error{Path: p, Err: fmt.Errorf("not writable: %w", err)}
	}
	return newDir(os.NewFile(uintptr(dfd), p), p)
}
