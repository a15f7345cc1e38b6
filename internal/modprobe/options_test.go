package modprobe

import (
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// TestModuleOptions: the options modprobe.d gives another module
// (netconsole, for crash capture), read from the files Load read, with
// kmod's line rules: a continuation joins lines, '#' first is a comment,
// an indented '#' line is neither a comment nor an options line, and
// "net-console" is net_console, another module.
func TestModuleOptions(t *testing.T) {
	root := t.TempDir()
	testutil.WriteTree(t, root, map[string]string{
		"etc/modprobe.d/netconsole.conf": "# netconsole\n" +
			"options netconsole netconsole=@/eth0,6666@192.0.2.1/\n" +
			"  # indented: not a comment for kmod, not an options line either\n" +
			"options netconsole \\\n  oops_only=1 \"netconsole=@/eth1,514@192.0.2.2/\"\n" +
			"options zfs zfs_arc_max=1073741824\n" +
			"options net-console extra\n" +
			"#options netconsole netconsole=@/eth9,1@192.0.2.9/\n",
		"usr/lib/modprobe.d/a.conf": "options netconsole oops_only=0\n",
	})
	c, err := Load(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"oops_only=0@/usr/lib/modprobe.d/a.conf:1",
		"netconsole=@/eth0,6666@192.0.2.1/@/etc/modprobe.d/netconsole.conf:2",
		"oops_only=1@/etc/modprobe.d/netconsole.conf:5",
		"netconsole=@/eth1,514@192.0.2.2/@/etc/modprobe.d/netconsole.conf:5",
	}
	got := located(c.ModuleOptions("netconsole"))
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("option %d = %q, want %q", i, got[i], want[i])
		}
	}
	if s := located(c.Settings); len(s) != 1 || s[0] != "zfs_arc_max=1073741824@/etc/modprobe.d/netconsole.conf:6" {
		t.Errorf("zfs settings %q", s)
	}
}

func TestKernelArgs(t *testing.T) {
	got := KernelArgs(` quiet  netconsole=@/eth0,6666@192.0.2.1/ "a=b c" x="y z" `)
	want := []string{"quiet", "netconsole=@/eth0,6666@192.0.2.1/", "a=b c", "x=y z"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %q, want %q", i, got[i], want[i])
		}
	}
}

// TestModprobeConfNotRead: zfs options in /etc/modprobe.conf, which kmod
// never reads (module-init-tools did), are reported with their line and
// not applied.
func TestModprobeConfNotRead(t *testing.T) {
	root := t.TempDir()
	testutil.WriteTree(t, root, map[string]string{
		"etc/modprobe.conf":       "alias eth0 e1000\noptions zfs zfs_arc_max=2147483648\n",
		"etc/modprobe.d/zfs.conf": "options zfs zfs_arc_max=1073741824\n",
	})
	c, err := Load(testutil.OpenRoot(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := c.Effective("zfs_arc_max"); !ok || s.Value != "1073741824" {
		t.Errorf("effective %+v", s)
	}
	found := false
	for _, w := range c.Warnings {
		if w.Path == ModprobeConf && w.Line == 2 && strings.Contains(w.Msg, "not read by modprobe: kmod reads only the modprobe.d directories") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning about /etc/modprobe.conf: %v", c.Warnings)
	}
}
