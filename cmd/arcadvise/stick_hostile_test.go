package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// hostileKernel is the running kernel of the hostile image roots.
const hostileKernel = "6.1.0-28-amd64"

// zstdFrames compresses each part as its own zstd frame, concatenated: a
// zstd stream the kernel and arcadvise decompress as one.
func zstdFrames(t *testing.T, parts ...[]byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var out []byte
	for _, p := range parts {
		out = enc.EncodeAll(p, out)
	}
	return out
}

// bombImage is a zstd image of about 37 KB whose one cpio member claims a
// body of 4 GiB - 1 and unpacks to 2.5 GiB of zeros: past the 2 GiB that
// arcadvise unpacks at most (initramfs.Limits.MaxUnpacked).
func bombImage(t *testing.T) []byte {
	t.Helper()
	const chunk = 64 << 20
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", 1, 0o100644, 0, 0, 1, 0, 0xffffffff, 0, 0, 0, 0, len("bomb")+1, 0)
	first := append([]byte(hdr+"bomb\x00"), make([]byte, chunk)...)
	zeros := make([]byte, chunk)
	parts := [][]byte{first}
	for range 40 {
		parts = append(parts, zeros)
	}
	return zstdFrames(t, parts...)
}

// TestHostileImages: an image in /boot that is not what a builder writes
// stops --check and --write with exit 2, the image named and nothing
// written, within a few seconds and a bounded allocation; the one-shot
// report, which does not read the images, is not stopped by one. Each run
// is a process with a sentinel outside the root, as TestHostileRoots.
func TestHostileImages(t *testing.T) {
	bin, err := exec.LookPath("arcadvise") // testscript's link to this test binary
	if err != nil {
		t.Fatal(err)
	}
	img := "/boot/initrd.img-" + hostileKernel
	zfsConf := testutil.CpioMember{Name: "etc/modprobe.d/zfs.conf", Body: "options zfs zfs_arc_max=1073741824\n"}
	real := testutil.Gzip(t, testutil.Newc(testutil.CpioMember{Name: "usr/lib/modules/" + hostileKernel + "/extra/zfs.ko", Body: "x"}, zfsConf))
	for _, tc := range []struct {
		name   string
		image  func(t *testing.T, p string)
		stderr string
		alloc  uint64 // bytes the run may allocate
	}{
		{name: "a decompression bomb",
			image:  func(t *testing.T, p string) { writeFile(t, p, string(bombImage(t))) },
			stderr: `initrd.img-6.1.0-28-amd64: zstd segment at image offset 0, unpacked offset \d+: over the limit: .*more than 2147483648 bytes unpacked`, alloc: 300 << 20},
		{name: "a truncated image",
			image:  func(t *testing.T, p string) { writeFile(t, p, string(real[:len(real)-20])) },
			stderr: `initrd.img-6.1.0-28-amd64: .*truncated`, alloc: 50 << 20},
		{name: "a cpio member named ../../etc/x",
			image: func(t *testing.T, p string) {
				writeFile(t, p, string(testutil.Gzip(t, testutil.Newc(testutil.CpioMember{Name: "../../etc/x", Body: "options zfs zfs_arc_max=1\n"}))))
			},
			stderr: `initrd.img-6.1.0-28-amd64: gzip segment at image offset 0, .*"../../etc/x": unsafe member name: the name has a ".." component: the kernel would unpack it at /etc/x`, alloc: 50 << 20},
		{name: "a 10 GiB sparse image",
			image: func(t *testing.T, p string) {
				writeFile(t, p, "")
				if err := os.Truncate(p, 10<<30); err != nil {
					t.Fatal(err)
				}
			},
			stderr: `initrd.img-6.1.0-28-amd64: over the limit: 10737418240 bytes, more than 1073741824`, alloc: 50 << 20},
		{name: "500001 members",
			image: func(t *testing.T, p string) {
				ms := make([]testutil.CpioMember, 500001)
				for i := range ms {
					ms[i] = testutil.CpioMember{Name: fmt.Sprint(i), Ino: uint32(i + 1)}
				}
				writeFile(t, p, string(zstdFrames(t, testutil.Newc(ms...))))
			},
			stderr: `initrd.img-6.1.0-28-amd64: .*more than 500000 cpio members`, alloc: 300 << 20},
		{name: "an lzop image",
			image: func(t *testing.T, p string) {
				writeFile(t, p, string(append([]byte{0x89, 'L', 'Z', 'O', 0, 0x0d, 0x0a, 0x1a, 0x0a}, make([]byte, 64)...)))
			},
			stderr: `initrd.img-6.1.0-28-amd64: image offset 0: unsupported compression lzop`, alloc: 50 << 20},
	} {
		for _, args := range [][]string{{"--arc-max", "1G", "--check"}, {"--arc-max", "1G", "--write"}, {"--arc-max", "1G"}} {
			t.Run(tc.name+"/"+args[len(args)-1], func(t *testing.T) {
				dir := t.TempDir()
				root, outside := filepath.Join(dir, "host"), filepath.Join(dir, "outside")
				if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-arc-filled"))); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(root, "proc/sys/kernel/osrelease"), hostileKernel+"\n")
				writeFile(t, filepath.Join(root, "proc/mounts"), "rpool/ROOT/debian / zfs rw,relatime,xattr,noacl 0 0\n")
				writeFile(t, filepath.Join(outside, "zfs.conf"), "# the host's own\n")
				tc.image(t, filepath.Join(root, img))
				// What a run may write: modprobe.d and the module's
				// parameters (the 10 GiB image is not read twice over).
				etc, sys := filepath.Join(root, "etc"), filepath.Join(root, "sys")
				os.MkdirAll(etc, 0o755)
				before, beforeSys, sentinel := treeSums(t, etc), treeSums(t, sys), treeSums(t, outside)
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, bin, append([]string{"--root", root}, args...)...)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				start := time.Now()
				cmd.Run()
				took := time.Since(start)
				if ctx.Err() != nil {
					t.Fatalf("still running after %s: killed", took)
				}
				t.Logf("%s in %s", args, took.Round(time.Millisecond))
				code := cmd.ProcessState.ExitCode()
				if args[len(args)-1] == "1G" {
					// The report lists the image without reading it.
					if code != 0 || !bytes.Contains(stdout.Bytes(), []byte("initramfs: "+img+" (")) {
						t.Errorf("the report: exit %d\n%s%s", code, stdout.String(), stderr.String())
					}
					return
				}
				if code != 2 || !regexp.MustCompile(`^arcadvise: error: .*`+tc.stderr).MatchString(stderr.String()) {
					t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tc.stderr)
				}
				if took > 10*time.Second {
					t.Errorf("took %s, want at most 10 s", took)
				}
				if got := append(changed(before, treeSums(t, etc)), changed(beforeSys, treeSums(t, sys))...); len(got) != 0 {
					t.Errorf("files in the root changed: %q", got)
				}
				if got := changed(sentinel, treeSums(t, outside)); len(got) != 0 {
					t.Errorf("files outside the root changed: %q", got)
				}
				// Memory: the same run in this process, by the runtime's
				// count of what it allocated.
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				run(context.Background(), append([]string{"--root", root}, args...), io.Discard, io.Discard)
				runtime.ReadMemStats(&m1)
				if a := m1.TotalAlloc - m0.TotalAlloc; a > tc.alloc {
					t.Errorf("allocated %d MB, want at most %d MB", a>>20, tc.alloc>>20)
				}
			})
		}
	}
}

