package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTypeBeforeOpen (issue 18, finding 7): a FIFO (as a device node would)
// is refused by its type before it is opened for I/O: a writer blocked in
// open(2) on it, waiting for a reader, stays blocked, and a reader stays
// blocked while WriteExisting refuses it. Opening it, even non-blocking,
// would have let them through: the driver's open (a watchdog's would arm
// it) ran before the type was checked.
func TestTypeBeforeOpen(t *testing.T) {
	for _, noat2 := range []bool{false, true} {
		name := map[bool]string{false: "openat2", true: "os.Root"}[noat2]
		t.Run(name, func(t *testing.T) {
			was := noOpenat2.Swap(noat2)
			defer noOpenat2.Store(was)
			root := t.TempDir()
			fifo := filepath.Join(root, "watchdog")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, tc := range []struct {
				peer int // how the other end opens: blocks until we open the opposite way
				try  func() error
			}{
				{os.O_WRONLY, func() error { _, err := f.ReadFile("watchdog", 10); return err }},
				{os.O_RDONLY, func() error { return f.WriteExisting("watchdog", []byte("1")) }},
			} {
				opened := make(chan struct{})
				go func() {
					p, err := os.OpenFile(fifo, tc.peer, 0)
					if err == nil {
						p.Close()
					}
					close(opened)
				}()
				if err := tc.try(); !errors.Is(err, ErrNotRegular) {
					t.Errorf("%v, want ErrNotRegular", err)
				}
				select {
				case <-opened:
					t.Fatal("the FIFO was opened by arcadvise: its other end woke up")
				case <-time.After(200 * time.Millisecond):
				}
				// Let the peer go: open the opposite end ourselves.
				var peer *os.File
				var err error
				if tc.peer == os.O_RDONLY {
					peer, err = os.OpenFile(fifo, os.O_WRONLY, 0)
				} else {
					peer, err = os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
				}
				if err == nil {
					<-opened
					peer.Close()
				}
			}
		})
	}
}

// TestTrustedDir: the textfile directory is reached without following a
// symlink that someone other than root could have planted, and is written
// through its descriptor.
func TestTrustedDir(t *testing.T) {
	if os.Geteuid() != 0 {
		// testutil.NeedRoot, which this package's tests cannot import
		// (testutil imports rootfs)
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (the directories belong to another user); CI runs the tests as root")
		}
		t.Skip("needs root: the directories belong to another user")
	}
	base := t.TempDir()
	os.Chmod(base, 0o755)
	real := filepath.Join(base, "real")
	user := filepath.Join(base, "user") // a directory another user can write
	for _, d := range []string{real, user} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chown(user, 65534, 65534)
	if err := os.Symlink(real, filepath.Join(user, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(base, "rootlink")); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenTrustedDir(filepath.Join(user, "link")); err == nil || !strings.Contains(err.Error(), "refusing to follow this symlink") {
		t.Errorf("a symlink in a directory uid 65534 owns: %v", err)
	}
	d, err := OpenTrustedDir(filepath.Join(base, "rootlink", ".", "..", "real"))
	if err != nil {
		t.Fatalf("a symlink root made: %v", err)
	}
	defer d.Close()
	s, err := d.Stage("x.prom", []byte("a 1\n"), Attrs{Perm: 0o644, UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("x.prom", nil, 0); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(real, "x.prom")); err != nil || string(b) != "a 1\n" {
		t.Errorf("x.prom: %q, %v", b, err)
	}
	if _, err := OpenTrustedDir(filepath.Join(base, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

// TestCommitChanged: the comparison finds the file
// changed, puts the other version back and reports ErrChanged.
func TestCommitChanged(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "zfs.conf")
	os.WriteFile(p, []byte("old\n"), 0o644)
	f, _ := Open(root)
	defer f.Close()
	d, err := f.OpenDir(".")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want, err := d.Read("zfs.conf", 100)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Stage("zfs.conf", []byte("new\n"), Attrs{Perm: 0o644, UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, []byte("edited\n"), 0o644) // the admin, just before
	if err := s.Commit("zfs.conf", &want, 100); !errors.Is(err, ErrChanged) {
		t.Errorf("Commit = %v", err)
	}
	s.Discard() // the caller's part, as modprobe.Write does
	if b, _ := os.ReadFile(p); string(b) != "edited\n" {
		t.Errorf("content %q", b)
	}
	if des, _ := os.ReadDir(root); len(des) != 1 {
		t.Errorf("left behind: %v", des)
	}
}
