package declared

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const kib = uint64(1) << 10

// TestParseLibvirtFixtures reads libvirt's own test domains and status
// files; every size is the file's number times its unit, worked out here.
func TestParseLibvirtFixtures(t *testing.T) {
	const uuid1 = "c7a5fdbd-edaf-9455-926a-d65c16db1809"
	for _, tc := range []struct {
		file string
		want Guest // Source, Path and ID (= Name) are filled in below
	}{
		// <memory unit='MiB'>214</memory>; currentMemory 219136 KiB is
		// 214 MiB too (no balloon below it); hard_limit 512000 KiB.
		{"libvirt__tests__qemuxmlconfdata__memtune.xml",
			Guest{Name: "QEMUGuest1", UUID: uuid1, DeclaredBytes: 214 * mib, HardLimitBytes: 512000 * kib}},
		// <hugepages/> without <page>: the host's default size (0).
		{"libvirt__tests__qemuxmlconfdata__hugepages-default.xml",
			Guest{Name: "QEMUGuest1", UUID: uuid1, DeclaredBytes: 219136 * kib,
				Hugepages: []HugePageUse{{PageSize: 0, Bytes: 219136 * kib}}}},
		// Four cells of 1048576 KiB; cell 1 on 2048 KiB pages, cells 0, 2
		// and 3 on 1048576 KiB (1 GiB) pages.
		{"libvirt__tests__qemuxmlconfdata__hugepages-numa-nodeset.xml",
			Guest{Name: "QEMUGuest1", UUID: uuid1, DeclaredBytes: 4194304 * kib,
				Hugepages: []HugePageUse{{PageSize: gib, Bytes: 3 * gib}, {PageSize: 2 * mib, Bytes: gib}}}},
		// Four PCI <hostdev>: VFIO pins the memory.
		{"libvirt__tests__qemuxmlconfdata__hostdev-vfio.xml",
			Guest{Name: "QEMUGuest2", UUID: "c7a5fdbd-edaf-9466-926a-d65c16db1809", DeclaredBytes: 219100 * kib, Pinned: true}},
		// <memoryBacking><locked/>.
		{"libvirt__tests__qemuxmlconfdata__mlock-on.xml",
			Guest{Name: "QEMUGuest1", UUID: uuid1, DeclaredBytes: 219136 * kib, Pinned: true}},
		// currentMemory 65536 KiB below memory 131072 KiB: shown.
		{"libvirt__tests__qemuxmlconfdata__cputune-numatune.xml",
			Guest{Name: "dummy2", UUID: "4d92ec27-9ebf-400b-ae91-20c71c647c19", DeclaredBytes: 131072 * kib,
				BalloonMinBytes: 65536 * kib}},
		// dumpCore='off' before unit='KiB'.
		{"libvirt__tests__qemuxmlconfdata__machine-core-off.xml",
			Guest{Name: "QEMUGuest1", UUID: uuid1, DeclaredBytes: 219100 * kib}},
		// memory 14680064 KiB, of which an nvdimm of 523264 KiB (a host
		// file); maxMemory 1099511627776 KiB = 1 PiB; 2048 KiB pages for
		// the rest, 14680064 - 523264 = 14156800 KiB.
		{"libvirt__tests__qemuxmlconfdata__memfd-memory-numa.xml",
			Guest{Name: "instance-00000092", UUID: "126f2720-6f8e-45ab-a886-ec9277079a67",
				DeclaredBytes: 14680064 * kib, PmemBytes: 523264 * kib, MaxMemoryBytes: 1 << 50,
				Hugepages: []HugePageUse{{PageSize: 2 * mib, Bytes: 14156800 * kib}}}},
		// Two virtio-mem devices (1 GiB, 2 GiB) inside memory 8388608 KiB.
		{"libvirt__tests__qemuxmlconfdata__memory-hotplug-virtio-mem.xml",
			Guest{Name: "QEMUGuest1", UUID: uuid1, DeclaredBytes: 8 * gib, MaxMemoryBytes: 1 << 50}},
		// Three uneven NUMA cells; <memory> 24682468 KiB says the total.
		{"libvirt__tests__qemuxmlconfdata__numatune-memnode.xml",
			Guest{Name: "QEMUGuest", UUID: "9f4b6512-e73a-4a25-93e8-5307802821ce", DeclaredBytes: 24682468 * kib}},
		// currentMemory 512288 KiB of 2097152 KiB.
		{"libvirt__tests__qemuxmlconfdata__tpm-emulator.xml",
			Guest{Name: "TPM-VM", UUID: "11d7cd22-da89-3094-6212-079a48a309a1", DeclaredBytes: 2 * gib,
				BalloonMinBytes: 512288 * kib}},
		// A running domain (domstatus pid='3803518', <domain id='1'>), in
		// machine.slice as qemu-1-QEMUGuest1.
		{"libvirt__tests__qemustatusxml2xmldata__blockjob-mirror-in.xml",
			Guest{Name: "QEMUGuest1", UUID: uuid1, DeclaredBytes: 219136 * kib, Running: true,
				Cgroup: `machine.slice/machine-qemu\x2d1\x2dQEMUGuest1.scope`}},
		// id='1729'; memballoon none.
		{"libvirt__tests__qemustatusxml2xmldata__vcpus-multi-in.xml",
			Guest{Name: "QEMUGuest1", UUID: uuid1, DeclaredBytes: 219100 * kib, Running: true,
				Cgroup: `machine.slice/machine-qemu\x2d1729\x2dQEMUGuest1.scope`}},
		// 260 lines of private data before <domain>; an iSCSI <hostdev
		// type='scsi'> (line 486), which would not pin memory, and a PCI
		// one (line 504), which does; <partition>/machine</partition>.
		{"libvirt__tests__qemustatusxml2xmldata__modern-in.xml",
			Guest{Name: "upstream", UUID: "dcf47dbd-46d1-4d5b-b442-262a806a333a", DeclaredBytes: 1024000 * kib,
				Pinned: true, Running: true, Cgroup: `machine.slice/machine-qemu\x2d1\x2dupstream.scope`}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, p := parseFixture(t, "libvirt/"+tc.file, libvirt)
			want := tc.want
			want.Source, want.Path, want.ID = Libvirt, p, want.Name
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("-want +got:\n%s", d)
			}
		})
	}
}

