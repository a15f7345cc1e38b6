package initramfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzParse when
// ARCADVISE_WRITE_SEEDS=1: images made by the real compressors and by
// hand, kept small.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("ARCADVISE_WRITE_SEEDS") != "1" {
		return
	}
	arch := newc(
		member{name: ".", mode: modeDir},
		member{name: "lib", mode: modeLink, body: "usr/lib"},
		member{name: "etc/modprobe.d/zfs.conf", body: zfsConf, crc: true},
		member{name: "etc/modprobe.d/l.conf", mode: modeLink, body: "/etc/zfs/arc.conf"},
		member{name: "etc/zfs/arc.conf", body: "options zfs zfs_arc_min=1\n"},
		member{name: "usr/lib/modprobe.d/a.conf", ino: 9, nlink: 2},
		member{name: "usr/lib/modprobe.d/b.conf", ino: 9, nlink: 2, body: "blacklist x\n"},
		member{name: "usr/lib/modules/6.1.0-1-amd64/updates/zfs.ko.xz", body: "x"},
	)
	early := newc(member{name: "kernel/x86/microcode/AuthenticAMD.bin", body: "ucode"})
	seeds := [][]byte{
		arch,
		cat(early, zeros(12), gz(t, arch)),
		gz(t, cat(arch, zeros(8), arch)),
		newc(member{name: "../../etc/x", body: "y"}),
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