// TestStickTextFits: the configuration section's image and command line
// lines fit 80 columns, and the answer stays in the first 10 lines, for an
// image listed (the report) and read (the report beside the textfile,
// which reads the images).
func TestStickTextFits(t *testing.T) {
	t.Setenv("COLUMNS", "80")
	root := filepath.Join(t.TempDir(), "host")
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-capped"))); err != nil {
		t.Fatal(err)
	}
	testutil.WriteTree(t, root, map[string]string{
		"proc/sys/kernel/osrelease": hostileKernel + "\n",
		"proc/mounts":               "rpool/ROOT/debian / zfs rw,relatime,xattr,noacl 0 0\n",
		"etc/default/grub":          "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet zfs.zfs_arc_min=268435456 zfs.zfs_arc_sys_free=536870912\"\n",
		"boot/initrd.img-" + hostileKernel: string(testutil.Gzip(t, testutil.Newc(
			testutil.CpioMember{Name: "usr/lib/modules/" + hostileKernel + "/extra/zfs.ko", Body: "x"},
			testutil.CpioMember{Name: "conf/modules", Body: "zfs\n"},
			testutil.CpioMember{Name: "etc/modprobe.d/zfs.conf", Body: "options zfs zfs_arc_max=1073741824 zfs_arc_min=536870912\n"}))),
		"boot/initrd.img-6.1.0-30-amd64": string(testutil.Gzip(t, testutil.Newc(testutil.CpioMember{Name: "etc/modprobe.d/zfs.conf", Body: "options zfs zfs_arc_max=805306368\n"}))),
	})
	for _, args := range [][]string{{"--arc-max", "768M"}, {"--arc-max", "768M", "--textfile", t.TempDir()}} {
		var out bytes.Buffer
		if code := run(context.Background(), append([]string{"--root", root}, args...), &out, io.Discard); code != 0 {
			t.Fatalf("%q: exit %d", args, code)
		}
		checkFits(t, out.String(), 80)
		text := out.String()
		for _, want := range []string{"initramfs: /boot/initrd.img-" + hostileKernel + " (running", "initramfs: /boot/initrd.img-6.1.0-30-amd64 (newest", "next boot's command line: /etc/default/grub:1"} {
			if !strings.Contains(text, want) {
				t.Errorf("%q: no %q in\n%s", args, want, text)
			}
		}
		if len(args) > 2 && !strings.Contains(text, "stale: zfs_arc_max 1073741824, /etc") {
			t.Errorf("the images read: no stale line in\n%s", text)
		}
	}
}

// TestStickReplay: a recorded window's images are its last snapshot's,
// read under that snapshot's root (not the window's directory).
func TestStickReplay(t *testing.T) {
	root := filepath.Join(t.TempDir(), "replay")
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "testdata", "replays", "zfs-2.1.11-pressure"))); err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(root, "23-pressure-end")
	testutil.WriteTree(t, last, map[string]string{
		"proc/sys/kernel/osrelease": hostileKernel + "\n",
		"proc/mounts":               "rpool/ROOT/debian / zfs rw 0 0\n",
		"etc/modprobe.d/zfs.conf":   "options zfs zfs_arc_max=805306368\n",
		"boot/initrd.img-" + hostileKernel: string(testutil.Gzip(t, testutil.Newc(
			testutil.CpioMember{Name: "usr/lib/modules/" + hostileKernel + "/extra/zfs.ko", Body: "x"},
			testutil.CpioMember{Name: "etc/modprobe.d/zfs.conf", Body: "options zfs zfs_arc_max=1073741824\n"}))),
	})
	var out bytes.Buffer
	run(context.Background(), []string{"--root", root, "--arc-max", "768M", "--format", "prometheus"}, &out, io.Discard)
	if !strings.Contains(out.String(), "arcadvise_initramfs_stale 1\n") {
		t.Errorf("the last snapshot's stale image is not seen:\n%s", out.String())
	}
}
