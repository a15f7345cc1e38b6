package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// Issue 18: every byte arcadvise writes goes through one door
// (internal/rootfs.Dir). These tests attack it the way the issue's
// findings did, each with what an attacker or an unlucky admin really does.

// copySnapshot copies a bundled snapshot to a fresh root.
func copySnapshot(t *testing.T, name string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "host")
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "testdata", "snapshots", name))); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestTextfileRace (finding 1): the textfile directory belongs to an
// unprivileged user (the prometheus user on Debian), who swaps every new
// name in it for a symlink to a file of root's, as fast as inotify tells
// it, while root runs --textfile again and again. client_golang's
// WriteToTextfile chmodded its temporary file by path and made the victim
// 0644; through the door nothing outside the directory ever changes.
func TestTextfileRace(t *testing.T) {
	testutil.NeedRoot(t, "the attacker runs as another user")
	const nobody = 65534
	base, err := os.MkdirTemp("", "arcadvise-textfile-race-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(base, "shadow")
	if err := os.WriteFile(victim, []byte("root:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "node-exporter")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	// The attacker: this test binary, copied where the other user can run
	// it, as that user.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "attacker")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	att := exec.CommandContext(ctx, bin, "-test.run=^TestTextfileAttacker$")
	att.Env = append(os.Environ(), "ARCADVISE_ATTACK_DIR="+dir, "ARCADVISE_ATTACK_TARGET="+victim)
	att.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	var attOut bytes.Buffer
	att.Stdout, att.Stderr = &attOut, &attOut
	if err := att.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the attacker watches the directory.
	ready := filepath.Join(dir, "attacker.ready")
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Lstat(ready); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the attacker did not start: %s", attOut.String())
		}
	}
	root := copySnapshot(t, "zfs-2.1.11-arc-filled")
	runs, failed := 200, 0
	for i := range runs {
		var stderr bytes.Buffer
		code := run(context.Background(), []string{"--root", root, "--reserve", "2G", "--textfile", dir}, io.Discard, &stderr)
		if code != 0 {
			failed++ // the attacker's swap is caught: reported, not followed
			if !strings.Contains(stderr.String(), "was replaced by someone else") && !strings.Contains(stderr.String(), "arcadvise.prom") {
				t.Errorf("run %d: exit %d: %s", i, code, stderr.String())
			}
		}
		if fi, err := os.Lstat(victim); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("run %d: the victim is now %v (%v): the write left the directory", i, fi.Mode(), err)
		}
		if fi, err := os.Lstat(filepath.Join(dir, "arcadvise.prom")); code == 0 && (err != nil || !fi.Mode().IsRegular()) {
			des, _ := os.ReadDir(dir)
			t.Fatalf("run %d: exit 0, yet arcadvise.prom is %v (%v); dir %v; stderr %s; attacker %s", i, fi, err, des, stderr.String(), attOut.String())
		}
	}
	cancel()
	att.Wait()
	swaps := strings.Count(attOut.String(), "swapped ")
	if swaps == 0 {
		t.Fatalf("the attacker never swapped a name: the test proves nothing\n%s", attOut.String())
	}
	if b, _ := os.ReadFile(victim); string(b) != "root:secret\n" {
		t.Errorf("the victim's content changed: %q", b)
	}
	t.Logf("%d runs, %d swaps by the attacker, %d runs caught the swap and wrote nothing", runs, swaps, failed)
}

// TestTextfileAttacker is the attacker of TestTextfileRace, run as another
// user in its own process; it does nothing in a normal test run.
func TestTextfileAttacker(t *testing.T) {
	dir, target := os.Getenv("ARCADVISE_ATTACK_DIR"), os.Getenv("ARCADVISE_ATTACK_TARGET")
	if dir == "" {
		return
	}
	fd, err := unix.InotifyInit1(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "attacker.ready"), nil, 0o644)
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafePointer(buf[off:]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if name == "" || name == "attacker.ready" || name == "arcadvise.prom" {
				continue
			}
			p := filepath.Join(dir, name)
			if fi, err := os.Lstat(p); err != nil || fi.Mode()&os.ModeSymlink != 0 {
				continue
			}
			if os.Remove(p) == nil && os.Symlink(target, p) == nil {
				fmt.Println("swapped", name)
			}
		}
	}
}

