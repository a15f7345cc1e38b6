package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func setup(t *testing.T) (root, outside string, f *FS) {
	t.Helper()
	dir := t.TempDir()
	root, outside = filepath.Join(dir, "root"), filepath.Join(dir, "outside")
	for _, d := range []string{root + "/etc/modprobe.d", root + "/usr/lib/modprobe.d", outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, s := range map[string]string{
		root + "/usr/lib/modprobe.d/x.conf": "inside\n",
		outside + "/secret":                 "outside\n",
	} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"etc/modprobe.d/abs.conf":  "/usr/lib/modprobe.d/x.conf",
		"etc/modprobe.d/rel.conf":  "../../usr/lib/modprobe.d/x.conf",
		"etc/modprobe.d/up.conf":   "../../../../../../usr/lib/modprobe.d/x.conf",
		"etc/modprobe.d/out.conf":  outside + "/secret",
		"etc/modprobe.d/loop.conf": "loop.conf",
		"etc/escape":               "/nonexistent/../" + outside,
		"etc/via-missing":          "/nonexistent/../usr",
	}
	for p, target := range links {
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return root, outside, f
}

// TestResolve runs with the kernel's resolution (openat2 and
// /proc/self/fd, for what exists) and with the os.Root walk.
func TestResolve(t *testing.T) {
	t.Run("openat2", resolve)
	t.Run("os.Root", func(t *testing.T) {
		was := noOpenat2.Swap(true)
		defer noOpenat2.Store(was)
		resolve(t)
	})
}

func resolve(t *testing.T) {
	_, outside, f := setup(t)
	for _, tt := range []struct{ in, want string }{
		{"etc/modprobe.d/abs.conf", "usr/lib/modprobe.d/x.conf"},
		{"/etc/modprobe.d/rel.conf", "usr/lib/modprobe.d/x.conf"},
		{"etc/modprobe.d/up.conf", "usr/lib/modprobe.d/x.conf"}, // ".." stops at the root
		{"etc/modprobe.d/out.conf", strings.TrimPrefix(outside, "/") + "/secret"},
		{"etc/modprobe.d/new/dir/file", "etc/modprobe.d/new/dir/file"},
		{"nothere/a/b", "nothere/a/b"}, // no parent: nothing to look at below it
		// A dangling link as a parent is followed, wherever it leads.
		{"etc/modprobe.d/out.conf/deeper", strings.TrimPrefix(outside, "/") + "/secret/deeper"},
		{"", ""},
		{"/", ""},
		{"etc/../usr/lib/./modprobe.d/", "usr/lib/modprobe.d"},
	} {
		if got, err := f.Resolve(tt.in); err != nil || got != tt.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"etc/modprobe.d/loop.conf", "etc/escape/secret", "etc/via-missing/lib", "a/../b"} {
		if got, err := f.Resolve(in); err == nil && in != "a/../b" {
			t.Errorf("Resolve(%q) = %q, want an error", in, got)
		}
	}
	if _, err := f.Resolve("missing/../b"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf(`Resolve("missing/../b") = %v, want ENOENT: ".." cannot pass a missing directory`, err)
	}
}

// TestReadConfined runs twice: with openat2 (the kernel resolves in the
// root) and with the os.Root walk that kernels before 5.6 get.
func TestReadConfined(t *testing.T) {
	t.Run("openat2", readConfined)
	t.Run("os.Root", func(t *testing.T) {
		was := noOpenat2.Swap(true)
		defer noOpenat2.Store(was)
		readConfined(t)
	})
}

func readConfined(t *testing.T) {
	root, _, f := setup(t)
	if b, err := f.ReadFile("../../../etc/modprobe.d/abs.conf", 100); err != nil || string(b) != "inside\n" {
		t.Errorf(".. above the root stays at the root: %q %v", b, err)
	}
	if b, err := f.ReadFile("etc/modprobe.d/abs.conf", 100); err != nil || string(b) != "inside\n" {
		t.Errorf("through an absolute link inside: %q %v", b, err)
	}
	// The absolute link to the outside file is taken inside the root,
	// where there is no such file.
	if b, err := f.ReadFile("etc/modprobe.d/out.conf", 100); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("out.conf: %q %v; want ENOENT", b, err)
	}
	if _, err := f.ReadFile("etc/modprobe.d/abs.conf", 3); !errors.Is(err, ErrTooLarge) || !strings.HasPrefix(err.Error(), filepath.Join(root, "etc/modprobe.d/abs.conf")+": ") {
		t.Errorf("limit: %v", err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := f.ReadFile("fifo", 100); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "a named pipe") {
			t.Errorf("fifo: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("reading a FIFO blocked")
	}
	if _, err := f.ReadFile("etc", 100); !errors.Is(err, ErrNotRegular) {
		t.Errorf("directory: %v", err)
	}
	if err := f.WriteExisting("etc/modprobe.d/out.conf", []byte("x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteExisting through a link out: %v", err)
	}
	if err := f.WriteExisting("fifo", []byte("x")); err == nil {
		t.Error("WriteExisting wrote a FIFO")
	}

	// Stat follows, Lstat does not; both inside the root.
	if fi, err := f.Lstat("etc/modprobe.d/abs.conf"); err != nil || fi.Mode()&fs.ModeSymlink == 0 || fi.Name() != "abs.conf" {
		t.Errorf("Lstat of a link: %v %v", fi, err)
	}
	a, err := f.Stat("etc/modprobe.d/abs.conf")
	if err != nil || !a.Mode().IsRegular() || a.Size() != int64(len("inside\n")) {
		t.Errorf("Stat through a link: %v %v", a, err)
	}
	b, err := f.Stat("/usr/lib/modprobe.d/x.conf")
	if err != nil || !SameFile(a, b) {
		t.Errorf("Stat of the target: %v %v; SameFile %v", b, err, err == nil && SameFile(a, b))
	}
	if d, err := f.Stat("etc/modprobe.d/"); err != nil || !d.IsDir() || SameFile(a, d) {
		t.Errorf("Stat of a directory: %v %v", d, err)
	}
	for _, p := range []string{"etc/modprobe.d/out.conf", "missing"} {
		if _, err := f.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%q) = %v, want ENOENT", p, err)
		}
	}
	if fi, err := f.Lstat("etc/modprobe.d/out.conf"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat of a dangling link: %v %v", fi, err)
	}
	// The limit is exact: max bytes read, max+1 refused, whatever size
	// fstat says and whatever the buffer's growth.
	big := strings.Repeat("x", 10000)
	if err := os.WriteFile(filepath.Join(root, "big"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := f.ReadFile("big", 10000); err != nil || string(b) != big {
		t.Errorf("big at its size: %d bytes, %v", len(b), err)
	}
	if _, err := f.ReadFile("big", 9999); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big over the limit: %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := f.ReadFile("empty", 0); err != nil || len(b) != 0 {
		t.Errorf("empty: %q %v", b, err)
	}
}

// TestReadProc reads a /proc file, whose size fstat gives as 0, through
// the root "/" (read only).
func TestReadProc(t *testing.T) {
	for _, noat2 := range []bool{false, true} {
		was := noOpenat2.Swap(noat2)
		f, err := Open("/")
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile("/proc/self/limits") // the same for this process whoever reads it
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.ReadFile("proc/self/limits", 1<<20)
		if err != nil || string(b) != string(want) {
			t.Errorf("openat2 off=%v: %d bytes (want %d), %v", noat2, len(b), len(want), err)
		}
		if _, err := f.ReadFile("proc/self/limits", int64(len(want)-1)); !errors.Is(err, ErrTooLarge) {
			t.Errorf("openat2 off=%v: over the limit: %v", noat2, err)
		}
		f.Close()
		noOpenat2.Store(was)
	}
}

func TestLockAndTemps(t *testing.T) {
	_, _, f := setup(t)
	d1, err := f.OpenDir("etc/modprobe.d")
	if err != nil {
		t.Fatal(err)
	}
	defer d1.Close()
	d2, err := f.OpenDir("etc/modprobe.d")
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	unlock, err := d1.Lock(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d2.Lock(100 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "another arcadvise is writing there") {
		t.Errorf("second lock: %v", err)
	}
	unlock()
	u2, err := d2.Lock(time.Second)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	u2()
	n := TempName("zfs.conf")
	if !IsTempName(n, "zfs.conf") || IsTempName(".zfs.conf20240101", "zfs.conf") || IsTempName(n, "other.conf") {
		t.Errorf("TempName %q", n)
	}
}
