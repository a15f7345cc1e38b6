package modprobe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

func TestWriteRoundTrip(t *testing.T) {
	old := fixture(t, "jeffellis-home-server-zfs.conf")
	root := mkroot(t,
		entry{path: "/etc/modprobe.d/zfs.conf", content: old, mode: 0o640},
		file("/etc/modprobe.d/other.conf", "options zfs l2arc_noprefetch=0\n"),
	)
	changes := []Change{maxc(4 * gib), minc(gib)}
	_, e := plan(t, root, changes...)
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	backup, wrote, err := Write(e, open)
	if err != nil || !wrote {
		t.Fatalf("Write = %q, %v, %v", backup, wrote, err)
	}
	if backup != "/etc/modprobe.d/zfs.conf"+BackupSuffix+".1" {
		t.Errorf("backup = %q", backup)
	}
	if got := readFile(t, root, backup); got != old {
		t.Errorf("backup content:\n%s", got)
	}
	got := readFile(t, root, "/etc/modprobe.d/zfs.conf")
	if got != string(e.New) {
		t.Errorf("written content:\n%s", got)
	}
	// Comments and other lines preserved, values changed.
	if !strings.HasPrefix(got, strings.TrimSuffix(old, "options zfs zfs_arc_max=2147483648\n")) ||
		!strings.HasSuffix(got, "options zfs zfs_arc_max=4294967296\noptions zfs zfs_arc_min=1073741824\n") {
		t.Errorf("written content:\n%s", got)
	}
	for _, p := range []string{"/etc/modprobe.d/zfs.conf", backup} {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o640 {
			t.Errorf("%s mode %v, want 0640", p, fi.Mode().Perm())
		}
	}
	assertNoStrayConf(t, root, "zfs.conf", "other.conf")

	// Again: nothing to do.
	c, e2 := plan(t, root, changes...)
	if e2.Changed() || e2.Diff() != "" {
		t.Errorf("second plan changes:\n%s", e2.Diff())
	}
	if s, _ := c.EffectiveFile("zfs_arc_max"); s.Value != "4294967296" {
		t.Errorf("effective after write: %+v", s)
	}
	for _, ed := range []*Edit{e2, e} { // a fresh plan, and the stale one
		if b, wrote, err := Write(ed, open); err != nil || wrote || b != "" {
			t.Errorf("second Write = %q, %v, %v", b, wrote, err)
		}
	}
	if got := readFile(t, root, backup); got != old {
		t.Error("no-op write touched the backup")
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings after write: %v", c.Warnings)
	}
}

// assertNoStrayConf checks that the only .conf files in /etc/modprobe.d are
// want, and that every other entry is a backup or a dot file (a temporary file)
// (".NAME" + digits) that modprobe skips.
func assertNoStrayConf(t *testing.T, root string, want ...string) {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(root, "etc/modprobe.d"))
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]bool{}
	for _, w := range want {
		ok[w] = true
	}
	for _, de := range des {
		n := de.Name()
		switch {
		case ok[n]:
		case strings.Contains(n, BackupSuffix+"."):
		case strings.HasPrefix(n, ".") && !strings.HasSuffix(n, ".conf"):
		default:
			t.Errorf("stray file %s in /etc/modprobe.d", n)
		}
	}
}

