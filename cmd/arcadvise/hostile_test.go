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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// A hostile root: a copy of a real snapshot that an attacker (or bad luck)
// has rearranged, beside a directory outside it that must never change.
type hostileCase struct {
	name   string
	setup  func(t *testing.T, root, outside string)
	args   []string // after --root ROOT
	code   int
	stderr string // a regexp the error must match ("" when code is 0)
	check  func(t *testing.T, root, outside string)
}

func mkfifo(t *testing.T, p string) {
	t.Helper()
	os.Remove(p)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	os.RemoveAll(p)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

const (
	arcPath   = "proc/spl/kstat/zfs/arcstats"
	paramMax  = "sys/module/zfs/parameters/zfs_arc_max"
	paramMin  = "sys/module/zfs/parameters/zfs_arc_min"
	modprobeD = "etc/modprobe.d"
)

func hostileCases() []hostileCase {
	fifo := func(rel string) func(t *testing.T, root, _ string) {
		return func(t *testing.T, root, _ string) { mkfifo(t, filepath.Join(root, rel)) }
	}
	notRegular := `not a regular file \(a named pipe\)`
	return []hostileCase{
		// Confinement.
		{name: "modprobe.d through a missing directory and .. to a link out",
			setup: func(t *testing.T, root, outside string) {
				symlink(t, "/nonexistent/../escape", filepath.Join(root, modprobeD))
				symlink(t, outside, filepath.Join(root, "escape"))
			},
			args: []string{"--reserve", "2G", "--write"}, code: 2, stderr: `etc/modprobe.d: no such file or directory`},
		{name: "--diff through the same links prints nothing of the host",
			setup: func(t *testing.T, root, outside string) {
				symlink(t, "/nonexistent/../escape", filepath.Join(root, modprobeD))
				symlink(t, outside, filepath.Join(root, "escape"))
			},
			args: []string{"--reserve", "2G", "--diff"}, code: 2, stderr: `no such file or directory`},
		{name: "a modprobe.d file that is an absolute link out is replaced by a file, never followed",
			setup: func(t *testing.T, root, outside string) {
				symlink(t, filepath.Join(outside, "victim.conf"), filepath.Join(root, modprobeD, "zfs.conf"))
			},
			args: []string{"--reserve", "2G", "--write"}, code: 0,
			check: func(t *testing.T, root, outside string) {
				if fi, err := os.Lstat(filepath.Join(root, modprobeD, "zfs.conf")); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("zfs.conf: %v, %v; want a regular file in its place", fi, err)
				}
			}},
		{name: "--live through an absolute link at the parameter",
			setup: func(t *testing.T, root, outside string) {
				symlink(t, filepath.Join(outside, "victim.param"), filepath.Join(root, paramMax))
			},
			args: []string{"--reserve", "2G", "--live"}, code: 2, stderr: `zfs_arc_max: no such file or directory`},
		{name: "a relative link climbing out of the root stops at the root",
			setup: func(t *testing.T, root, _ string) {
				symlink(t, "../../../../../../../../victim.param", filepath.Join(root, paramMax))
			},
			args: []string{"--reserve", "2G", "--live"}, code: 2, stderr: `no such file or directory`},
		{name: "an initramfs image that is an absolute link out of the root is not read there",
			setup: func(t *testing.T, root, outside string) {
				// Read, the host's file would stop --check (a truncated
				// image, exit 2); taken inside the root, the link leads
				// nowhere and is no image.
				writeFile(t, filepath.Join(outside, "initrd.img"), "\x1f\x8b\x08\x00truncated")
				symlink(t, filepath.Join(outside, "initrd.img"), filepath.Join(root, "boot/initrd.img-6.1.0-28-amd64"))
			},
			args: []string{"--reserve", "2G", "--check"}, code: 1},
		{name: "/etc/default/grub that links out of the root is not read there",
			setup: func(t *testing.T, root, outside string) {
				// Read, its zfs.zfs_arc_max would refuse the write.
				writeFile(t, filepath.Join(outside, "grub"), "GRUB_CMDLINE_LINUX=\"zfs.zfs_arc_max=1073741824\"\n")
				symlink(t, filepath.Join(outside, "grub"), filepath.Join(root, "etc/default/grub"))
			},
			args: []string{"--reserve", "2G", "--write"}, code: 0},
		{name: "a FIFO as /etc/default/grub", setup: fifo("etc/default/grub"), args: []string{"--reserve", "2G"}, code: 2, stderr: notRegular},
		{name: "a FIFO as an initramfs image is no image", setup: fifo("boot/initrd.img-6.1.0-28-amd64"), args: []string{"--reserve", "2G", "--check"}, code: 1},
		// Nothing lost.
		{name: "an admin's dot file is not swept",
			setup: func(t *testing.T, root, _ string) {
				writeFile(t, filepath.Join(root, modprobeD, "zfs.conf"), "options zfs zfs_arc_max=1073741824\n")
				writeFile(t, filepath.Join(root, modprobeD, ".zfs.conf20240101"), "my notes\n")
				old := time.Now().Add(-time.Hour)
				os.Chtimes(filepath.Join(root, modprobeD, ".zfs.conf20240101"), old, old)
			},
			args: []string{"--reserve", "2G", "--write"}, code: 0,
			check: func(t *testing.T, root, _ string) {
				if b, err := os.ReadFile(filepath.Join(root, modprobeD, ".zfs.conf20240101")); err != nil || string(b) != "my notes\n" {
					t.Errorf("the admin's file: %q %v", b, err)
				}
			}},
		{name: "the first backup keeps the original across writes",
			setup: func(t *testing.T, root, _ string) {
				writeFile(t, filepath.Join(root, modprobeD, "zfs.conf"), "options zfs zfs_arc_max=1073741824\n")
				for _, r := range []string{"1G", "1536M"} {
					if code := run(context.Background(), []string{"--root", root, "--reserve", r, "--write"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
						t.Fatalf("write %s: %d", r, code)
					}
				}
			},
			args: []string{"--reserve", "2G", "--write"}, code: 0,
			check: func(t *testing.T, root, _ string) {
				b, _ := os.ReadFile(filepath.Join(root, modprobeD, "zfs.conf.arcadvise-bak.1"))
				if string(b) != "options zfs zfs_arc_max=1073741824\n" {
					t.Errorf("first backup %q", b)
				}
				if _, err := os.Stat(filepath.Join(root, modprobeD, "zfs.conf.arcadvise-bak.3")); err != nil {
					t.Errorf("third backup: %v", err)
				}
			}},
		// Nothing hangs, nothing explodes.
		{name: "a FIFO as arcstats", setup: fifo(arcPath), args: []string{"--reserve", "2G"}, code: 2, stderr: notRegular},
		{name: "a FIFO as meminfo", setup: fifo("proc/meminfo"), args: []string{"--reserve", "2G"}, code: 2, stderr: notRegular},
		{name: "a FIFO as a parameter", setup: fifo(paramMax), args: []string{"--reserve", "2G"}, code: 2, stderr: notRegular},
		{name: "a FIFO as /proc/cmdline", setup: fifo("proc/cmdline"), args: []string{"--reserve", "2G"}, code: 2, stderr: notRegular},
		{name: "a FIFO as vm.watermark_boost_factor", setup: fifo("proc/sys/vm/watermark_boost_factor"), args: []string{"--reserve", "2G"}, code: 2, stderr: notRegular},
		{name: "a boost factor the sysctl cannot hold",
			setup: func(t *testing.T, root, _ string) {
				writeFile(t, filepath.Join(root, "proc/sys/vm/watermark_boost_factor"), "-1\n")
			},
			args: []string{"--reserve", "2G"}, code: 2, stderr: `proc/sys/vm/watermark_boost_factor:1: malformed line "-1": want a decimal number from 0 to 2147483647`},
		{name: "a FIFO as /proc/mounts (planned before the write)", setup: fifo("proc/mounts"), args: []string{"--reserve", "2G", "--write"}, code: 2, stderr: notRegular,
			check: func(t *testing.T, root, _ string) {
				if _, err := os.Stat(filepath.Join(root, modprobeD, "zfs.conf")); err == nil {
					t.Error("the file was written before the plan failed")
				}
			}},
		{name: "a FIFO as a modprobe.d file", setup: fifo(modprobeD + "/zfs.conf"), args: []string{"--reserve", "2G", "--write"}, code: 2, stderr: `not a regular file`},
		{name: "/dev/zero as meminfo (a link: taken inside the root)",
			setup: func(t *testing.T, root, _ string) { symlink(t, "/dev/zero", filepath.Join(root, "proc/meminfo")) },
			args:  []string{"--reserve", "2G"}, code: 2, stderr: `proc/meminfo: no such file or directory`},
		{name: "a character device as meminfo",
			setup: func(t *testing.T, root, _ string) {
				p := filepath.Join(root, "proc/meminfo")
				os.Remove(p)
				testutil.NeedRoot(t, "mknod of a character device")
				if err := syscall.Mknod(p, syscall.S_IFCHR|0o644, 1<<8|5); err != nil {
					t.Fatalf("mknod as root: %v", err)
				}
			},
			args: []string{"--reserve", "2G"}, code: 2, stderr: `not a regular file \(a character device\)`},
		{name: "a 10 MB modprobe.d file",
			setup: func(t *testing.T, root, _ string) {
				writeFile(t, filepath.Join(root, modprobeD, "big.conf"), strings.Repeat("# padding\n", 1<<20))
			},
			args: []string{"--reserve", "2G"}, code: 2, stderr: `big.conf: file too large: more than 1048576 bytes`},
		{name: "a 100 MB vmstat line is not echoed",
			setup: func(t *testing.T, root, _ string) {
				f, err := os.Create(filepath.Join(root, "proc/vmstat"))
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString("nr_free_pages ")
				nines := bytes.Repeat([]byte("9"), 1<<20)
				for range 100 {
					f.Write(nines)
				}
				f.WriteString("\n")
				f.Close()
			},
			args: []string{"--reserve", "2G"}, code: 2, stderr: `^arcadvise: error: .{0,200}proc/vmstat: larger than 1048576 bytes: not a vmstat file\n`},
		// Checked arithmetic and contradictions.
		{name: "reservations that overflow", args: []string{"--reserve", "8388608T", "--reserve", "8388608T", "--write"}, code: 2, stderr: `add up to more than 2\^64 bytes`},
		{name: "--host-base beyond MemTotal", args: []string{"--host-base", "18446744073709551615B", "--reserve", "1G"}, code: 2, stderr: `--host-base .* is at or above MemTotal`},
		{name: "--arc-max 0", args: []string{"--arc-max", "0", "--write"}, code: 2, stderr: `--arc-max 0 is not a cap`},
		{name: "MemAvailable above MemTotal",
			setup: func(t *testing.T, root, _ string) {
				b, _ := os.ReadFile(filepath.Join(root, "proc/meminfo"))
				writeFile(t, filepath.Join(root, "proc/meminfo"), strings.Replace(string(b), "MemAvailable:    1685256 kB", "MemAvailable:    9685256 kB", 1))
			},
			args: []string{"--reserve", "1G"}, code: 2, stderr: `proc/meminfo:3: malformed line "MemAvailable:    9685256 kB": MemAvailable \(9917702144 bytes\) is above MemTotal`},
		{name: "NaN in PSI",
			setup: func(t *testing.T, root, _ string) {
				writeFile(t, filepath.Join(root, "proc/pressure/memory"), "some avg10=NaN avg60=0.00 avg300=0.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=1\n")
			},
			args: []string{"--reserve", "1G"}, code: 2, stderr: `proc/pressure/memory:1: malformed line "some avg10=NaN avg60=0.00 avg300=0.00 total=1": avg10 "NaN" is not a percentage`},
		// Every read and check before the first write (issue 18, finding 5).
		{name: "a FIFO as kexec_crash_loaded stops --write --live before anything is written",
			setup: fifo("sys/kernel/kexec_crash_loaded"), args: []string{"--reserve", "2G", "--write", "--live"}, code: 2, stderr: notRegular,
			check: nothingActed},
		{name: "a missing --textfile directory stops --write --live before anything is written",
			args: []string{"--reserve", "2G", "--write", "--live", "--textfile", "/nonexistent/textfile"}, code: 2, stderr: `/nonexistent: no such file or directory`,
			check: nothingActed},
		// A budget for all of modprobe.d (finding 3): 200 files of 1 MiB,
		// each within the per-file limit, fail fast and small.
		{name: "200 modprobe.d files of 1 MiB",
			setup: func(t *testing.T, root, _ string) {
				line := "options zfs zfs_txg_timeout=5\n" + strings.Repeat("# padding\n", (1<<20-64)/10)
				for i := range 200 {
					writeFile(t, filepath.Join(root, modprobeD, fmt.Sprintf("f%03d.conf", i)), line)
				}
			},
			args: []string{"--reserve", "2G", "--write"}, code: 2, stderr: `past arcadvise's budget for modprobe configuration: more than 4194304 bytes in all`,
			check: nothingActed},
		{name: "one 1 MiB modprobe.d file of zfs options",
			setup: func(t *testing.T, root, _ string) {
				writeFile(t, filepath.Join(root, modprobeD, "big.conf"), strings.Repeat("options zfs zfs_arc_max=1\n", (1<<20-64)/26))
			},
			args: []string{"--reserve", "2G"}, code: 2, stderr: `big.conf: past arcadvise's budget for modprobe configuration: more than 4096 zfs options`},
		{name: "one 1 MiB modprobe.d file of comments is read, fast",
			setup: func(t *testing.T, root, _ string) {
				writeFile(t, filepath.Join(root, modprobeD, "big.conf"), "options zfs zfs_arc_max=1073741824\n"+strings.Repeat("# padding\n", (1<<20-64)/10))
			},
			args: []string{"--reserve", "2G", "--diff"}, code: 0},
		// An ARC near 2^64 bytes is an input error, not an over-commit
		// (finding 8).
		{name: "an arcstats size near 2^64",
			setup: func(t *testing.T, root, _ string) {
				p := filepath.Join(root, arcPath)
				b, _ := os.ReadFile(p)
				writeFile(t, p, regexp.MustCompile(`(?m)^size( +4 +)\d+$`).ReplaceAllString(string(b), "size${1}18446744073709551000"))
			},
			args: []string{"--reserve", "2G"}, code: 2, stderr: `arcstats:\d+: size is 18446744073709551000 bytes, more than any machine can address`},
		// Backups stay bounded, and a planted name cannot steer them
		// (finding 10).
		{name: "a planted backup number near 2^63",
			setup: func(t *testing.T, root, _ string) {
				writeFile(t, filepath.Join(root, modprobeD, "zfs.conf"), "options zfs zfs_arc_max=1073741824\n")
				writeFile(t, filepath.Join(root, modprobeD, "zfs.conf.arcadvise-bak.9223372036854775807"), "planted\n")
				for i := range 12 {
					r := []string{"1G", "1536M"}[i%2]
					if code := run(context.Background(), []string{"--root", root, "--reserve", r, "--write"}, io.Discard, io.Discard); code != 0 {
						t.Fatalf("write %d: exit %d", i, code)
					}
				}
			},
			args: []string{"--reserve", "2G", "--write"}, code: 0,
			check: func(t *testing.T, root, _ string) {
				des, _ := os.ReadDir(filepath.Join(root, modprobeD))
				var bks []string
				for _, de := range des {
					if strings.Contains(de.Name(), ".arcadvise-bak.") {
						bks = append(bks, de.Name())
					}
				}
				// .1 (the original), the newest 5, and the planted file,
				// which is not arcadvise's and is left alone.
				want := []string{"zfs.conf.arcadvise-bak.1", "zfs.conf.arcadvise-bak.10", "zfs.conf.arcadvise-bak.11", "zfs.conf.arcadvise-bak.12",
					"zfs.conf.arcadvise-bak.13", "zfs.conf.arcadvise-bak.9", "zfs.conf.arcadvise-bak.9223372036854775807"}
				if strings.Join(bks, " ") != strings.Join(want, " ") {
					t.Errorf("backups %q, want %q", bks, want)
				}
				if b, _ := os.ReadFile(filepath.Join(root, modprobeD, "zfs.conf.arcadvise-bak.9223372036854775807")); string(b) != "planted\n" {
					t.Errorf("the planted file changed: %q", b)
				}
			}},
		// What the host declares (--reserve auto): a bad declaration is an
		// error naming its file and line, exit 2, and nothing is written.
		{name: "auto: a VM config with an unknown unit", setup: vmConf("100.conf", "name: a\nmemory: 4G\n"),
			args: autoWrite, code: 2, check: nothingWritten,
			stderr: `(?m)^arcadvise: error: \S*/etc/pve/qemu-server/100.conf:2: memory: unknown unit "G" in "4G": Proxmox takes a whole number of MiB.*\narcadvise: hint: --reserve auto reads the host's own declarations`},
		{name: "auto: a duplicated key", setup: vmConf("100.conf", "memory: 2048\nonboot: 1\nmemory: 4096\n"),
			args: autoWrite, code: 2, check: nothingWritten, stderr: `100.conf:3: duplicate key "memory" \(first at line 1\)`},
		{name: "auto: a negative size", setup: vmConf("100.conf", "memory: -2048\n"),
			args: autoWrite, code: 2, check: nothingWritten, stderr: `100.conf:1: memory: `},
		{name: "auto: an absurd size", setup: vmConf("100.conf", "memory: 2147483648\n"),
			args: autoWrite, code: 2, check: nothingWritten, stderr: `100.conf:1: memory: 2147483648 MiB is more than 1 PiB: not a real guest`},
		{name: "auto: an XML file that is not a domain",
			setup: func(t *testing.T, root, _ string) {
				writeFile(t, filepath.Join(root, "etc/libvirt/qemu/net.xml"), "<network>\n  <name>default</name>\n</network>\n")
			},
			args: autoWrite, code: 2, check: nothingWritten, stderr: `etc/libvirt/qemu/net.xml`},
		{name: "auto: XML nested 100,000 deep",
			setup: func(t *testing.T, root, _ string) {
				writeFile(t, filepath.Join(root, "etc/libvirt/qemu/deep.xml"),
					"<domain>"+strings.Repeat("<a>", 100000)+strings.Repeat("</a>", 100000)+"</domain>\n")
			},
			args: autoWrite, code: 2, check: nothingWritten, stderr: `deep.xml:1: .*deeper than 64`},
		{name: "auto: a 5 MB XML file",
			setup: func(t *testing.T, root, _ string) {
				writeFile(t, filepath.Join(root, "etc/libvirt/qemu/huge.xml"), "<domain>"+strings.Repeat("<!-- padding -->\n", 5<<20/17)+"</domain>\n")
			},
			args: autoWrite, code: 2, check: nothingWritten, stderr: `huge.xml: file too large`},
		{name: "auto: a VM config that is a link out of the root",
			setup: func(t *testing.T, root, outside string) {
				writeFile(t, filepath.Join(outside, "vm.conf"), "memory: 1024\nonboot: 1\n")
				symlink(t, filepath.Join(outside, "vm.conf"), filepath.Join(root, "etc/pve/qemu-server/100.conf"))
			},
			args: autoWrite, code: 2, check: nothingWritten, stderr: `100.conf: no such file or directory`},
		{name: "auto: a FIFO as a VM config", setup: fifo("etc/pve/qemu-server/100.conf"),
			args: autoWrite, code: 2, check: nothingWritten, stderr: notRegular},
		{name: "auto: a FIFO as memory.min",
			setup: func(t *testing.T, root, _ string) {
				writeFile(t, filepath.Join(root, "sys/fs/cgroup/cgroup.controllers"), "memory\n")
				writeFile(t, filepath.Join(root, "sys/fs/cgroup/db.service/cgroup.events"), "populated 1\nfrozen 0\n")
				mkfifo(t, filepath.Join(root, "sys/fs/cgroup/db.service/memory.min"))
			},
			args: autoWrite, code: 2, check: nothingWritten, stderr: notRegular},
		{name: "auto: 10,000 guests",
			setup: func(t *testing.T, root, _ string) {
				for i := range 10000 {
					writeFile(t, filepath.Join(root, "etc/pve/qemu-server", strconv.Itoa(100+i)+".conf"), "memory: 512\n")
				}
			},
			args: autoWrite, code: 2, check: nothingWritten, stderr: `etc/pve/qemu-server: too many entries: more than 4096.*give the reservation with --reserve instead`},
		{name: "auto: guests declaring more than the host has",
			setup: vmConf("100.conf", "memory: 65536\nonboot: 1\n"),
			args:  autoWrite, code: 2, check: nothingWritten,
			// 64 GiB and its QEMU's own 64 MiB + 64 GiB/512 = 192 MiB
			stderr: `the reservation is at or above MemTotal: 64.18 GiB reserved of 3.82 GiB\narcadvise: hint: the host's guests and protected cgroups declare more than it has`},
		{name: "auto: nothing declared, and a write asked for",
			args: autoWrite, code: 2, check: nothingWritten,
			stderr: `--reserve auto: the host declares no workload under .*\narcadvise: hint: declare the workload with --reserve SIZE`},
		// --diff and --write decide alike.
		{name: "--diff refuses what --write refuses: an unbalanced quote",
			setup: func(t *testing.T, root, _ string) {
				writeFile(t, filepath.Join(root, modprobeD, "zfs.conf"), "options zfs zfs_arc_max=\"1073741824\n")
			},
			args: []string{"--reserve", "2G", "--diff"}, code: 2, stderr: `unbalanced '"' in the zfs options`},
	}
}

// nothingActed checks that no modprobe.d file and no module parameter was
// written.
func nothingActed(t *testing.T, root, _ string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, modprobeD, "zfs.conf")); err == nil {
		t.Error("zfs.conf was written")
	}
	src := filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-arc-filled")
	for _, p := range []string{paramMax, paramMin} {
		a, _ := os.ReadFile(filepath.Join(src, p))
		b, _ := os.ReadFile(filepath.Join(root, p))
		if !bytes.Equal(a, b) {
			t.Errorf("%s changed: %q, was %q", p, b, a)
		}
	}
}

