package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestConcurrentWrites: 100 pairs of --write on one root at once, each pair
// with a different reservation. Every run either writes or refuses with
// exit 2 ("changed since it was read"); no run reports a write that the
// other then loses: when both wrote, the second one's backup is the first
// one's content.
func TestConcurrentWrites(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-arc-filled")
	orig := "options zfs zfs_arc_max=1073741824\n"
	both, refused := 0, 0
	for i := range 100 {
		root := filepath.Join(t.TempDir(), "host")
		if err := os.CopyFS(root, os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(root, "etc/modprobe.d/zfs.conf")
		writeFile(t, conf, orig)
		reserves := [2]string{"2G", "1G"}
		var codes [2]int
		var errs [2]bytes.Buffer
		var wg sync.WaitGroup
		for j := range 2 {
			wg.Go(func() {
				codes[j] = run(context.Background(), []string{"--root", root, "--reserve", reserves[j], "--write"}, &bytes.Buffer{}, &errs[j])
			})
		}
		wg.Wait()
		final, _ := os.ReadFile(conf)
		var wrote []string
		for j := range 2 {
			switch codes[j] {
			case 0:
				wrote = append(wrote, reserves[j])
			case 2:
				refused++
				if !strings.Contains(errs[j].String(), "changed since it was read") {
					t.Fatalf("pair %d: run %s refused for another reason: %s", i, reserves[j], errs[j].String())
				}
			default:
				t.Fatalf("pair %d: run %s exit %d: %s", i, reserves[j], codes[j], errs[j].String())
			}
		}
		bk1, _ := os.ReadFile(conf + ".arcadvise-bak.1")
		if string(bk1) != orig {
			t.Fatalf("pair %d: first backup %q", i, bk1)
		}
		switch len(wrote) {
		case 1:
			if strings.Contains(string(final), "1073741824") {
				t.Fatalf("pair %d: %s reported a write, the file is %q", i, wrote[0], final)
			}
		case 2:
			// Both wrote, one after the other: the later one read the
			// earlier one's content, which is in its backup.
			both++
			bk2, err := os.ReadFile(conf + ".arcadvise-bak.2")
			if err != nil || string(bk2) == orig || string(bk2) == string(final) {
				t.Fatalf("pair %d: both wrote, but the second backup is %q (%v), the file %q", i, bk2, err, final)
			}
		default:
			t.Fatalf("pair %d: neither wrote: %v", i, codes)
		}
	}
	t.Logf("100 pairs: both wrote in turn %d times, %d runs refused with exit 2", both, refused)
}

// TestSignalNeverActs: SIGTERM (or SIGINT, SIGHUP) during --sample 1000h --write
// --live ends the window; the advice is printed from what was seen, nothing
// is written or applied, and the exit status is 143 (130, 129). The signal goes
// when the child is ready for it: its stderr is a terminal, where the
// progress line appears after the first reading, and the child handles
// SIGINT and SIGTERM from before it reads anything (runMain).
func TestSignalNeverActs(t *testing.T) {
	bin, err := exec.LookPath("arcadvise")
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-arc-filled")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "host")
			if err := os.CopyFS(root, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			before := treeSums(t, root)
			cmd := exec.Command(bin, "--root", root, "--reserve", "2G", "--sample", "1000h", "--interval", "100ms", "--write", "--live")
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Fatalf("opening a pty: %v", err)
			}
			defer ptmx.Close()
			var stdout bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, tty
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			tty.Close() // the child holds it; reads of ptmx end when it exits
			// Read the terminal until the child has gone, and say when the
			// first progress line is there.
			var stderr bytes.Buffer
			ready, eof := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(eof)
				buf, unready := make([]byte, 4096), ready
				for {
					n, err := ptmx.Read(buf)
					stderr.Write(buf[:n])
					if unready != nil && bytes.Contains(stderr.Bytes(), []byte("sampling: ")) {
						close(unready)
						unready = nil
					}
					if err != nil {
						return
					}
				}
			}()
			select {
			case <-ready:
			case <-eof:
				cmd.Wait()
				t.Fatalf("the child ended before its first progress line: %q", stderr.String())
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatal("no progress line after 10 s")
			}
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				t.Fatal("still running 5 s after the signal")
			}
			<-eof
			if code, want := cmd.ProcessState.ExitCode(), 128+int(sig); code != want {
				t.Errorf("exit %d, want %d\nstderr: %s", code, want, stderr.String())
			}
			if !strings.Contains(stdout.String(), "Recommendation: zfs_arc_max = 1.43 GiB") {
				t.Errorf("no advice printed:\n%s", stdout.String())
			}
			if !strings.Contains(stderr.String(), "nothing was written or applied") {
				t.Errorf("stderr: %s", stderr.String())
			}
			if got := changed(before, treeSums(t, root)); len(got) != 0 {
				t.Errorf("files changed under the root: %q", got)
			}
		})
	}
}
