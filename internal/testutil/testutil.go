package testutil

import (
	"testing"

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