// autoWrite asks for a write of what the host declares.
var autoWrite = []string{"--reserve", "auto", "--write"}

// vmConf writes a Proxmox VE VM config.
func vmConf(name, body string) func(t *testing.T, root, _ string) {
	return func(t *testing.T, root, _ string) {
		writeFile(t, filepath.Join(root, "etc/pve/qemu-server", name), body)
	}
}

// nothingWritten: modprobe.d has no zfs.conf, nor a temporary file.
func nothingWritten(t *testing.T, root, _ string) {
	t.Helper()
	des, _ := os.ReadDir(filepath.Join(root, modprobeD))
	for _, de := range des {
		t.Errorf("%s was written", de.Name())
	}
}

// TestHostileRoots runs arcadvise as a process on every case of the corpus,
// each within 1 s and 50 MB, and checks the exit status, the message, and
// that nothing outside the root changed.
func TestHostileRoots(t *testing.T) {
	bin, err := exec.LookPath("arcadvise") // testscript's link to this test binary
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-arc-filled")
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			root, outside := filepath.Join(dir, "host"), filepath.Join(dir, "outside")
			if err := os.CopyFS(root, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(outside, "victim.conf"), "options zfs zfs_arc_max=1\n")
			writeFile(t, filepath.Join(outside, "victim.param"), "42\n")
			writeFile(t, filepath.Join(outside, "zfs.conf"), "# the host's own\n")
			if tc.setup != nil {
				tc.setup(t, root, outside)
			}
			before := treeSums(t, outside)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"--root", root}, tc.args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)
			code := cmd.ProcessState.ExitCode()
			if ctx.Err() != nil {
				t.Fatalf("still running after %s: killed", took)
			}
			if took > time.Second {
				t.Errorf("took %s, want at most 1 s", took.Round(time.Millisecond))
			}
			// Memory: the same run in this process, by the runtime's own
			// count of what it allocated (a child's maxrss would count
			// this test binary, which it shares until exec).
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			run(context.Background(), append([]string{"--root", root}, tc.args...), io.Discard, io.Discard)
			runtime.ReadMemStats(&m1)
			if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 50<<20 {
				t.Errorf("allocated %d MB, want at most 50 MB", alloc>>20)
			}
			if code != tc.code {
				t.Errorf("exit %d (%v), want %d\nstderr: %s", code, err, tc.code, stderr.String())
			}
			if tc.stderr != "" && !regexp.MustCompile(tc.stderr).MatchString(stderr.String()) {
				t.Errorf("stderr %q does not match %q", stderr.String(), tc.stderr)
			}
			if stderr.Len() > 4096 {
				t.Errorf("stderr is %d bytes: errors quote at most a line prefix", stderr.Len())
			}
			if got := changed(before, treeSums(t, outside)); len(got) != 0 {
				t.Errorf("files outside the root changed: %q", got)
			}
			if tc.check != nil {
				tc.check(t, root, outside)
			}
		})
	}
}
