package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/arcadvise/arcadvise/internal/apply"
	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/cli"
	"github.com/arcadvise/arcadvise/internal/initramfs"
	"github.com/arcadvise/arcadvise/internal/policy"
)

// Exit codes, documented in README.md.
const (
	exitOK            = 0
	exitDrift         = 1                 // --check found the configuration or c_max drifting
	exitUsage         = 2                 // usage or input error, or a refused write
	exitOvercommitted = 3                 // the reservation leaves no room for a valid cap
	exitIgnored       = apply.CodeIgnored // the module ignored a live value (4)
	exitRefusedStart  = 5                 // --guard refused a guest's start (strict mode)
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
	case errors.Is(err, initramfs.ErrTruncated), errors.Is(err, initramfs.ErrTooLarge), errors.Is(err, initramfs.ErrFormat), errors.Is(err, initramfs.ErrUnsafeName):
		return inputErr(err, "the boot would not unpack this initramfs image as its builder meant it either: rebuild it (update-initramfs -u -k KERNEL, dracut -f --kver KERNEL) or move it out of /boot; nothing was written")
	}
	return inputErr(err, "")
}

// applyErr maps an error from planning or carrying out an act to its exit
// code and hint: a refusal carries its own (apply.Refusal).
func applyErr(err error) error {
	if r, ok := errors.AsType[*apply.Refusal](err); ok {
		return &exitError{code: r.Code, err: err, hint: r.Hint}
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
