package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// cmdSnapshot copies one of the repository's host snapshots into the
// script's work directory, where the script may change it:
//
//	snapshot zfs-2.1.11-capped host
func cmdSnapshot(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: snapshot NAME DEST")
	}
	src := filepath.Join(ts.Getenv("SNAPSHOTS"), args[0])
	ts.Check(os.CopyFS(ts.MkAbs(args[1]), os.DirFS(src)))
}

var arcRow = regexp.MustCompile(`(?m)^(c|c_min|c_max) +4 +([0-9]+)$`)

// fakeZFS stands in for the zfs module behind a snapshot root: it watches
// the zfs_arc_min and zfs_arc_max parameter files and, like
// arc_tuning_update() on 2.x, takes a value into arcstats c_min/c_max only
// when the module's rules allow it (zfs_arc_min ≥ 32 MiB and ≤ c_max;
// zfs_arc_max ≥ 64 MiB, < allmem and > c_min; c = MIN(c, c_max)).
//
//	fakezfs ROOT [SECONDS]
//
// It stops after SECONDS (default 20) or when ROOT/fakezfs.stop exists.
func fakeZFS() int {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: fakezfs ROOT [SECONDS]")
		return 2
	}
	life := 20 * time.Second
	if len(os.Args) > 2 {
		n, _ := strconv.Atoi(os.Args[2])
		life = time.Duration(n) * time.Second
	}
	return runFakeZFS(os.Args[1], life)
}

// runFakeZFS is fakezfs on root for at most life.
func runFakeZFS(root string, life time.Duration) int {
	param := func(name string) uint64 {
		b, _ := os.ReadFile(filepath.Join(root, zfsmod.ParamDir, name))
		v, _ := zfsmod.ParseParam(b)
		return v
	}
	// Start from "nothing written" so a value written before we started
	// is still taken, and say when we are watching.
	var lastMin, lastMax uint64
	fsys, err := rootfs.Open(root)
	if err != nil {
		return 1
	}
	defer fsys.Close()
	if err := os.WriteFile(filepath.Join(root, "fakezfs.ready"), nil, 0o644); err != nil {
		return 1
	}
	for end := time.Now().Add(life); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(root, "fakezfs.stop")); err == nil {
			return 0
		}
		pmin, pmax := param(zfsmod.ArcMin), param(zfsmod.ArcMax)
		if pmin == lastMin && pmax == lastMax {
			continue
		}
		st, err := arcstats.Read(fsys)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		c, _ := st.Uint("c")
		cMin, _ := st.Uint("c_min")
		cMax, _ := st.Uint("c_max")
		allmem, _ := st.Uint("memory_all_bytes")
		if pmin != lastMin && pmin >= 32<<20 && pmin <= cMax {
			cMin = pmin
		}
		if pmax != lastMax && pmax >= 64<<20 && pmax < allmem && pmax > cMin {
			cMax, c = pmax, min(c, pmax)
		}
		lastMin, lastMax = pmin, pmax
		path := filepath.Join(root, arcstats.Path)
		b, _ := os.ReadFile(path)
		out := arcRow.ReplaceAllStringFunc(string(b), func(m string) string {
			name := arcRow.FindStringSubmatch(m)[1]
			v := map[string]uint64{"c": c, "c_min": cMin, "c_max": cMax}[name]
			return fmt.Sprintf("%-31s %-4d %d", name, 4, v)
		})
		if err := os.WriteFile(path+".new", []byte(out), 0o644); err != nil {
			return 1
		}
		if err := os.Rename(path+".new", path); err != nil {
			return 1
		}
	}
	return 0
}

// cmdWaitFile waits up to 10 s for a file to appear:
//
//	waitfile host/fakezfs.ready
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile PATH")
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
	}
	ts.Fatalf("%s did not appear within 10s", args[0])
}