// TestEditorRace (finding 2): an admin's editor writes zfs.conf while
// --write runs, at a random moment of the run, 500 times: by appending a
// line (echo >> zfs.conf) or by writing a new file and renaming it over the
// old (what sed -i and most editors do). An edit is lost when arcadvise
// exits 0 and the file no longer holds it. Before the door, the edit landed
// between the comparison and the rename often enough (18 of 150 trials).
func TestEditorRace(t *testing.T) {
	root := copySnapshot(t, "zfs-2.1.11-arc-filled")
	conf := filepath.Join(root, "etc/modprobe.d/zfs.conf")
	const orig = "options zfs zfs_arc_max=1073741824\n"
	// How long a run takes here, so that the edits land all through it.
	writeFile(t, conf, orig)
	t0 := time.Now()
	if code := run(context.Background(), []string{"--root", root, "--reserve", "2G", "--write"}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("a plain write: exit %d", code)
	}
	span := max(time.Since(t0), 5*time.Millisecond)
	trials := 500
	var wrote, refused, lost int
	for i := range trials {
		dir := filepath.Dir(conf)
		des, _ := os.ReadDir(dir)
		for _, de := range des {
			os.Remove(filepath.Join(dir, de.Name()))
		}
		writeFile(t, conf, orig)
		marker := fmt.Sprintf("# edit %d\n", i)
		rename := i%2 == 1
		delay := time.Duration(rand.Int64N(int64(span)))
		var wg sync.WaitGroup
		wg.Go(func() {
			time.Sleep(delay)
			if rename {
				cur, err := os.ReadFile(conf)
				if err != nil {
					t.Error(err)
					return
				}
				tmp := conf + ".sedtmp"
				if err := os.WriteFile(tmp, append(cur, marker...), 0o644); err != nil {
					t.Error(err)
					return
				}
				if err := os.Rename(tmp, conf); err != nil {
					t.Error(err)
				}
				return
			}
			f, err := os.OpenFile(conf, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.WriteString(marker)
			f.Close()
		})
		var stderr bytes.Buffer
		code := run(context.Background(), []string{"--root", root, "--reserve", "2G", "--write"}, io.Discard, &stderr)
		wg.Wait()
		final, _ := os.ReadFile(conf)
		switch {
		case code == 0:
			wrote++
			if !strings.Contains(string(final), marker) {
				lost++
				t.Errorf("trial %d (%s edit after %s): exit 0 and the edit is gone; the file is %q", i, map[bool]string{true: "rename", false: "append"}[rename], delay, final)
			}
		case code == 2 && strings.Contains(stderr.String(), "changed since it was read"):
			refused++
			if !strings.Contains(string(final), marker) {
				t.Errorf("trial %d: refused, yet the edit is gone: %q", i, final)
			}
		default:
			t.Fatalf("trial %d: exit %d: %s", i, code, stderr.String())
		}
	}
	t.Logf("%d trials over runs of about %s: %d wrote, %d refused (the edit came between the read and the write), %d edits lost", trials, span.Round(time.Millisecond), wrote, refused, lost)
	if refused == 0 {
		t.Errorf("no edit ever landed during a write: the race was not exercised")
	}
}

// TestSignalPhases (finding 4): SIGINT before the first write writes
// nothing; SIGINT after it lets the act complete, and the report says so.
func TestSignalPhases(t *testing.T) {
	bin, err := exec.LookPath("arcadvise")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("before the first write: waiting for the lock", func(t *testing.T) {
		root := copySnapshot(t, "zfs-2.1.11-arc-filled")
		mp := filepath.Join(root, "etc/modprobe.d")
		if err := os.MkdirAll(mp, 0o755); err != nil {
			t.Fatal(err)
		}
		before := treeSums(t, root)
		// Another arcadvise holds the directory's lock.
		d, err := os.Open(mp)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--root", root, "--reserve", "2G", "--write", "--live")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Ready: the child holds the directory open, to lock it.
		waitFor(t, 10*time.Second, "the child to open "+mp, func() bool { return holdsOpen(cmd.Process.Pid, mp) })
		cmd.Process.Signal(syscall.SIGINT)
		time.Sleep(100 * time.Millisecond)
		syscall.Flock(int(d.Fd()), syscall.LOCK_UN)
		cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Errorf("exit %d, want 130\nstderr: %s", code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "interrupted before the first write: nothing was written or applied") ||
			!strings.Contains(stderr.String(), "interrupted by SIGINT: nothing was written or applied") {
			t.Errorf("stdout %q\nstderr %q", stdout.String(), stderr.String())
		}
		if got := changed(before, treeSums(t, root)); len(got) != 0 {
			t.Errorf("files changed: %q", got)
		}
	})
	t.Run("after the first write: the act completes", func(t *testing.T) {
		root := copySnapshot(t, "zfs-2.1.11-arc-filled")
		conf := filepath.Join(root, "etc/modprobe.d/zfs.conf")
		// The snapshot's module never takes a value, so --live waits a
		// second for each read-back: the signal comes then.
		cmd := exec.Command(bin, "--root", root, "--reserve", "2G", "--write", "--live")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "zfs.conf to be written", func() bool { _, err := os.Stat(conf); return err == nil })
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		// The module (a snapshot) ignored the value: that decides the
		// status (4); the report says the act was carried to its end.
		if code := cmd.ProcessState.ExitCode(); code != exitIgnored {
			t.Errorf("exit %d, want %d\nstderr: %s", code, exitIgnored, stderr.String())
		}
		for _, want := range []string{"wrote /etc/modprobe.d/zfs.conf (a new file)", "live: zfs_arc_max=1543503872 ignored by the module",
			"interrupted after the first write: arcadvise finished the change rather than leave it half done"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
			}
		}
		if b, _ := os.ReadFile(filepath.Join(root, paramMax)); strings.TrimSpace(string(b)) != "1543503872" {
			t.Errorf("zfs_arc_max parameter %q: the live step did not complete", b)
		}
	})
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no sign of %s after %s", what, d)
		}
	}
}

