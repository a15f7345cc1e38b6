// Command arcadvise recommends a zfs_arc_max for a Linux host running
// OpenZFS, from what the host shows (arcstats, /proc/meminfo, memory PSI,
// /sys/module/zfs) and the memory the workload needs (--reserve), and shows
// every term of the arithmetic. See README.md and `arcadvise --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
