package declared

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// fixture returns the content of a file of ../shared/fixtures/declared.
func fixture(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(testutil.Fixture(t, "declared/"+rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, root string) *rootfs.FS {
	t.Helper()
	fsys, err := rootfs.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	return fsys
}

// kvmCmdline is /proc/<pid>/cmdline of a PVE VM's QEMU, shortened.
func kvmCmdline(vmid string) string {
	return strings.Join([]string{"/usr/bin/kvm", "-id", vmid, "-name", "vm" + vmid + ",debug-threads=on",
		"-no-shutdown", "-chardev", "socket,id=qmp,path=/var/run/qemu-server/" + vmid + ".qmp,server=on,wait=off",
		"-pidfile", "/var/run/qemu-server/" + vmid + ".pid", "-daemonize", "-m", "8192", ""}, "\x00")
}

// pveLibvirtHost lays out a host under a temporary root the way Proxmox VE,
// libvirt and systemd do, with real configs from ../shared.
func pveLibvirtHost(t *testing.T) string {
	root := t.TempDir()
	testutil.WriteTree(t, root, map[string]string{
		// The local node, pve1: /etc/pve/qemu-server and /etc/pve/lxc
		// link there.
		"etc/pve/nodes/pve1/qemu-server/100.conf":              fixture(t, "pve-qemu/alexjbarnes-HomeLab__qemu-server__100.conf"),
		"etc/pve/nodes/pve1/qemu-server/101.conf":              fixture(t, "pve-qemu/technomagniaque-pve__qemu-server__102.conf"),
		"etc/pve/nodes/pve1/qemu-server/102.conf":              fixture(t, "pve-qemu/halimbo-proxmox__etc__pve__qemu-server__100.conf"),
		"etc/pve/nodes/pve1/qemu-server/103.conf":              fixture(t, "pve-qemu/technomagniaque-pve__qemu-server__104.conf"),
		"etc/pve/nodes/pve1/qemu-server/1000.conf":             fixture(t, "pve-qemu/alexjbarnes-HomeLab__qemu-server__1000.conf"),
		"etc/pve/nodes/pve1/qemu-server/notes.txt":             "not a config\n",
		"etc/pve/nodes/pve1/lxc/500.conf":                      fixture(t, "pve-lxc/alexjbarnes-HomeLab__lxc__500.conf"),
		"etc/pve/nodes/pve1/lxc/204.conf":                      fixture(t, "pve-lxc/charlzyx-pve.conf__lxc__204.conf"),
		"etc/pve/nodes/pve2/qemu-server/200.conf":              fixture(t, "pve-qemu/technomagniaque-pve__999.conf"),
		"run/qemu-server/100.pid":                              "4242\n",
		"proc/4242/cmdline":                                    kvmCmdline("100"),
		"proc/4242/stat":                                       "4242 (kvm) S 1 4241 4241 0 -1 4194624 1 0 0 0 5 3 0 0 20 0 9 0 4000 1 1 0 0\n",
		"run/qemu-server/101.pid":                              "4343\n", // a stale pid file: 4343 is now sshd
		"proc/4343/cmdline":                                    "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups\x00",
		"proc/4343/stat":                                       "4343 (sshd) S 1 4343 4343 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 5000 1 1\n",
		"run/qemu-server/103.pid":                              "4444\n", // a zombie QEMU
		"proc/4444/cmdline":                                    kvmCmdline("103"),
		"proc/4444/stat":                                       "4444 (kvm) Z 1 4444 4444 0 -1 4194564 1 0 0 0 0 0 0 0 20 0 1 0 6000 0 0\n",
		"sys/fs/cgroup/cgroup.controllers":                     "cpuset cpu io memory hugetlb pids rdma misc\n",
		"sys/fs/cgroup/lxc/cgroup.events":                      "populated 1\nfrozen 0\n",
		"sys/fs/cgroup/lxc/memory.min":                         "0\n",
		"sys/fs/cgroup/lxc/500/cgroup.events":                  "populated 1\nfrozen 0\n",
		"sys/fs/cgroup/lxc/500/memory.min":                     "0\n",
		"sys/fs/cgroup/lxc/500/ns/cgroup.events":               "populated 1\nfrozen 0\n",
		"sys/fs/cgroup/lxc/500/ns/memory.min":                  "268435456\n",
		"sys/fs/cgroup/qemu.slice/cgroup.events":               "populated 1\nfrozen 0\n",
		"sys/fs/cgroup/qemu.slice/memory.min":                  "34359738368\n", // 32 GiB
		"sys/fs/cgroup/qemu.slice/100.scope/cgroup.events":     "populated 1\nfrozen 0\n",
		"sys/fs/cgroup/qemu.slice/100.scope/memory.min":        "0\n",
		"sys/fs/cgroup/system.slice/cgroup.events":             "populated 1\nfrozen 0\n",
		"sys/fs/cgroup/system.slice/memory.min":                "0\n",
		"sys/fs/cgroup/system.slice/db.service/cgroup.events":  "populated 1\nfrozen 0\n",
		"sys/fs/cgroup/system.slice/db.service/memory.min":     "max\n",
		"sys/fs/cgroup/system.slice/old.service/cgroup.events": "populated 0\nfrozen 0\n",
		"sys/fs/cgroup/system.slice/old.service/memory.min":    "1073741824\n",
		// libvirt: a persistent domain with an autostart link, also
		// running (the same UUID in its status file), and a persistent one
		// that does not autostart.
		"etc/libvirt/qemu/QEMUGuest1.xml": fixture(t, "libvirt/libvirt__tests__qemuxmlconfdata__memtune.xml"),
		"etc/libvirt/qemu/dummy2.xml":     fixture(t, "libvirt/libvirt__tests__qemuxmlconfdata__cputune-numatune.xml"),
		"run/libvirt/qemu/QEMUGuest1.xml": fixture(t, "libvirt/libvirt__tests__qemustatusxml2xmldata__blockjob-mirror-in.xml"),
		"run/libvirt/qemu/QEMUGuest1.pid": "3803518",
		"run/libvirt/qemu/driver.pid":     "100",
	})
	symlink(t, "nodes/pve1/qemu-server", filepath.Join(root, "etc/pve/qemu-server"))
	symlink(t, "nodes/pve1/lxc", filepath.Join(root, "etc/pve/lxc"))
	symlink(t, "/run", filepath.Join(root, "var/run")) // absolute: from the root
	symlink(t, "/etc/libvirt/qemu/QEMUGuest1.xml", filepath.Join(root, "etc/libvirt/qemu/autostart/QEMUGuest1.xml"))
	// An autostart link to a file that is not dummy2's config: libvirt
	// does not autostart dummy2.
	testutil.WriteTree(t, root, map[string]string{"etc/libvirt/other.xml": "<domain/>"})
	symlink(t, "../../other.xml", filepath.Join(root, "etc/libvirt/qemu/autostart/dummy2.xml"))
	return root
}

// TestRead reads a Proxmox VE + libvirt + systemd host and counts it.
func TestRead(t *testing.T) {
	root := pveLibvirtHost(t)
	gs, err := Read(open(t, root))
	if err != nil {
		t.Fatal(err)
	}
	want := []Guest{
		// memory: 16384, onboot: 1; running: pid 4242 is a kvm with
		// -pidfile /var/run/qemu-server/100.pid, state S.
		{Source: PVEQemu, ID: "100", Name: "Dev-VM", Path: "/etc/pve/qemu-server/100.conf",
			DeclaredBytes: 16 * gib, OnBoot: true, Running: true, Cgroup: "qemu.slice/100.scope"},
		// memory: 32768, balloon: 8192; the pid file's pid is sshd now.
		{Source: PVEQemu, ID: "101", Name: "CactiEZ-1-2-27-Rocky-9-4-t1", Path: "/etc/pve/qemu-server/101.conf",
			DeclaredBytes: 32 * gib, BalloonMinBytes: 8 * gib, Cgroup: "qemu.slice/101.scope"},
		// memory: 12288 on 2 MiB pages, onboot, GPU; no pid file.
		{Source: PVEQemu, ID: "102", Name: "3050", Path: "/etc/pve/qemu-server/102.conf",
			DeclaredBytes: 12 * gib, Hugepages: []HugePageUse{{PageSize: 2 * mib, Bytes: 12 * gib}},
			Pinned: true, OnBoot: true, Cgroup: "qemu.slice/102.scope"},
		// memory: 32768, balloon 16384; its QEMU is a zombie.
		{Source: PVEQemu, ID: "103", Name: "ffjd-win11ltsc-p1", Path: "/etc/pve/qemu-server/103.conf",
			DeclaredBytes: 32 * gib, BalloonMinBytes: 16 * gib, Cgroup: "qemu.slice/103.scope"},
		{Source: PVEQemu, ID: "1000", Name: "AlpineVmTemplate", Path: "/etc/pve/qemu-server/1000.conf",
			DeclaredBytes: 512 * mib, Template: true, Cgroup: "qemu.slice/1000.scope"},
		// memory: 2048; no cgroup: stopped.
		{Source: PVELXC, ID: "204", Name: "tv", Path: "/etc/pve/lxc/204.conf", DeclaredBytes: 2 * gib, Cgroup: "lxc/204"},
		// memory: 2000, onboot; lxc/500 is populated.
		{Source: PVELXC, ID: "500", Name: "PBS", Path: "/etc/pve/lxc/500.conf", DeclaredBytes: 2000 * mib,
			OnBoot: true, Running: true, Cgroup: "lxc/500"},
		// Running (status file: 219136 KiB, the live definition) and
		// autostarted (the persistent one's link).
		{Source: Libvirt, ID: "QEMUGuest1", Name: "QEMUGuest1", Path: "/run/libvirt/qemu/QEMUGuest1.xml",
			UUID: "c7a5fdbd-edaf-9455-926a-d65c16db1809", DeclaredBytes: 219136 * kib, Running: true, OnBoot: true,
			Cgroup: `machine.slice/machine-qemu\x2d1\x2dQEMUGuest1.scope`},
		// 131072 KiB, currentMemory 65536 KiB; its autostart link points
		// elsewhere.
		{Source: Libvirt, ID: "dummy2", Name: "dummy2", Path: "/etc/libvirt/qemu/dummy2.xml",
			UUID: "4d92ec27-9ebf-400b-ae91-20c71c647c19", DeclaredBytes: 131072 * kib, BalloonMinBytes: 65536 * kib},
		{Source: Cgroup, ID: "lxc/500/ns", Name: "ns", Path: "/sys/fs/cgroup/lxc/500/ns/memory.min",
			DeclaredBytes: 256 * mib, Running: true, Cgroup: "lxc/500/ns", AncestorMin: "lxc"}, // lxc and lxc/500: 0
		{Source: Cgroup, ID: "qemu.slice", Name: "qemu.slice", Path: "/sys/fs/cgroup/qemu.slice/memory.min",
			DeclaredBytes: 32 * gib, Running: true, Cgroup: "qemu.slice"},
		{Source: Cgroup, ID: "system.slice/db.service", Name: "db.service",
			Path: "/sys/fs/cgroup/system.slice/db.service/memory.min", Unlimited: true, Running: true,
			Cgroup: "system.slice/db.service", AncestorMin: "system.slice"}, // max under 0
	}
	if d := cmp.Diff(want, gs, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("-want +got:\n%s", d)
	}

	host := Host{MemTotal: 256 * gib, HugePages: HugePages{Default: 2 * mib,
		Pools: []HugePool{{PageSize: 2 * mib, Total: 8192, Free: 8192}}}} // 16 GiB free
	checkCount(t, Count(gs, Boot, host), []counted{
		{"100", true, 16*gib + 96*mib, "running; QEMU's own 96 MiB"}, // 64 MiB + 16 GiB/512
		{"101", false, 0, "does not start at boot"},
		{"102", true, 88 * mib, "6144 free pages of the pool cover it"}, // 12 GiB / 2 MiB; QEMU's own 64 MiB + 12 GiB/512
		{"103", false, 0, "does not start at boot"},
		{"1000", false, 0, "template"},
		{"204", false, 0, "does not start at boot"},
		{"500", true, 2000 * mib, "running"},
		{"QEMUGuest1", true, 219136*kib + 64*mib + 428*kib, "running"}, // + 64 MiB + 219136 KiB/512
		{"dummy2", false, 0, "does not start at boot"},
		{"lxc/500/ns", false, 0, "inside the cgroup of pve-lxc 500"},
		// 32 GiB less VM 100 (16 GiB + 96 MiB) and VM 102 (88 MiB: its RAM
		// is in huge pages).
		{"qemu.slice", true, 16*gib - 184*mib, "less the 16.17 GiB counted below it (pve-qemu 100, pve-qemu 102)"},
		{"system.slice/db.service", true, 256 * gib, "memory.min max"},
	})
}

// TestCgroupAncestors: the kernel protects a cgroup no further than the
// lowest memory.min among its ancestors below the root (cgroup-v2.rst,
// "Reclaim Protection"; a top-level cgroup's own memory.min is its
// effective one): each entry names that ancestor when it is below the
// entry's own memory.min.
func TestCgroupAncestors(t *testing.T) {
	files := map[string]string{"sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n"}
	cg := func(p, min string) {
		files["sys/fs/cgroup/"+p+"/cgroup.events"] = "populated 1\nfrozen 0\n"
		if min != "" {
			files["sys/fs/cgroup/"+p+"/memory.min"] = min + "\n"
		}
	}
	cg("lane.slice", "0")
	cg("lane.slice/work.service", "2147483648") // systemd-run --slice=lane -p MemoryMin=2G
	cg("db.slice", "1073741824")
	cg("db.slice/pg.service", "268435456") // within its parent's 1 GiB
	cg("a.slice", "1073741824")
	cg("a.slice/b.slice", "67108864")
	cg("a.slice/b.slice/c.service", "268435456") // 64 MiB two levels up bounds it
	cg("a.slice/b.slice/d.service", "max")
	cg("top.service", "536870912") // a top-level cgroup: its own memory.min holds
	cg("nomem.slice", "")          // no memory controller delegated: no file, no bound
	cg("nomem.slice/x.service", "")
	root := t.TempDir()
	testutil.WriteTree(t, root, files)
	for _, d := range []string{"nomem.slice", "nomem.slice/x.service"} { // directories without the memory files
		if err := os.MkdirAll(filepath.Join(root, "sys/fs/cgroup", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	gs, err := ReadCgroups(open(t, root))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, g := range gs {
		got[g.ID] = fmt.Sprintf("%s %d", g.AncestorMin, g.AncestorMinBytes)
	}
	want := map[string]string{
		"lane.slice/work.service":   "lane.slice 0",
		"db.slice":                  " 0",
		"db.slice/pg.service":       " 0",
		"a.slice":                   " 0",
		"a.slice/b.slice":           " 0",
		"a.slice/b.slice/c.service": "a.slice/b.slice 67108864",
		"a.slice/b.slice/d.service": "a.slice/b.slice 67108864",
		"top.service":               " 0",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
	host := Host{MemTotal: 8 * gib}
	for _, g := range Count(gs, Boot, host) {
		note := strings.Contains(g.Why, "the kernel protects at most")
		if note != (g.AncestorMin != "") {
			t.Errorf("%s: why %q; the note must be there exactly when an ancestor bounds it", g.ID, g.Why)
		}
		if g.ID == "lane.slice/work.service" && (!g.Counted || g.CountedBytes != 2*gib ||
			!strings.Contains(g.Why, "its ancestor lane.slice has memory.min 0 B") || !strings.Contains(g.Why, "MemoryMin= on lane.slice too")) {
			t.Errorf("work.service: counted %v %d, why %q: the declaration counts, and the note says why the kernel will not hold it", g.Counted, g.CountedBytes, g.Why)
		}
	}
}

// TestReadNothing: a root with none of the sources declares nothing.
func TestReadNothing(t *testing.T) {
	root := t.TempDir()
	testutil.WriteTree(t, root, map[string]string{"etc/hostname": "box\n"})
	gs, err := Read(open(t, root))
	if err != nil || len(gs) != 0 {
		t.Fatalf("Read = %v, %v; want nothing", gs, err)
	}
	hp, err := ReadHugePages(open(t, root), 0)
	if err != nil || hp.Default != 0 || len(hp.Pools) != 0 {
		t.Fatalf("ReadHugePages = %+v, %v; want nothing", hp, err)
	}
}

// TestReadHugePages reads the pools from sysfs; the default size is
// /proc/meminfo's (meminfo.Read), handed in.
func TestReadHugePages(t *testing.T) {
	root := t.TempDir()
	testutil.WriteTree(t, root, map[string]string{
		"sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages":      "1024\n",
		"sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages":    "512\n",
		"sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages":    "2\n",
		"sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages":   "4\n",
		"sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages": "4\n",
		"sys/kernel/mm/hugepages/hugepages-1048576kB/resv_hugepages": "0\n",
	})
	hp, err := ReadHugePages(open(t, root), 2*mib)
	if err != nil {
		t.Fatal(err)
	}
	want := HugePages{Default: 2 * mib, Pools: []HugePool{
		{PageSize: gib, Total: 4, Free: 4},
		{PageSize: 2 * mib, Total: 1024, Free: 512, Reserved: 2},
	}}
	if d := cmp.Diff(want, hp); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
	if a := hp.Pools[1].Available(); a != 510 {
		t.Errorf("Available = %d, want 510", a)
	}
}