// holdsOpen reports whether process pid has path open.
func holdsOpen(pid int, path string) bool {
	fds := fmt.Sprintf("/proc/%d/fd", pid)
	des, err := os.ReadDir(fds)
	if err != nil {
		return false
	}
	for _, de := range des {
		if l, err := os.Readlink(filepath.Join(fds, de.Name())); err == nil && l == path {
			return true
		}
	}
	return false
}

// TestOutputSanitized: escape sequences in the module's version file and
// in a file name reach the terminal escaped, in the report, the diff and
// an error.
func TestOutputSanitized(t *testing.T) {
	root := copySnapshot(t, "zfs-2.1.11-arc-filled")
	writeFile(t, filepath.Join(root, "sys/module/zfs/version"), "2.1.11-1\x1b]0;pwned\x07\n")
	writeFile(t, filepath.Join(root, modprobeD, "zfs\x1b[2J.conf"), "options zfs zfs_arc_max=1073741824\n")
	// The report, the diff, the metrics, and an error that names the file.
	for _, args := range [][]string{{}, {"--diff"}, {"--format", "prometheus"}, {"--write", "--arc-max", "16M"}} {
		var stdout, stderr bytes.Buffer
		run(context.Background(), append([]string{"--root", root, "--reserve", "2G"}, args...), &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%v: raw control characters reach the terminal:\n%q", args, out)
		}
	}
	var stdout bytes.Buffer
	run(context.Background(), []string{"--root", root, "--reserve", "2G", "--diff"}, &stdout, io.Discard)
	if !strings.Contains(stdout.String(), `zfs\x1b[2J.conf`) {
		t.Errorf("the file name is not shown escaped:\n%s", stdout.String())
	}
}

// TestXattrsKept: the rewritten file and its backup keep the old file's
// extended attributes: a user attribute and a POSIX ACL.
func TestXattrsKept(t *testing.T) {
	root := copySnapshot(t, "zfs-2.1.11-arc-filled")
	conf := filepath.Join(root, modprobeD, "zfs.conf")
	writeFile(t, conf, "options zfs zfs_arc_max=1073741824\n")
	if err := unix.Setxattr(conf, "user.arcadvise-test", []byte("kept"), 0); err != nil {
		t.Skipf("this file system has no user extended attributes: %v", err)
	}
	// A POSIX ACL giving uid 65534 read access, as setfacl -m u:65534:r
	// writes it (linux/posix_acl_xattr.h: version 2, then {tag, perm, id}).
	acl := aclXattr([][3]uint32{{0x01, 6, 0xffffffff}, {0x02, 4, 65534}, {0x04, 4, 0xffffffff}, {0x10, 4, 0xffffffff}, {0x20, 4, 0xffffffff}})
	haveACL := unix.Setxattr(conf, "system.posix_acl_access", acl, 0) == nil
	if code := run(context.Background(), []string{"--root", root, "--reserve", "2G", "--write"}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, p := range []string{conf, conf + ".arcadvise-bak.1"} {
		buf := make([]byte, 64)
		if n, err := unix.Getxattr(p, "user.arcadvise-test", buf); err != nil || string(buf[:n]) != "kept" {
			t.Errorf("%s: user.arcadvise-test = %q, %v", filepath.Base(p), buf[:max(n, 0)], err)
		}
		if haveACL {
			buf = make([]byte, 256)
			if n, err := unix.Getxattr(p, "system.posix_acl_access", buf); err != nil || !bytes.Equal(buf[:n], acl) {
				t.Errorf("%s: the ACL is %x, %v; want %x", filepath.Base(p), buf[:max(n, 0)], err, acl)
			}
		}
	}
	if !haveACL {
		t.Log("no POSIX ACLs on this file system: the user attribute alone was checked")
	}
}

func aclXattr(entries [][3]uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	return b
}

// TestImmutableFile: a zfs.conf with chattr +i is refused before anything
// is written, with its own message, not "needs root".
func TestImmutableFile(t *testing.T) {
	testutil.NeedRoot(t, "chattr +i")
	root := copySnapshot(t, "zfs-2.1.11-arc-filled")
	conf := filepath.Join(root, modprobeD, "zfs.conf")
	writeFile(t, conf, "options zfs zfs_arc_max=1073741824\n")
	f, err := os.Open(conf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.IoctlGetInt(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err == nil {
		err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, flags|0x10)
	}
	if err != nil {
		t.Skipf("this file system has no immutable attribute: %v", err)
	}
	defer unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, flags)
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--root", root, "--reserve", "2G", "--write"}, io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "refusing to write /etc/modprobe.d/zfs.conf: it has the immutable or append-only attribute") ||
		strings.Contains(stderr.String(), "needs root") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	if names, _ := os.ReadDir(filepath.Dir(conf)); len(names) != 1 {
		t.Errorf("the directory holds %v", names)
	}
}

// unsafePointer points at the start of b, for reading an inotify event.
func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
