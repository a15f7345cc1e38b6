package initramfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzParse when
// ARCADVISE_WRITE_SEEDS=1: images made by the real compressors and by
// hand, kept small.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("ARCADVISE_WRITE_SEEDS") != "1" {
		return
	}
	arch := newc(
		member{Name: ".", Mode: testutil.CpioDir},
		member{Name: "lib", Mode: testutil.CpioLink, Body: "usr/lib"},
		member{Name: "etc/modprobe.d/zfs.conf", Body: zfsConf, CRC: true},
		member{Name: "etc/modprobe.d/l.conf", Mode: testutil.CpioLink, Body: "/etc/zfs/arc.conf"},
		member{Name: "etc/zfs/arc.conf", Body: "options zfs zfs_arc_min=1\n"},
		member{Name: "usr/lib/modprobe.d/a.conf", Ino: 9, Nlink: 2},
		member{Name: "usr/lib/modprobe.d/b.conf", Ino: 9, Nlink: 2, Body: "blacklist x\n"},
		member{Name: "usr/lib/modules/6.1.0-1-amd64/updates/zfs.ko.xz", Body: "x"},
	)
	early := newc(member{Name: "kernel/x86/microcode/AuthenticAMD.bin", Body: "ucode"})
	seeds := [][]byte{
		arch,
		cat(early, zeros(12), gz(t, arch)),
		gz(t, cat(arch, zeros(8), arch)),
		newc(member{Name: "../../etc/x", Body: "y"}),
		arch[:len(arch)/2],
		gz(t, arch)[:40],
		[]byte("070707" + strings.Repeat("0", 104)),
		{0x89, 'L', 'Z', 'O', 0, 0x0d, 0x0a, 0x1a, 0x0a},
	}
	for _, cp := range compressors {
		args := cp.args
		if cp.tool == "xz" || cp.tool == "lzma" {
			args = append(args, "-0") // a 256 KiB dictionary, under fuzzLimits.MaxWindow
		}
		seeds = append(seeds, cat(early, compress(t, cp.tool, args, cp.pkg, arch)))
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