// TestLibvirtUnits checks every unit libvirt documents (formatdomain.rst
// 1038-1060), in the letter cases virScaleInteger accepts, with the
// rounding up to a whole KiB.
func TestLibvirtUnits(t *testing.T) {
	for _, tc := range []struct {
		unit, value string
		want        uint64
	}{
		{"", "1048576", gib}, // default KiB
		{"b", "1073741824", gib},
		{"bytes", "1025", 2 * kib}, // rounded up to a whole KiB
		{"byte", "1024", kib},
		{"KB", "1000", 977 * kib}, // 1000000 B = 976.5625 KiB, rounded up
		{"k", "4", 4 * kib},
		{"KiB", "4", 4 * kib},
		{"kib", "4", 4 * kib},
		{"MB", "1500", 1464844 * kib}, // 1.5e9 B / 1024 = 1464843.75 → 1464844 KiB
		{"M", "3", 3 * mib},
		{"MiB", "3", 3 * mib},
		{"GB", "2", 1953125 * kib}, // 2e9 / 1024 = 1953125 exactly
		{"G", "2", 2 * gib},
		{"GiB", "2", 2 * gib},
		{"gib", "2", 2 * gib},
		{"TB", "1", 976562500 * kib}, // 1e12 / 1024 = 976562500
		{"T", "1", 1 << 40},
		{"TiB", "1", 1 << 40},
		{"PiB", "1", 1 << 50},
	} {
		doc := "<domain><name>u</name><memory unit='" + tc.unit + "'>" + tc.value + "</memory></domain>"
		if tc.unit == "" {
			doc = "<domain><name>u</name><memory>" + tc.value + "</memory></domain>"
		}
		g, err := ParseLibvirt(strings.NewReader(doc), "u.xml")
		if err != nil {
			t.Errorf("unit %q: %v", tc.unit, err)
			continue
		}
		if g.DeclaredBytes != tc.want {
			t.Errorf("%s %q: %d bytes, want %d", tc.value, tc.unit, g.DeclaredBytes, tc.want)
		}
	}
}

// TestLibvirtNUMA checks the memory of a domain without <memory>: its
// cells plus its memory devices, and the huge pages per cell.
func TestLibvirtNUMA(t *testing.T) {
	doc := `<domain type='kvm'>
  <name>numa</name>
  <memoryBacking><hugepages><page size='1' unit='G' nodeset='0'/><page size='2' unit='M'/></hugepages></memoryBacking>
  <cpu><numa>
    <cell id='0' cpus='0' memory='2' unit='GiB'/>
    <cell id='1' cpus='1' memory='1048576'/>
  </numa></cpu>
  <devices><memory model='dimm'><target><size unit='MiB'>512</size><node>0</node></target></memory></devices>
</domain>`
	g, err := ParseLibvirt(strings.NewReader(doc), "numa.xml")
	if err != nil {
		t.Fatal(err)
	}
	// 2 GiB + 1048576 KiB (1 GiB) + 512 MiB of the dimm.
	want := Guest{Source: Libvirt, ID: "numa", Name: "numa", Path: "numa.xml", DeclaredBytes: 3*gib + 512*mib,
		Hugepages: []HugePageUse{{PageSize: gib, Bytes: 2 * gib}, {PageSize: 2 * mib, Bytes: gib + 512*mib}}}
	if d := cmp.Diff(want, g); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
}

// TestMachineScope checks the machine name libvirt gives a running domain's
// scope: the name's invalid characters dropped, "-" escaped, at most 64
// bytes of machine name.
func TestMachineScope(t *testing.T) {
	for _, tc := range []struct{ partition, id, name, want string }{
		{"", "1", "vm", `machine.slice/machine-qemu\x2d1\x2dvm.scope`},
		{"/machine", "12", "web.example-1", `machine.slice/machine-qemu\x2d12\x2dweb.example\x2d1.scope`},
		{"", "3", "--a__b..c--", `machine.slice/machine-qemu\x2d3\x2dab.c.scope`},
		{"/machine/tenant", "4", "x", `machine.slice/machine-tenant.slice/machine-qemu\x2d4\x2dx.scope`},
		{"", "5", strings.Repeat("a", 70), `machine.slice/machine-qemu\x2d5\x2d` + strings.Repeat("a", 57) + ".scope"},
		{"", "", "vm", ""},
	} {
		if got := machineScope(tc.partition, tc.id, tc.name); got != tc.want {
			t.Errorf("machineScope(%q, %q, %q) = %q, want %q", tc.partition, tc.id, tc.name, got, tc.want)
		}
	}
}
