package modprobe

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// benchRoot is a host with a dozen modprobe.d files in three directories
// and a command line, like a Proxmox or Ubuntu server.
func benchRoot(b *testing.B) string {
	var entries []entry
	for i := 0; i < 4; i++ {
		entries = append(entries,
			file(fmt.Sprintf("/etc/modprobe.d/%02d-local.conf", i), "# local tuning\nblacklist nouveau\noptions snd_hda_intel power_save=1\n"),
			file(fmt.Sprintf("/usr/lib/modprobe.d/%02d-vendor.conf", i), "alias char-major-10-175 agpgart\ninstall pcspkr /bin/true\n"),
			file(fmt.Sprintf("/lib/modprobe.d/%02d-lib.conf", i), "softdep zfs pre: spl\n"),
		)
	}
	entries = append(entries,
		file("/etc/modprobe.d/zfs.conf", "# ZFS ARC\noptions zfs zfs_arc_max=8589934592\noptions zfs zfs_arc_min=1073741824 l2arc_noprefetch=0 \\\n  zfs_txg_timeout=10\n"),
		file("/etc/modprobe.d/zfs.conf.dpkg-old", "options zfs zfs_arc_max=4294967296\n"),
		file("/proc/cmdline", "BOOT_IMAGE=/ROOT/pve-1@/boot/vmlinuz-6.8.12-4-pve root=ZFS=rpool/ROOT/pve-1 boot=zfs quiet\n"),
	)
	return mkroot(b, entries...)
}

func BenchmarkLoad(b *testing.B) {
	root := benchRoot(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(testutil.OpenRoot(b, root)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlan(b *testing.B) {
	root := benchRoot(b)
	c, err := Load(testutil.OpenRoot(b, root))
	if err != nil {
		b.Fatal(err)
	}
	changes := []Change{maxc(4 * gib), minc(gib)}
	b.ReportAllocs()
	for b.Loop() {
		e, err := c.Plan(changes)
		if err != nil || !e.Changed() {
			b.Fatal(err)
		}
		_ = e.Diff()
	}
}

func BenchmarkParseFile(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("# My tweaks for ZFS Performance\n")
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&buf, "options zfs zfs_vdev_param_%d=1\n", i)
	}
	buf.WriteString("options zfs zfs_arc_max=8589934592  # 8GB\n")
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if s, _, err := ParseFile("/etc/modprobe.d/zfs.conf", bytes.NewReader(data)); err != nil || len(s) != 15 {
			b.Fatal(err, len(s))
		}
	}
}