func TestWriteNewFile(t *testing.T) {
	root := mkroot(t)
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	_, e := plan(t, root, maxc(8*gib))
	backup, wrote, err := Write(e, open)
	if err != nil || !wrote || backup != "" {
		t.Fatalf("Write = %q, %v, %v", backup, wrote, err)
	}
	p := filepath.Join(root, "etc/modprobe.d/zfs.conf")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 whatever the umask", fi.Mode().Perm())
	}
	if got := readFile(t, root, "/etc/modprobe.d/zfs.conf"); got != "options zfs zfs_arc_max=8589934592\n" {
		t.Errorf("content %q", got)
	}
	// The file was created since the plan: refuse, write nothing.
	_, e = plan(t, mkroot(t), maxc(8*gib))
	if err := os.MkdirAll(filepath.Dir(e.RealPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.RealPath, []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, wrote, err := Write(e, open); !errors.Is(err, ErrRefused) || wrote {
		t.Errorf("Write over a file created since the plan = %v, %v", wrote, err)
	}
}

func TestWritePackageFileCopy(t *testing.T) {
	root := mkroot(t, file("/usr/lib/modprobe.d/zfs.conf", "options zfs zfs_arc_max=1073741824 zfs_txg_timeout=10\n"))
	_, e := plan(t, root, maxc(2*gib))
	if _, wrote, err := Write(e, open); err != nil || !wrote {
		t.Fatal(wrote, err)
	}
	if got := readFile(t, root, "/usr/lib/modprobe.d/zfs.conf"); got != "options zfs zfs_arc_max=1073741824 zfs_txg_timeout=10\n" {
		t.Errorf("package file changed: %q", got)
	}
	c, err := Load(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if got := located(c.Settings); strings.Join(got, " ") != "zfs_arc_max=2147483648@/etc/modprobe.d/zfs.conf:1 zfs_txg_timeout=10@/etc/modprobe.d/zfs.conf:1" {
		t.Errorf("settings after write: %v", got)
	}
}

// TestWriteSymlinks: a symlinked /etc/modprobe.d/NAME is replaced by a
// regular file in /etc with what it led to plus the change; the file it led
// to (a package's in /usr/lib, a NixOS store path) is never written, and the
// backup is the same symlink.
func TestWriteSymlinks(t *testing.T) {
	for _, tc := range []struct {
		name, target, targetFile, content string
	}{
		{name: "into the package directory", target: "../../usr/lib/modprobe.d/zfs.conf", targetFile: "/usr/lib/modprobe.d/zfs.conf",
			content: "options zfs zfs_arc_max=1073741824\n"},
		{name: "out of the modprobe.d directories (a NixOS store path)", target: "/etc/static/modprobe.d/zfs.conf", targetFile: "/nix/store/abc-etc/etc/modprobe.d/zfs.conf",
			content: "options zfs zfs_arc_max=1073741824\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := mkroot(t,
				link("/etc/modprobe.d/zfs.conf", tc.target),
				link("/etc/static", "/nix/store/abc-etc/etc"),
				file(tc.targetFile, tc.content),
			)
			_, e := plan(t, root, maxc(4*gib))
			if e.RealPath != filepath.Join(root, "etc/modprobe.d/zfs.conf") || e.Link != tc.target || string(e.Old) != tc.content {
				t.Errorf("edit %+v", e)
			}
			backup, wrote, err := Write(e, open)
			if err != nil || !wrote || backup != "/etc/modprobe.d/zfs.conf"+BackupSuffix+".1" {
				t.Fatalf("Write = %q, %v, %v", backup, wrote, err)
			}
			p := filepath.Join(root, "etc/modprobe.d/zfs.conf")
			if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
				t.Errorf("zfs.conf is %v, %v; want a regular file, 0644", fi, err)
			}
			if got := readFile(t, root, "/etc/modprobe.d/zfs.conf"); got != "options zfs zfs_arc_max=4294967296\n" {
				t.Errorf("content %q", got)
			}
			if got := readFile(t, root, tc.targetFile); got != tc.content {
				t.Errorf("the file the link led to changed: %q", got)
			}
			if got, err := os.Readlink(filepath.Join(root, "etc/modprobe.d/zfs.conf"+BackupSuffix+".1")); err != nil || got != tc.target {
				t.Errorf("backup is %q, %v; want the symlink to %s", got, err, tc.target)
			}
		})
	}
	t.Run("masked with /dev/null: refused", func(t *testing.T) {
		root := mkroot(t, link("/etc/modprobe.d/zfs.conf", "/dev/null"))
		c, err := Load(testutil.OpenRoot(t, root))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Plan([]Change{maxc(4 * gib)}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "symlink to /dev/null") {
			t.Errorf("Plan = %v", err)
		}
	})
	t.Run("changed since the plan: refused", func(t *testing.T) {
		root := mkroot(t,
			link("/etc/modprobe.d/zfs.conf", "/usr/lib/modprobe.d/zfs.conf"),
			file("/usr/lib/modprobe.d/zfs.conf", "options zfs zfs_arc_max=1073741824\n"),
			file("/usr/lib/modprobe.d/other", "options zfs zfs_arc_max=1073741824\n"),
		)
		_, e := plan(t, root, maxc(4*gib))
		p := filepath.Join(root, "etc/modprobe.d/zfs.conf")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/usr/lib/modprobe.d/other", p); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Write(e, open); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "changed since it was read") {
			t.Errorf("Write = %v", err)
		}
		if got, _ := os.Readlink(p); got != "/usr/lib/modprobe.d/other" {
			t.Errorf("link now %q", got)
		}
	})
}

func TestWriteNotRegular(t *testing.T) {
	root := mkroot(t, dir("/etc/modprobe.d"))
	fifo := filepath.Join(root, "etc/modprobe.d/zfs.conf")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Plan([]Change{maxc(gib)}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "not a regular file (a named pipe)") {
		t.Errorf("Plan = %v", err)
	}
}

