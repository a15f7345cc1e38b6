// Command arcadvise recommends a zfs_arc_max for a Linux host running
// OpenZFS, from what the host shows (arcstats, /proc/meminfo, memory PSI,
// /sys/module/zfs) and the memory the workload needs (--reserve), and shows
// every term of the arithmetic. See README.md and `arcadvise --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"
)

func main() { os.Exit(runMain()) }

// runMain is the process: run on the arguments, with SIGINT, SIGTERM and
// SIGHUP cancelling it (exit 130, 143, 129). A run that is reading ends at
// once; one that has begun to write or apply (acting) finishes that first,
// and its report says so.
func runMain() int {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, unix.SIGTERM, unix.SIGHUP)
	go func() {
		s := (<-sigs).(unix.Signal)
		cancel(&exitError{code: 128 + int(s), err: fmt.Errorf("interrupted by %s", unix.SignalName(s))})
		// Whatever is blocked reading (a hung FUSE file system) ends
		// anyway: at a second signal, or soon. An act in progress is
		// never cut: it is bounded (a lock wait, a read-back) and must
		// not be left half done.
		select {
		case <-sigs:
		case <-time.After(3 * time.Second):
		}
		actMu.Lock() // held to the exit: no act starts now
		if !acted {
			os.Exit(128 + int(s))
		}
		actMu.Unlock() // the run acts, then reports and exits itself
	}()
	return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}
