// Package sample watches the ARC and the kernel's memory pressure signals over
// a window of time.
//
// A [Source] fills a [Tick] with one reading of
// /proc/spl/kstat/zfs/arcstats, /proc/meminfo, /proc/pressure/memory and
// /proc/vmstat. [Live] reads them under a root directory (normally "/"),
// [Replay] reads them from a directory of timed snapshots (the format is
// described in docs/replay.md). [Collect] draws ticks from a source for a
// duration and folds them into a [Window]: counter deltas and rates, the time
// arc_no_grow was set, how often and how far the ARC target c was pulled
// down, the lowest memory_available_bytes, PSI stall time computed from the
// kernel's total stall microseconds, and the peak of memory in use outside
// the ARC. A window keeps O(1) state; the ticks themselves are kept only when
// [Options.KeepSeries] asks for them.
//
// # Counter resets
//
// Every counter the window tracks only grows while the kernel and the ZFS
// module stay up. When a reading is lower than the one before (the zfs
// module was reloaded, or a counter wrapped), the window does not
// subtract: the lower reading becomes the new baseline, that step adds
// nothing to the delta, and [Counter.Resets] counts it. The same rule applies
// to the PSI stall totals. Events between the last reading before a reset and
// the reset itself are therefore not counted.
package sample
