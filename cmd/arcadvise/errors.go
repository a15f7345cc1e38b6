package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/arcadvise/arcadvise/internal/apply"
	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/cli"
	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/policy"
)

// Exit codes, documented in README.md.
const (
	exitOK            = 0
	exitDrift         = 1 // --check found the configuration or c_max drifting
	exitUsage         = 2 // usage or input error, or a refused write
	exitOvercommitted = 3 // the reservation leaves no room for a valid cap
	exitIgnored       = 4 // the module ignored a live value
	exitRefusedStart  = 5 // --guard refused a guest's start (strict mode)
)

// exitError carries an exit code and an optional hint to the user.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func inputErr(err error, hint string) error {
	return &exitError{code: exitUsage, err: err, hint: hint}
}

// report prints err the way age does: one line, then an optional hint, and
// returns the exit code.
func reportErr(stderr io.Writer, err error) int {
	code, hint := exitUsage, ""
	if ee, ok := errors.AsType[*exitError](err); ok {
		code, hint = ee.code, ee.hint
	} else if ue, ok := errors.AsType[*cli.UsageError](err); ok {
		hint = ue.Hint
	}
	fmt.Fprintf(stderr, "arcadvise: error: %v\n", err)
	if hint != "" {
		fmt.Fprintf(stderr, "arcadvise: hint: %s\n", hint)
	}
	return code
}

// readErr adds the hint for an error reading the host or its input; auto:
// the reservation includes what the host declares (--reserve auto).
func readErr(err error, auto bool) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, arcstats.ErrNotLoaded):
		return inputErr(err, "is the zfs module loaded? (modprobe zfs; with --root, the snapshot needs proc/spl/kstat/zfs/arcstats)")
	case errors.Is(err, fs.ErrPermission):
		return inputErr(err, "run arcadvise as a user that can read /proc and /sys")
	case errors.Is(err, policy.ErrReserveTooLarge) && auto:
		return inputErr(err, "the host's guests and protected cgroups declare more than it has: see each one with --reserve auto --format json (reservation.sources), count fewer with --guests running, or give the reservation with --reserve SIZE")
	case errors.Is(err, policy.ErrReserveTooLarge):
		return inputErr(err, "--reserve declares the workload's memory; it must leave room for the kernel and the ARC")
	}
	return inputErr(err, "")
}

// applyErr maps an error from applying the recommendation to its exit code and hint.
func applyErr(err error) error {
	if ie, ok := errors.AsType[*apply.IgnoredValueError](err); ok {
		return inputErr(ie, ie.Violation.Why+"; --force writes it anyway")
	}
	if _, ok := errors.AsType[*apply.UnsupportedError](err); ok {
		return inputErr(err, "upgrade OpenZFS; the advice is shown for reference")
	}
	if ne, ok := errors.AsType[*apply.NixOSError](err); ok {
		return inputErr(err, "put boot.extraModprobeConfig = ''"+ne.Line+"''; in configuration.nix, then run nixos-rebuild boot and reboot")
	}
	if _, ok := errors.AsType[*apply.ContainerError](err); ok {
		return inputErr(err, "run arcadvise on the host: the ARC and /sys/module/zfs belong to the host's kernel")
	}
	if _, ok := errors.AsType[*apply.CmdlineError](err); ok {
		return inputErr(err, "remove zfs.zfs_arc_max from the boot loader's kernel command line (e.g. GRUB_CMDLINE_LINUX in /etc/default/grub), or --force to write the file anyway")
	}
	if mi, ok := errors.AsType[*apply.ModuleIgnoredError](err); ok {
		why := "check the kernel log for \"ignoring tunable\""
		if v := mi.Violation; v != nil {
			why = v.Rule + " (" + v.Why + ")"
		}
		return &exitError{code: exitIgnored, err: err, hint: why + "; the write to /sys/module/zfs/parameters succeeds either way"}
	}
	if _, ok := errors.AsType[*modprobe.ImmutableError](err); ok {
		return inputErr(err, "someone made it immutable on purpose: find out why, then chattr -i -a the file and run again")
	}
	if errors.Is(err, fs.ErrPermission) {
		if os.Geteuid() == 0 {
			return inputErr(err, "root was refused: a security module (SELinux, AppArmor), a read-only bind mount or the systemd unit's sandbox (ReadWritePaths=) stands in the way")
		}
		return inputErr(err, "writing modprobe.d and /sys/module/zfs/parameters needs root: run it with sudo")
	}
	if errors.Is(err, unix.EROFS) {
		return inputErr(err, "/etc is on a read-only file system (an image-based or immutable system), so nothing was written: set the option where that system keeps its configuration, or on the kernel command line as zfs.zfs_arc_max=N; --live still applies it until the next boot")
	}
	if errors.Is(err, arcstats.ErrNotLoaded) {
		return readErr(err, false)
	}
	return inputErr(err, "")
}

// interruption is the signal's exit error (130, 143: the context's cause), or nil.
func interruption(ctx context.Context, what string) error {
	if e, ok := context.Cause(ctx).(*exitError); ok {
		return &exitError{code: e.code, err: fmt.Errorf("%w: %s", e.err, what)}
	}
	return nil
}
