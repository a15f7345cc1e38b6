package apply

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/arcadvise/arcadvise/internal/modprobe"
)

// Refusal is an error that stops an act, with the hint that says what to
// do next and the exit status it gives (README, "Exit status"): each
// refusal carries its own, beside the error, and the command prints them
// as they are.
type Refusal struct {
	Err  error
	Hint string
	Code int
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// The exit statuses of refusals.
const (
	CodeRefused = 2 // a value, a write or an act refused: nothing done
	CodeIgnored = 4 // the module ignored a value written live
)

func refused(err error, hint string) *Refusal {
	return &Refusal{Err: err, Hint: hint, Code: CodeRefused}
}

// writeRefusal gives the errors of a write to modprobe.d the hint that
// fits them: an immutable file, a read-only /etc, a permission root does
// not have. Other errors pass as they are.
func writeRefusal(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*modprobe.ImmutableError](err); ok {
		return refused(err, "someone made it immutable on purpose: find out why, then chattr -i -a the file and run again")
	}
	if errors.Is(err, unix.EROFS) {
		return refused(err, "/etc is on a read-only file system (an image-based or immutable system), so nothing was written: set the option where that system keeps its configuration, or on the kernel command line as zfs.zfs_arc_max=N; --live still applies it until the next boot")
	}
	if errors.Is(err, fs.ErrPermission) {
		if os.Geteuid() == 0 {
			return refused(err, "root was refused: a security module (SELinux, AppArmor), a read-only bind mount or the systemd unit's sandbox (ReadWritePaths=) stands in the way")
		}
		return refused(err, "writing modprobe.d and /sys/module/zfs/parameters needs root: run it with sudo")
	}
	return err
}
