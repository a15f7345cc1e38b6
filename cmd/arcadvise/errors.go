package main

import (
	"errors"
	"fmt"
	"io"
)

// Exit codes, documented in README.md.
const (
	exitOK            = 0
	exitDrift         = 1 // --check found the configuration or c_max drifting
	exitUsage         = 2 // usage or input error, or a refused write
	exitOvercommitted = 3 // the reservation leaves no room for a valid cap
	exitIgnored       = 4 // the module ignored a live value
)

// exitError carries an exit code and an optional hint to the user.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(hint string, format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...), hint: hint}
}

func inputErr(err error, hint string) error {
	return &exitError{code: exitUsage, err: err, hint: hint}
}

// report prints err the way age does: one line, then an optional hint, and
// returns the exit code.
func reportErr(stderr io.Writer, err error) int {
	code := exitUsage
	var hint string
	var ee *exitError
	if errors.As(err, &ee) {
		code, hint = ee.code, ee.hint
	}
	fmt.Fprintf(stderr, "arcadvise: error: %v\n", err)
	if hint != "" {
		fmt.Fprintf(stderr, "arcadvise: hint: %s\n", hint)
	}
	return code
}
