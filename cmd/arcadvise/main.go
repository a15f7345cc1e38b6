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

// runMain is the process: run on the arguments, with SIGINT and SIGTERM
// cancelling it (exit 130, 143).
func runMain() int {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, unix.SIGTERM)
	go func() {
		s := (<-sigs).(unix.Signal)
		cancel(&exitError{code: 128 + int(s), err: fmt.Errorf("interrupted by %s", unix.SignalName(s))})
		// Whatever is blocked ends anyway: at a second signal, or soon.
		select {
		case <-sigs:
		case <-time.After(3 * time.Second):
		}
		os.Exit(128 + int(s))
	}()
	return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}
