package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// traced are the system calls the read-only runs are traced for: every way
// to open a file, and every call that creates, links, renames or removes
// one. A "?" lets strace skip a name the architecture does not have (open,
// creat, mkdir... are x86-64 only; arm64 has the *at forms), as strace(1)
// documents for -e trace.
var traced = []string{
	"openat", "openat2", "?open", "?creat",
	"mkdirat", "?mkdir", "mknodat", "?mknod",
	"linkat", "?link", "symlinkat", "?symlink",
	"renameat", "renameat2", "?rename",
	"unlinkat", "?unlink", "?rmdir",
}

// changing are the traced calls that change the file system by their very
// name, whatever their arguments and whether or not they succeed.
var changing = []string{
	"creat", "mkdir", "mkdirat", "mknod", "mknodat", "link", "linkat", "symlink", "symlinkat",
	"rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir",
}

// writeFlags are the open flags of a file opened to be created or written.
var writeFlags = regexp.MustCompile(`\bO_(CREAT|TMPFILE|WRONLY|RDWR|TRUNC|APPEND)\b`)

// straceCall matches the system call of an strace -f line: "PID name(" or,
// for a call another thread interrupted, "PID <... name resumed>".
var straceCall = regexp.MustCompile(`^(?:\[pid\s+\d+\]\s+|\d+\s+)?(?:<\.\.\. (\w+) resumed>|(\w+)\()`)

// writesIn returns the lines of an strace -f trace that create, write,
// link, rename or remove a file.
func writesIn(trace string) []string {
	var bad []string
	for line := range strings.Lines(trace) {
		line = strings.TrimSpace(line)
		m := straceCall.FindStringSubmatch(line)
		if m == nil {
			continue // "+++ exited with 0 +++", "--- SIGURG ... ---"
		}
		name := m[1] + m[2]
		if slices.Contains(changing, name) || (strings.HasPrefix(name, "open") || name == "creat") && writeFlags.MatchString(line) {
			bad = append(bad, line)
		}
	}
	return bad
}

// TestWritesIn checks the trace reader on lines of a real trace: the run
// of `arcadvise --root testdata/snapshots/zfs-2.1.11-arc-filled --reserve
// 2G` before bridge.go was removed, which copied /proc/meminfo to /dev/shm.
func TestWritesIn(t *testing.T) {
	tests := []struct {
		line string
		bad  bool
	}{
		{`22816 mkdirat(AT_FDCWD, "/dev/shm/arcadvise-procfs-1451941852", 0700) = 0`, true},
		{`22816 openat(AT_FDCWD, "/dev/shm/arcadvise-procfs-1451941852/meminfo", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0600) = 5`, true},
		{`22816 unlinkat(AT_FDCWD, "/dev/shm/arcadvise-procfs-1451941852", 0) = -1 EISDIR (Is a directory)`, true},
		{`22816 unlinkat(8, "meminfo", 0)         = 0`, true},
		{`22816 openat(AT_FDCWD, "/x/proc/meminfo", O_RDONLY|O_CLOEXEC) = 3`, false},
		{`22816 openat2(3, "proc/meminfo", {flags=O_RDONLY|O_CLOEXEC|O_NOFOLLOW|O_NONBLOCK, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 7`, false},
		{`22817 openat2(3, "etc/modprobe.d/zfs.conf", {flags=O_RDWR|O_CLOEXEC, resolve=RESOLVE_IN_ROOT}, 24) = 7`, true},
		{`22817 openat(AT_FDCWD, "/tmp/x", O_RDONLY|O_CREAT|O_CLOEXEC, 0600 <unfinished ...>`, true},
		{`22818 <... renameat2 resumed>)        = 0`, true},
		{`22818 <... openat resumed>)           = 3`, false},
		{`[pid 22819] creat("/tmp/y", 0644) = 3`, true},
		{`22816 --- SIGURG {si_signo=SIGURG, si_code=SI_TKILL, si_pid=22816, si_uid=0} ---`, false},
		{`22816 +++ exited with 0 +++`, false},
	}
	for _, tt := range tests {
		if got := len(writesIn(tt.line)) > 0; got != tt.bad {
			t.Errorf("writesIn(%q) found a write: %v, want %v", tt.line, got, tt.bad)
		}
	}
}

