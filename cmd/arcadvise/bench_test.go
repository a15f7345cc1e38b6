package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// BenchmarkPipeline measures one whole run from a snapshot root: reading
// arcstats, meminfo, PSI and /sys/module/zfs, the policy, and rendering.
func BenchmarkPipeline(b *testing.B) {
	root := filepath.Join(testutil.RepoRoot(b), "testdata", "snapshots", "zfs-2.1.11-pressure")
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
