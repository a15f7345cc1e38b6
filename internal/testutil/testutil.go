package testutil

import (
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// OpenRoot opens dir as the one confined root a run reads (internal/rootfs),
// closed when the test ends.
func OpenRoot(t testing.TB, dir string) *rootfs.FS {
	t.Helper()
	f, err := rootfs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// Kstat builds an arcstats text with the given rows (type 4, except
// memory_available_bytes which is type 3, as the module prints them).
func Kstat(t testing.TB, rows map[string]int64) *arcstats.Stats {
	t.Helper()
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "12 1 0x01 %d %d 17383978910 3600017383978910\n", len(rows), 272*len(rows))
	b.WriteString("name                            type data\n")
	for _, n := range names {
		typ := 4
		if n == "memory_available_bytes" {
			typ = 3
		}
		fmt.Fprintf(&b, "%-31s %-4d %d\n", n, typ, rows[n])
	}
	st, err := arcstats.Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// ExitCode is the exit status of a command's error from exec: 0 for nil,
// -1 when it did not run to an exit.
func ExitCode(err error) int {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