// TestReadOnlyRunsWriteNothing runs the built binary under strace on
// copies of bundled roots, as a report, a --sample window and a --check,
// and fails on any call that creates, writes, links, renames or removes a
// file, anywhere (issue 19: every reading copied /proc/meminfo and PSI
// into /dev/shm).
func TestReadOnlyRunsWriteNothing(t *testing.T) {
	strace := testutil.Tool(t, "strace", "strace")
	repo := testutil.RepoRoot(t)
	bin := filepath.Join(t.TempDir(), "arcadvise")
	build := exec.Command("go", "build", "-o", bin, "./cmd/arcadvise")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	copyRoot := func(t *testing.T, rel string) string {
		root := filepath.Join(t.TempDir(), "host")
		if err := os.CopyFS(root, os.DirFS(filepath.Join(repo, rel))); err != nil {
			t.Fatal(err)
		}
		return root
	}
	const snapshot = "testdata/snapshots/zfs-2.1.11-arc-filled"
	tests := []struct {
		name  string
		root  string // under the repository
		args  []string
		codes []int  // the exit statuses the run may have
		read  string // a file under the root that the trace must show opened
		image bool   // the root has an initramfs image, which --check reads
	}{
		{"one-shot", snapshot, []string{"--reserve", "2G"}, []int{0}, "proc/meminfo", false},
		{"one-shot json", snapshot, []string{"--reserve", "2G", "--format", "json"}, []int{0}, "proc/meminfo", false},
		{"sample", snapshot, []string{"--reserve", "2G", "--sample", "2s", "--interval", "1s"}, []int{0}, "proc/pressure/memory", false},
		// The snapshot's modprobe.d does not carry the cap: drift, exit 1.
		{"check", snapshot, []string{"--reserve", "2G", "--check"}, []int{1}, "etc/modprobe.d", false},
		{"check with an initramfs image", snapshot, []string{"--reserve", "2G", "--check"}, []int{1}, "boot/initrd.img-6.1.0-28-amd64", true},
		{"replay", "testdata/replays/zfs-2.1.11-rest", []string{"--reserve", "2G"}, []int{0}, "arcadvise-replay", false},
		// What the host declares: guest configs, pid files, /proc/PID,
		// cgroups, huge page pools; a check (exit 1: drift).
		{"reserve auto", "testdata/declared/pve-libvirt-2.3.2-8G", []string{"--reserve", "auto"}, []int{0}, "sys/fs/cgroup/system.slice/postgresql.service/memory.min", false},
		{"reserve auto check", "testdata/declared/pve-libvirt-2.3.2-8G", []string{"--reserve", "auto", "--check"}, []int{1}, "etc/libvirt/qemu/ci-runner.xml", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := copyRoot(t, tt.root)
			if tt.image {
				testutil.WriteTree(t, root, map[string]string{
					"proc/sys/kernel/osrelease": "6.1.0-28-amd64\n",
					"boot/initrd.img-6.1.0-28-amd64": string(testutil.Gzip(t, testutil.Newc(
						testutil.CpioMember{Name: "etc/modprobe.d/zfs.conf", Body: "options zfs zfs_arc_max=1073741824\n"}))),
				})
			}
			out := filepath.Join(t.TempDir(), "trace")
			args := append([]string{"-f", "-qq", "-o", out, "-e", "trace=" + strings.Join(traced, ","),
				bin, "--root", root}, tt.args...)
			cmd := exec.Command(strace, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Run() // strace exits with the traced program's status
			if code := cmd.ProcessState.ExitCode(); !slices.Contains(tt.codes, code) {
				t.Fatalf("exit %d, want one of %v\nstderr: %s", code, tt.codes, stderr.String())
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			trace := string(b)
			// The trace saw the run: its reads are there.
			if !strings.Contains(trace, filepath.Join(root, tt.read)) && !strings.Contains(trace, `"`+tt.read) {
				t.Fatalf("the trace does not show %s opened:\n%s", tt.read, trace)
			}
			if bad := writesIn(trace); len(bad) > 0 {
				t.Errorf("arcadvise %s wrote to the file system:\n%s", strings.Join(tt.args, " "), strings.Join(bad, "\n"))
			}
			// One handle on the root: its path is opened once, and
			// everything under it is reached through that handle.
			if n := strings.Count(trace, `"`+root+`"`); n != 1 {
				t.Errorf("the root %s is opened %d times, want once", root, n)
			}
		})
	}
}
