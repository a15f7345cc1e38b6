package modprobe

import (
	"errors"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

const (
	gib = 1 << 30
	mib = 1 << 20
)

func maxc(v uint64) Change { return Change{Param: "zfs_arc_max", Value: v} }
func minc(v uint64) Change { return Change{Param: "zfs_arc_min", Value: v} }

func plan(t *testing.T, root string, changes ...Change) (*Config, *Edit) {
	t.Helper()
	c, err := Load(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.Plan(changes)
	if err != nil {
		t.Fatal(err)
	}
	return c, e
}

// Plan and Diff on the real configurations in ../shared/fixtures/modprobe,
// placed under etc/modprobe.d of a temporary root.
func TestPlanFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		name    string // file name under /etc/modprobe.d
		changes []Change
		diff    string
	}{
		{
			fixture: "shinebreaker-nixos-rendered-nixos.conf", // several parameters on one line
			name:    "nixos.conf",
			changes: []Change{maxc(4 * gib)},
			diff: `--- /etc/modprobe.d/nixos.conf
+++ /etc/modprobe.d/nixos.conf (arcadvise)
@@ -1 +1 @@
-options zfs l2arc_noprefetch=0 l2arc_write_boost=33554432 l2arc_write_max=16777216 zfs_arc_max=2147483648
+options zfs l2arc_noprefetch=0 l2arc_write_boost=33554432 l2arc_write_max=16777216 zfs_arc_max=4294967296
`,
		},
		{
			fixture: "jeffellis-home-server-zfs.conf", // comments holding values
			name:    "zfs.conf",
			changes: []Change{maxc(4 * gib), minc(1 * gib)},
			diff: `--- /etc/modprobe.d/zfs.conf
+++ /etc/modprobe.d/zfs.conf (arcadvise)
@@ -3,4 +3,5 @@
 # yes you really DO have to specify zfs_arc_max IN BYTES ONLY!
 # 16GB=17179869184, 8GB=8589934592, 4GB=4294967296, 2GB=2147483648, 1GB=1073741824, 500MB=536870912, 250MB=268435456
 #
-options zfs zfs_arc_max=2147483648
+options zfs zfs_arc_max=4294967296
+options zfs zfs_arc_min=1073741824
`,
		},
		{
			fixture: "arcticfoxes-synapse-ubuntu-zfs.conf", // no trailing newline
			name:    "zfs.conf",
			changes: []Change{maxc(4 * gib), minc(1 * gib)},
			diff: `--- /etc/modprobe.d/zfs.conf
+++ /etc/modprobe.d/zfs.conf (arcadvise)
@@ -1 +1,2 @@
-options zfs zfs_arc_max=8589934592
\ No newline at end of file
+options zfs zfs_arc_max=4294967296
+options zfs zfs_arc_min=1073741824
`,
		},
		{
			fixture: "arcticfoxes-synapse-ubuntu-zfs.conf", // no trailing newline, value only: no newline added
			name:    "zfs.conf",
			changes: []Change{maxc(4 * gib)},
			diff: `--- /etc/modprobe.d/zfs.conf
+++ /etc/modprobe.d/zfs.conf (arcadvise)
@@ -1 +1 @@
-options zfs zfs_arc_max=8589934592
\ No newline at end of file
+options zfs zfs_arc_max=4294967296
\ No newline at end of file
`,
		},
		{
			fixture: "akai-hana-dotfiles-zfs.conf", // min before max
			name:    "zfs.conf",
			changes: []Change{maxc(2 * gib), minc(512 * mib)},
			diff: `--- /etc/modprobe.d/zfs.conf
+++ /etc/modprobe.d/zfs.conf (arcadvise)
@@ -1,3 +1,3 @@
-options zfs zfs_arc_min=1073741824
-options zfs zfs_arc_max=4294967296
+options zfs zfs_arc_min=536870912
+options zfs zfs_arc_max=2147483648
 
`,
		},
		{
			fixture: "petrusz-deskminiconfig-zfs.conf", // only a commented-out setting
			name:    "zfs.conf",
			changes: []Change{maxc(4 * gib)},
			diff: `--- /etc/modprobe.d/zfs.conf
+++ /etc/modprobe.d/zfs.conf (arcadvise)
@@ -1 +1,2 @@
 #options zfs zfs_arc_max=4294967296
+options zfs zfs_arc_max=4294967296
`,
		},
		{
			fixture: "sondrehusevold-dotfiles-zfs.conf", // commented-out old options, blank lines
			name:    "zfs.conf",
			changes: []Change{maxc(4 * gib)},
			diff: `--- /etc/modprobe.d/zfs.conf
+++ /etc/modprobe.d/zfs.conf (arcadvise)
@@ -15,3 +15,4 @@
 #options zfs zfs_dirty_data_max_percent=40
 #options zfs l2arc_headroom_boost=400
 #options zfs zfs_prefetch_disable=1
+options zfs zfs_arc_max=4294967296
`,
		},
		{
			fixture: "blog-esbv-2014-combined-zfs.conf", // the 13-line file
			name:    "zfs.conf",
			changes: []Change{maxc(4 * gib), minc(512 * mib)},
			diff: `--- /etc/modprobe.d/zfs.conf
+++ /etc/modprobe.d/zfs.conf (arcadvise)
@@ -11,8 +11,8 @@
 options zfs zfs_vdev_sync_read_max_active=1
 #### Memory tuning - entered in bytes
 # zfs_zrc_max (1/2 or 3/4 of system memory)
-options zfs zfs_arc_max=8589934592
+options zfs zfs_arc_max=4294967296
 # zfs zfs_arc_meta_limit (1/4 of zfs_arc_max)
 options zfs zfs_arc_meta_limit=2147483648
 # zfs_arc_min (1/2 of zfs_arc_meta_limit)
-options zfs zfs_arc_min=1073741824
+options zfs zfs_arc_min=536870912
`,
		},
		{
			fixture: "xshok-proxmox-99-xs-zfsarc.rendered-64GB.conf", // a file not named zfs.conf
			name:    "99-xs-zfsarc.conf",
			changes: []Change{maxc(6 * gib)},
			diff: `--- /etc/modprobe.d/99-xs-zfsarc.conf
+++ /etc/modprobe.d/99-xs-zfsarc.conf (arcadvise)
@@ -2,7 +2,7 @@
 
 # Use 1/8 RAM for MAX cache, 1/16 RAM for MIN cache, or 1GB
 options zfs zfs_arc_min=4294967296
-options zfs zfs_arc_max=8589934592
+options zfs zfs_arc_max=6442450944
 
 # use the prefetch method
 options zfs l2arc_noprefetch=0
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			old := fixture(t, tt.fixture)
			root := mkroot(t, file("/etc/modprobe.d/"+tt.name, old))
			_, e := plan(t, root, tt.changes...)
			if e.Path != "/etc/modprobe.d/"+tt.name || !e.Exists || string(e.Old) != old || e.Mode != 0o644 {
				t.Errorf("edit %s exists=%v mode=%v", e.Path, e.Exists, e.Mode)
			}
			if diff := cmp.Diff(tt.diff, e.Diff()); diff != "" {
				t.Errorf("Diff (-want +got):\n%s", diff)
			}
			if !e.Changed() {
				t.Error("Changed() = false")
			}
			// Every line but the ones setting the changed parameters is
			// kept byte for byte.
			keep := func(s string) []string {
				var out []string
				for _, l := range strings.SplitAfter(s, "\n") {
					if !strings.HasPrefix(l, "options zfs zfs_arc_m") && !strings.Contains(l, " zfs_arc_max=") && l != "" {
						out = append(out, strings.TrimSuffix(l, "\n"))
					}
				}
				return out
			}
			if diff := cmp.Diff(keep(old), keep(string(e.New))); diff != "" {
				t.Errorf("other lines changed (-old +new):\n%s", diff)
			}
		})
	}
}

func TestPlanAlreadyRight(t *testing.T) {
	for _, content := range []string{
		"options zfs zfs_arc_max=4294967296\n",
		"options zfs zfs_arc_max=0x100000000 # hex\n", // same number
		"options zfs zfs-arc-max=4294967296",
		// An older occurrence is dead but harmless: nothing to change.
		"options zfs zfs_arc_max=1\noptions zfs zfs_arc_max=4294967296\n",
	} {
		root := mkroot(t, file("/etc/modprobe.d/zfs.conf", content))
		_, e := plan(t, root, maxc(4*gib))
		if e.Changed() || e.Diff() != "" || string(e.New) != content || string(e.Old) != content {
			t.Errorf("%q: Changed=%v Diff=%q", content, e.Changed(), e.Diff())
		}
	}
	// Already right in another file than the one that gets the rest.
	root := mkroot(t,
		file("/etc/modprobe.d/a.conf", "options zfs zfs_arc_max=4294967296\n"),
		file("/etc/modprobe.d/b.conf", "options zfs zfs_arc_min=1\n"),
	)
	_, e := plan(t, root, maxc(4*gib), minc(gib))
	if e.Path != "/etc/modprobe.d/b.conf" || string(e.New) != "options zfs zfs_arc_min=1073741824\n" {
		t.Errorf("edit %s:\n%s", e.Path, e.New)
	}
}

func TestPlanEdits(t *testing.T) {
	tests := []struct {
		name    string
		files   []entry
		changes []Change
		path    string
		from    string
		old     string
		new     string
	}{
		{
			name: "earlier occurrences in the same file are removed",
			files: []entry{file("/etc/modprobe.d/zfs.conf",
				"options zfs zfs_arc_max=1073741824\n# keep\noptions zfs a=1 zfs_arc_max=2147483648\tb=2\noptions zfs zfs-arc-max=4294967296 c=3\n")},
			changes: []Change{maxc(8 * gib)},
			path:    "/etc/modprobe.d/zfs.conf",
			old:     "options zfs zfs_arc_max=1073741824\n# keep\noptions zfs a=1 zfs_arc_max=2147483648\tb=2\noptions zfs zfs-arc-max=4294967296 c=3\n",
			new:     "# keep\noptions zfs a=1\tb=2\noptions zfs zfs-arc-max=8589934592 c=3\n",
		},
		{
			name:    "both on one line, one removed",
			files:   []entry{file("/etc/modprobe.d/zfs.conf", "options zfs zfs_arc_min=1 zfs_arc_max=2 zfs_arc_min=3\n")},
			changes: []Change{minc(64 * mib)},
			path:    "/etc/modprobe.d/zfs.conf",
			old:     "options zfs zfs_arc_min=1 zfs_arc_max=2 zfs_arc_min=3\n",
			new:     "options zfs zfs_arc_max=2 zfs_arc_min=67108864\n",
		},
		{
			name:    "quoted value and continuation",
			files:   []entry{file("/etc/modprobe.d/zfs.conf", "options zfs a=1 \\\n  zfs_arc_max=\"1073741824\" b=2\n")},
			changes: []Change{maxc(2 * gib)},
			path:    "/etc/modprobe.d/zfs.conf",
			old:     "options zfs a=1 \\\n  zfs_arc_max=\"1073741824\" b=2\n",
			new:     "options zfs a=1 \\\n  zfs_arc_max=2147483648 b=2\n",
		},
		{
			name:    "trailing comment kept",
			files:   []entry{file("/etc/modprobe.d/zfs.conf", "options zfs zfs_arc_max=8589934592  # 8GB max ARC\n")},
			changes: []Change{maxc(4 * gib)},
			path:    "/etc/modprobe.d/zfs.conf",
			old:     "options zfs zfs_arc_max=8589934592  # 8GB max ARC\n",
			new:     "options zfs zfs_arc_max=4294967296  # 8GB max ARC\n",
		},
		{
			name:    "open continuation at end of file",
			files:   []entry{file("/etc/modprobe.d/zfs.conf", "# ARC \\\n")},
			changes: []Change{maxc(4 * gib)},
			path:    "/etc/modprobe.d/zfs.conf",
			old:     "# ARC \\\n",
			new:     "# ARC \\\n\noptions zfs zfs_arc_max=4294967296\n",
		},
		{
			name:    "backslash at end of file without newline",
			files:   []entry{file("/etc/modprobe.d/zfs.conf", "# ARC \\")},
			changes: []Change{maxc(4 * gib)},
			path:    "/etc/modprobe.d/zfs.conf",
			old:     "# ARC \\",
			new:     "# ARC \\\n\noptions zfs zfs_arc_max=4294967296\n",
		},
		{
			name:    "new file",
			changes: []Change{maxc(4 * gib), minc(gib)},
			path:    "/etc/modprobe.d/zfs.conf",
			new:     "options zfs zfs_arc_max=4294967296\noptions zfs zfs_arc_min=1073741824\n",
		},
		{
			name: "the later of two files wins for both",
			files: []entry{
				file("/etc/modprobe.d/a.conf", "options zfs zfs_arc_max=1073741824\n"),
				file("/etc/modprobe.d/b.conf", "options zfs zfs_arc_min=1\n"),
			},
			changes: []Change{maxc(4 * gib), minc(gib)},
			path:    "/etc/modprobe.d/b.conf",
			old:     "options zfs zfs_arc_min=1\n",
			new:     "options zfs zfs_arc_min=1073741824\noptions zfs zfs_arc_max=4294967296\n",
		},
		{
			name:    "min only set: max goes with it",
			files:   []entry{file("/etc/modprobe.d/10-min.conf", "options zfs zfs_arc_min=1073741824\n")},
			changes: []Change{maxc(4 * gib)},
			path:    "/etc/modprobe.d/10-min.conf",
			old:     "options zfs zfs_arc_min=1073741824\n",
			new:     "options zfs zfs_arc_min=1073741824\noptions zfs zfs_arc_max=4294967296\n",
		},
		{
			name: "package file: copied to /etc, which hides it",
			files: []entry{
				file("/usr/lib/modprobe.d/zfs.conf", "# vendor\noptions zfs zfs_arc_max=1073741824 zfs_txg_timeout=10\n"),
			},
			changes: []Change{maxc(4 * gib)},
			path:    "/etc/modprobe.d/zfs.conf",
			from:    "/usr/lib/modprobe.d/zfs.conf",
			new:     "# vendor\noptions zfs zfs_arc_max=4294967296 zfs_txg_timeout=10\n",
		},
		{
			name: "a package's zfs.conf without ARC settings is kept in the new file",
			files: []entry{
				file("/lib/modprobe.d/zfs.conf", "options zfs zfs_txg_timeout=10\n"),
			},
			changes: []Change{maxc(4 * gib)},
			path:    "/etc/modprobe.d/zfs.conf",
			from:    "/lib/modprobe.d/zfs.conf",
			new:     "options zfs zfs_txg_timeout=10\noptions zfs zfs_arc_max=4294967296\n",
		},
		{
			name: "a command line setting does not change the file chosen",
			files: []entry{
				file("/etc/modprobe.d/zfs.conf", "options zfs zfs_arc_max=1073741824\n"),
				file("/proc/cmdline", "zfs.zfs_arc_max=2147483648\n"),
			},
			changes: []Change{maxc(4 * gib)},
			path:    "/etc/modprobe.d/zfs.conf",
			old:     "options zfs zfs_arc_max=1073741824\n",
			new:     "options zfs zfs_arc_max=4294967296\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := mkroot(t, tt.files...)
			_, e := plan(t, root, tt.changes...)
			if e.Path != tt.path || e.From != tt.from || string(e.Old) != tt.old || e.Exists != (tt.old != "") {
				t.Errorf("edit %s from %q exists=%v old=%q", e.Path, e.From, e.Exists, e.Old)
			}
			if diff := cmp.Diff(tt.new, string(e.New)); diff != "" {
				t.Errorf("New (-want +got):\n%s", diff)
			}
			if e.Why == "" {
				t.Error("Why is empty")
			}
		})
	}
}

func TestPlanDiffNewFile(t *testing.T) {
	_, e := plan(t, mkroot(t), maxc(8*gib))
	want := `--- /dev/null
+++ /etc/modprobe.d/zfs.conf (arcadvise)
@@ -0,0 +1 @@
+options zfs zfs_arc_max=8589934592
`
	if diff := cmp.Diff(want, e.Diff()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if e.Exists || e.Mode != 0o644 || !strings.Contains(e.Why, "new file /etc/modprobe.d/zfs.conf") {
		t.Errorf("%+v", e)
	}

	root := mkroot(t, file("/usr/lib/modprobe.d/zfs.conf", "options zfs zfs_arc_max=1073741824\n"))
	_, e = plan(t, root, maxc(8*gib))
	want = `--- /usr/lib/modprobe.d/zfs.conf
+++ /etc/modprobe.d/zfs.conf (arcadvise)
@@ -1 +1 @@
-options zfs zfs_arc_max=1073741824
+options zfs zfs_arc_max=8589934592
`
	if diff := cmp.Diff(want, e.Diff()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPlanRefuses(t *testing.T) {
	tests := []struct {
		name    string
		files   []entry
		changes []Change
		want    string
		refused bool
	}{
		{
			name:    "unbalanced quote",
			files:   []entry{file("/etc/modprobe.d/zfs.conf", "options zfs a=\"x\noptions zfs zfs_arc_max=1\n")},
			changes: []Change{maxc(gib)},
			want:    "/etc/modprobe.d/zfs.conf:1: unbalanced '\"'",
			refused: true,
		},
		{
			name: "double dash in an earlier file",
			files: []entry{
				file("/etc/modprobe.d/a.conf", "options zfs zfs_txg_timeout=5 --\n"),
			},
			changes: []Change{maxc(gib)},
			want:    "would not take effect",
			refused: true,
		},
		{
			name:    "target is a directory",
			files:   []entry{dir("/etc/modprobe.d/zfs.conf")},
			changes: []Change{maxc(gib)},
			want:    "refusing to edit /etc/modprobe.d/zfs.conf: /etc/modprobe.d/zfs.conf is not a regular file (a directory)",
			refused: true,
		},
		{name: "no changes", want: "no changes"},
		{name: "duplicate", changes: []Change{maxc(gib), {Param: "zfs-arc-max", Value: gib}}, want: "changed twice"},
		{name: "bad name", changes: []Change{{Param: "zfs arc", Value: 1}}, want: "not a parameter name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := mkroot(t, tt.files...)
			c, err := Load(testutil.OpenRoot(t, root))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Plan(tt.changes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if errors.Is(err, ErrRefused) != tt.refused {
				t.Errorf("errors.Is(err, ErrRefused) = %v", !tt.refused)
			}
		})
	}
}

func TestSnippet(t *testing.T) {
	got := Snippet([]Change{minc(512 * mib), maxc(8 * gib)})
	want := "options zfs zfs_arc_min=536870912\noptions zfs zfs_arc_max=8589934592\n"
	if got != want {
		t.Errorf("Snippet = %q", got)
	}
	if Snippet(nil) != "" {
		t.Error("Snippet(nil) not empty")
	}
}
