package initramfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkParse parses the images named in ARCADVISE_BENCH_IMAGES
// (colon-separated paths: real images, e.g. Debian's), or without it a
// hand-made one: an early archive and 2000 members, 32 MiB, gzip.
func BenchmarkParse(b *testing.B) {
	if env := os.Getenv("ARCADVISE_BENCH_IMAGES"); env != "" {
		for _, p := range strings.Split(env, ":") {
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(filepath.Base(p), func(b *testing.B) { benchParse(b, data) })
		}
		return
	}
	var ms []member
	body := strings.Repeat("module bytes, compressible but not all zeros: 0123456789abcdef\n", 256)
	for i := 0; i < 2000; i++ {
		ms = append(ms, member{Name: fmt.Sprintf("usr/lib/modules/6.1.0-28-amd64/kernel/m%04d.ko", i), Body: body})
	}
	ms = append(ms, member{Name: "etc/modprobe.d/zfs.conf", Body: zfsConf})
	img := cat(newc(member{Name: "kernel/x86/microcode/AuthenticAMD.bin", Body: body}), gz(b, newc(ms...)))
	b.Run("handmade-gzip", func(b *testing.B) { benchParse(b, img) })
}

func benchParse(b *testing.B, data []byte) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := Parse(bytes.NewReader(data), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(c.Unpacked)/(1<<20), "MiB-unpacked")
	}
}
