package declared

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

const (
	mib = uint64(1) << 20
	gib = uint64(1) << 30
)

// parseFixture parses a file of ../shared/fixtures/declared with parse;
// the guest's Path is the fixture's path.
func parseFixture(t *testing.T, rel string, parse func(r *os.File, name string) (Guest, error)) (Guest, string) {
	t.Helper()
	p := testutil.Fixture(t, "declared/"+rel)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := parse(f, p)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return g, p
}

func qemu(r *os.File, name string) (Guest, error)    { return ParsePVEQemu(r, name) }
func lxc(r *os.File, name string) (Guest, error)     { return ParsePVELXC(r, name) }
func libvirt(r *os.File, name string) (Guest, error) { return ParseLibvirt(r, name) }

// TestParsePVEQemuFixtures reads the real VM configs (qemu-server's own
// tests and hosts' /etc/pve) and checks each against the file's lines,
// sizes worked out by hand: memory is MiB, 512 when absent.
func TestParsePVEQemuFixtures(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Guest // Source, Path, ID and Cgroup are filled in below
	}{
		// memory: 8192 (line 14), balloon: 0 (no balloon), hostpci0-3.
		{"Andrei-Paul-proxmox__etc__pve__qemu-server__100.conf",
			Guest{Name: "windows", DeclaredBytes: 8192 * mib, Pinned: true}},
		// memory: 2048, onboot: 1.
		{"Andrei-Paul-proxmox__etc__pve__qemu-server__20001.conf",
			Guest{Name: "pfsense", DeclaredBytes: 2 * gib, OnBoot: true}},
		// memory: 16384 = 16 GiB, onboot: 1.
		{"alexjbarnes-HomeLab__qemu-server__100.conf",
			Guest{Name: "Dev-VM", DeclaredBytes: 16 * gib, OnBoot: true}},
		// template: 1, memory: 512.
		{"alexjbarnes-HomeLab__qemu-server__1000.conf",
			Guest{Name: "AlpineVmTemplate", DeclaredBytes: 512 * mib, Template: true}},
		// memory: 12288 = 12 GiB on 2 MiB pages (hugepages: 2), GPU passthrough.
		{"halimbo-proxmox__etc__pve__qemu-server__100.conf",
			Guest{Name: "3050", DeclaredBytes: 12 * gib, OnBoot: true, Pinned: true,
				Hugepages: []HugePageUse{{PageSize: 2 * mib, Bytes: 12 * gib}}}},
		// hugepages: 1024 (1 GiB pages), memory: 8192.
		{"qemu-server__src__test__cfg2cmd__memory-hugepages-1g.conf",
			Guest{Name: "simple", DeclaredBytes: 8 * gib,
				Hugepages: []HugePageUse{{PageSize: gib, Bytes: 8 * gib}}}},
		// No memory, no name: 512 MiB and "VM " (no VMID in this file name).
		{"qemu-server__src__test__cfg2cmd__minimal-defaults.conf",
			Guest{Name: "VM ", DeclaredBytes: 512 * mib}},
		// memory: 66560 with hotplug: memory = 65 GiB.
		{"qemu-server__src__test__cfg2cmd__memory-hotplug.conf",
			Guest{Name: "simple", DeclaredBytes: 65 * gib}},
		// hostpci0-2 through resource mappings: still passthrough.
		{"qemu-server__src__test__cfg2cmd__q35-linux-hostpci-mapping.conf",
			Guest{Name: "VM ", DeclaredBytes: 512 * mib, Pinned: true}},
		// [PENDING], [special:cloudinit] (name: deb122) and a snapshot
		// [foo] follow the main section: name stays deb1223.
		{"qemu-server__src__test__parse-config-input__sections.conf",
			Guest{Name: "deb1223", DeclaredBytes: 4 * gib}},
		// The main section says memory: 4096; both snapshots say 8192.
		{"qemu-server__src__test__snapshot-input__rollback__qemu-server__102.conf",
			Guest{Name: "win", DeclaredBytes: 4 * gib}},
		// Seven snapshot sections, each with memory: 4096.
		{"qemu-server__src__test__parse-config-input__snapshots.conf",
			Guest{Name: "win-machine-ver", DeclaredBytes: 4 * gib}},
		// balloon: 8192 of memory: 32768: the minimum is shown.
		{"technomagniaque-pve__qemu-server__102.conf",
			Guest{Name: "CactiEZ-1-2-27-Rocky-9-4-t1", DeclaredBytes: 32 * gib, BalloonMinBytes: 8 * gib}},
		// balloon: 16384 of memory: 32768.
		{"technomagniaque-pve__qemu-server__104.conf",
			Guest{Name: "ffjd-win11ltsc-p1", DeclaredBytes: 32 * gib, BalloonMinBytes: 16 * gib}},
		// vga: qxl,memory=32 is video memory, not the guest's: 32768.
		{"technomagniaque-pve__666.conf",
			Guest{Name: "osxgpu", DeclaredBytes: 32 * gib, Pinned: true}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, p := parseFixture(t, "pve-qemu/"+tc.file, qemu)
			want := tc.want
			want.Source, want.Path = PVEQemu, p
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("-want +got:\n%s", d)
			}
		})
	}
}

