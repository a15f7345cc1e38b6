package declared

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// TestLibvirtReal has a real libvirtd (Debian's libvirt-daemon-system) define
// three domains in a private namespace and start one of them (TCG: no KVM
// needed), then reads the files it wrote. libvirt rewrites every size in
// KiB, rounded up, makes the autostart link itself, and writes the running
// domain's status file; the expected bytes are worked out from what was
// defined.
func TestLibvirtReal(t *testing.T) {
	in := t.TempDir()
	for name, xml := range map[string]string{
		// 2 GiB on 2 MiB huge pages, ballooned to 1 GiB.
		"hp.xml": `<domain type='qemu'><name>hp</name><memory unit='GiB'>2</memory>
<currentMemory unit='MiB'>1024</currentMemory>
<memoryBacking><hugepages><page size='2' unit='M'/></hugepages></memoryBacking>
<os><type arch='x86_64'>hvm</type></os></domain>`,
		// 1500 MB = 1.5e9 bytes, capped by a 1 GiB hard limit.
		"mt.xml": `<domain type='qemu'><name>mt</name><memory unit='MB'>1500</memory>
<memtune><hard_limit unit='MiB'>1024</hard_limit></memtune>
<os><type arch='x86_64'>hvm</type></os></domain>`,
		// 512 MiB + 1 byte, autostarted and started.
		"auto.xml": `<domain type='qemu'><name>auto</name><memory unit='b'>536870913</memory>
<os><type arch='x86_64'>hvm</type></os><devices><memballoon model='none'/></devices></domain>`,
	} {
		if err := os.WriteFile(filepath.Join(in, name), []byte(xml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := testutil.InLibvirtNamespace(t, `
start_libvirtd
for d in hp mt auto; do virsh define "`+in+`/$d.xml"; done
virsh autostart auto
virsh autostart hp
virsh start auto
virsh list --all
`)
	// libvirt wrote the autostart links itself, as symlinks.
	for _, d := range []string{"auto", "hp"} {
		fi, err := os.Lstat(filepath.Join(root, "etc/libvirt/qemu/autostart", d+".xml"))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("autostart/%s.xml: %v, %v; want the symlink libvirt makes", d, fi, err)
		}
	}
	gs, err := Read(open(t, root))
	if err != nil {
		t.Fatal(err)
	}
	want := []Guest{
		// Running, from its status file: libvirt aligns a running x86
		// guest's memory to whole MiB (qemuDomainAlignMemorySizes and
		// qemuDomainGetMemorySizeAlignment, src/qemu/qemu_domain.c:8886-8897
		// in libvirt 10.7.0, the same in Debian's 9.0), so
		// 536870913 bytes = 524288.0009 KiB, 524289 KiB in the definition,
		// is 525312 KiB (513 MiB) live. Autostarted, per the persistent
		// definition's link.
		{Source: Libvirt, ID: "auto", Name: "auto", Path: "/run/libvirt/qemu/auto.xml",
			DeclaredBytes: 513 * mib, OnBoot: true, Running: true,
			Cgroup: `machine.slice/machine-qemu\x2d1\x2dauto.scope`},
		{Source: Libvirt, ID: "hp", Name: "hp", Path: "/etc/libvirt/qemu/hp.xml",
			DeclaredBytes: 2 * gib, BalloonMinBytes: gib, OnBoot: true,
			Hugepages: []HugePageUse{{PageSize: 2 * mib, Bytes: 2 * gib}}},
		// 1.5e9 bytes = 1464843.75 KiB, rounded up to 1464844 KiB.
		{Source: Libvirt, ID: "mt", Name: "mt", Path: "/etc/libvirt/qemu/mt.xml",
			DeclaredBytes: 1464844 * kib, HardLimitBytes: gib},
	}
	if d := cmp.Diff(want, gs, cmpopts.IgnoreFields(Guest{}, "UUID")); d != "" {
		t.Fatalf("-want +got:\n%s", d)
	}
	for _, g := range gs {
		if len(g.UUID) != 36 {
			t.Errorf("%s: UUID %q, want the one libvirt generated", g.ID, g.UUID)
		}
	}
	// A host with 1024 free 2 MiB pages (2 GiB): hp's pages are there.
	host := Host{MemTotal: 8 * gib, HugePages: HugePages{Default: 2 * mib,
		Pools: []HugePool{{PageSize: 2 * mib, Total: 1024, Free: 1024}}}}
	got := Count(gs, Boot, host)
	checkCount(t, got, []counted{
		{"auto", true, 513*mib + 64*mib + 1026*kib, "running; QEMU's own"}, // + 64 MiB + 513 MiB/512
		{"hp", true, 68 * mib, "1024 free pages of the pool cover it"},     // QEMU's own 64 MiB + 2 GiB/512
		{"mt", false, 0, "does not start at boot"},
	})
	// With all guests, mt counts its hard limit.
	checkCount(t, Count(gs, All, host)[2:], []counted{{"mt", true, gib, "capped by memtune hard_limit 1 GiB"}})
}
