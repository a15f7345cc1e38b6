package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// BenchmarkPipeline measures one whole run from a snapshot root: reading
// arcstats, meminfo, zoneinfo, PSI and /sys/module/zfs, the policy, and
// rendering. The root is the lane's 4 GiB guest at rest (every file a run
// reads on a host, a recommendation to make: exit 0).
func BenchmarkPipeline(b *testing.B) {
	root := filepath.Join(testutil.RepoRoot(b), "testdata", "vm", "2.3.2-2~bpo12+2", "50-frontier-rest-4096M")
	for _, format := range []string{"text", "json"} {
		b.Run(format, func(b *testing.B) {
			args := []string{"--root", root, "--reserve", "2G", "--format", format}
			b.ReportAllocs()
			for b.Loop() {
				if code := run(context.Background(), args, io.Discard, io.Discard); code != 0 {
					b.Fatalf("exit %d", code)
				}
			}
		})
	}
}