// TestParsePVELXCFixtures reads the real container configs.
func TestParsePVELXCFixtures(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Guest
	}{
		// memory: 2000 MiB (not a power of two), onboot: 1, swap: 0.
		{"alexjbarnes-HomeLab__lxc__500.conf",
			Guest{Name: "PBS", DeclaredBytes: 2000 * mib, OnBoot: true}},
		// A template.
		{"charlzyx-pve.conf__lxc__100.conf",
			Guest{Name: "tpl", DeclaredBytes: 768 * mib, Template: true}},
		// Raw lxc.* keys, lxc.cgroup2.devices.allow and lxc.idmap repeated.
		{"charlzyx-pve.conf__lxc__204.conf",
			Guest{Name: "tv", DeclaredBytes: 2 * gib}},
		// Main section memory: 2048; the snapshot [test] says 4096 and
		// hostname test2.
		{"pve-container__src__test__snapshot-input__rollback__lxc__209.conf",
			Guest{Name: "test", DeclaredBytes: 2 * gib}},
		// No memory: 512 MiB ("$conf->{memory} || 512").
		{"pve-container__src__test__test-debian-001__config",
			Guest{Name: "test1", DeclaredBytes: 512 * mib}},
		// swap: 512 is not RAM.
		{"pve-container__src__test__test-devuan-002__config",
			Guest{Name: "CT102", DeclaredBytes: 512 * mib}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, p := parseFixture(t, "pve-lxc/"+tc.file, lxc)
			want := tc.want
			want.Source, want.Path = PVELXC, p
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("-want +got:\n%s", d)
			}
		})
	}
}

// TestParsePVEKeys covers the rules of a key line on small configs.
func TestParsePVEKeys(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		want       Guest
	}{
		{"current=", "memory: current=3072\n", Guest{DeclaredBytes: 3 * gib}},
		{"no space, trailing blanks, CRLF", "memory:1024  \r\nonboot:yes\r\n", Guest{DeclaredBytes: gib, OnBoot: true}},
		{"boolean words", "onboot: On\ntemplate: FALSE\nkeephugepages: true\n", Guest{DeclaredBytes: 512 * mib, OnBoot: true, KeepHugepages: true}},
		{"hugepages any", "memory: 4096\nhugepages: any\n",
			Guest{DeclaredBytes: 4 * gib, Hugepages: []HugePageUse{{Any: true, Bytes: 4 * gib}}}},
		{"description repeats", "description: a\ndescription: b\n#c\nmemory: 2048\n", Guest{DeclaredBytes: 2 * gib}},
		{"[PENDING] may change memory", "memory: 1024\n[PENDING]\nmemory: 9999999\nmemory: x\n", Guest{DeclaredBytes: gib}},
		{"unknown section", "memory: 1024\n[what ever]\nmemory: 8192\n", Guest{DeclaredBytes: gib}},
		{"balloon 0 is no balloon", "memory: 1024\nballoon: 0\n", Guest{DeclaredBytes: gib}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := ParsePVEQemu(strings.NewReader(tc.conf), "/etc/pve/qemu-server/100.conf")
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Source, want.ID, want.Path, want.Cgroup = PVEQemu, "100", "/etc/pve/qemu-server/100.conf", "qemu.slice/100.scope"
			want.Name = "VM 100"
			if d := cmp.Diff(want, g); d != "" {
				t.Errorf("-want +got:\n%s", d)
			}
		})
	}
}