func TestWriteChangedContent(t *testing.T) {
	root := mkroot(t, file("/etc/modprobe.d/zfs.conf", "options zfs zfs_arc_max=1073741824\n"))
	_, e := plan(t, root, maxc(4*gib))
	p := filepath.Join(root, "etc/modprobe.d/zfs.conf")
	if err := os.WriteFile(p, []byte("options zfs zfs_arc_max=2147483648\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, wrote, err := Write(e, open); !errors.Is(err, ErrRefused) || wrote || !strings.Contains(err.Error(), "changed since it was read") {
		t.Errorf("Write = %v, %v", wrote, err)
	}
	if got := readFile(t, root, "/etc/modprobe.d/zfs.conf"); got != "options zfs zfs_arc_max=2147483648\n" {
		t.Errorf("content %q", got)
	}
	if bks, _ := filepath.Glob(p + BackupSuffix + "*"); len(bks) != 0 {
		t.Errorf("backup written by a refused write: %v", bks)
	}
}

func TestWriteRemovesStaleTemps(t *testing.T) {
	// Only arcadvise's own temporary names (rootfs.TempName), only when
	// older than a minute: an editor's swap file, another tool's dot file
	// or a young temporary file of a concurrent write are kept.
	own := rootfs.TempName("zfs.conf")
	young := rootfs.TempName("zfs.conf")
	root := mkroot(t,
		file("/etc/modprobe.d/zfs.conf", "options zfs zfs_arc_max=1073741824\n"),
		file("/etc/modprobe.d/"+own, "options zfs zfs_ar"),
		file("/etc/modprobe.d/"+young, "young: another writer's"),
		file("/etc/modprobe.d/.zfs.conf5577006791947779410", "renameio's, or anyone's"),
		file("/etc/modprobe.d/.zfs.conf.swp", "an editor's"),
	)
	old := time.Now().Add(-2 * staleAge)
	for _, n := range []string{own, ".zfs.conf5577006791947779410", ".zfs.conf.swp"} {
		if err := os.Chtimes(filepath.Join(root, "etc/modprobe.d", n), old, old); err != nil {
			t.Fatal(err)
		}
	}
	_, e := plan(t, root, maxc(2*gib))
	if _, _, err := Write(e, open); err != nil {
		t.Fatal(err)
	}
	var names []string
	des, _ := os.ReadDir(filepath.Join(root, "etc/modprobe.d"))
	for _, de := range des {
		names = append(names, de.Name())
	}
	want := []string{young, ".zfs.conf.swp", ".zfs.conf5577006791947779410", "zfs.conf", "zfs.conf" + BackupSuffix + ".1"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("directory holds %v, want %v", names, want)
	}
}

// TestWriteBackupSeries: the first backup keeps the original for good,
// the newest BackupsKept others stay, and a refused or failed write leaves
// the series as it was.
func TestWriteBackupSeries(t *testing.T) {
	root := mkroot(t, file("/etc/modprobe.d/zfs.conf", "options zfs zfs_arc_max=1073741824\n"))
	p := filepath.Join(root, "etc/modprobe.d/zfs.conf")
	for i := 1; i <= 9; i++ {
		_, e := plan(t, root, maxc(uint64(i+1)*gib))
		bk, wrote, err := Write(e, open)
		if err != nil || !wrote || bk != fmt.Sprintf("/etc/modprobe.d/zfs.conf%s.%d", BackupSuffix, i) {
			t.Fatalf("write %d: %q %v %v", i, bk, wrote, err)
		}
	}
	first, _ := os.ReadFile(p + BackupSuffix + ".1")
	if string(first) != "options zfs zfs_arc_max=1073741824\n" {
		t.Errorf("first backup %q", first)
	}
	bks, _ := filepath.Glob(p + BackupSuffix + ".*")
	var got []string
	for _, b := range bks {
		got = append(got, strings.TrimPrefix(filepath.Base(b), "zfs.conf"+BackupSuffix+"."))
	}
	slices.Sort(got)
	if strings.Join(got, " ") != "1 5 6 7 8 9" {
		t.Errorf("backups %v, want 1 and the newest 5", got)
	}
	// An edit made after Plan read the file: refused, the edit kept, no
	// backup taken.
	_, e := plan(t, root, maxc(20*gib))
	if err := os.WriteFile(p, []byte("# the admin's edit\noptions zfs zfs_arc_max=3221225472\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, wrote, err := Write(e, open); !errors.Is(err, ErrRefused) || wrote || !strings.Contains(err.Error(), "changed since it was read") {
		t.Fatalf("write over an edit: %v %v", wrote, err)
	}
	if b, _ := os.ReadFile(p); !strings.HasPrefix(string(b), "# the admin's edit") {
		t.Errorf("the edit was lost: %q", b)
	}
	if bks2, _ := filepath.Glob(p + BackupSuffix + ".*"); len(bks2) != len(bks) {
		t.Errorf("a refused write changed the backups: %d, was %d", len(bks2), len(bks))
	}
}

// open is the gate of a write that nothing interrupts.
func open() error { return nil }
