package modprobe

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

// The lab's Debian bookworm guest (testdata/README.md): modprobe
// --showconfig printed "options zfs zfs_arc_max=805306368" for it.
func TestLabRoot(t *testing.T) {
	root := filepath.Join("testdata", "lab-2.1.11-deb12")
	c, err := Load(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"zfs_arc_max=805306368@/etc/modprobe.d/zfs.conf:1"}, located(c.Settings)); diff != "" {
		t.Errorf("Settings (-want +got):\n%s", diff)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
	e, err := c.Plan([]Change{maxc(805306368)})
	if err != nil || e.Changed() {
		t.Fatalf("plan for the value in place: %v changed=%v", err, e != nil && e.Changed())
	}

	// The same files in a writable root: change, write, nothing left to do.
	w := mkroot(t,
		file("/etc/modprobe.d/zfs.conf", readFile(t, root, "/etc/modprobe.d/zfs.conf")),
		file("/proc/cmdline", readFile(t, root, "/proc/cmdline")),
	)
	_, e = plan(t, w, maxc(gib), minc(256*mib))
	want := `--- /etc/modprobe.d/zfs.conf
+++ /etc/modprobe.d/zfs.conf (arcadvise)
@@ -1 +1,2 @@
-options zfs zfs_arc_max=805306368
+options zfs zfs_arc_max=1073741824
+options zfs zfs_arc_min=268435456
`
	if diff := cmp.Diff(want, e.Diff()); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
	if _, wrote, err := Write(e, open); err != nil || !wrote {
		t.Fatal(wrote, err)
	}
	if _, e = plan(t, w, maxc(gib), minc(256*mib)); e.Changed() {
		t.Errorf("second plan:\n%s", e.Diff())
	}
	if _, err := os.Stat(filepath.Join(w, "etc/modprobe.d/zfs.conf"+BackupSuffix+".1")); err != nil {
		t.Error(err)
	}
}
