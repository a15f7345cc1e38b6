package declared

import (
	"bytes"
	"strings"
	"testing"
)

// checkGuest checks what holds for any guest a parser accepts, and that
// Count takes it under every rule without counting more than it declares.
func checkGuest(t *testing.T, g Guest) {
	t.Helper()
	if g.DeclaredBytes == 0 || g.DeclaredBytes > MaxBytes || g.BalloonMinBytes > MaxBytes ||
		g.MaxMemoryBytes > MaxBytes || g.HardLimitBytes > MaxBytes || g.PmemBytes > g.DeclaredBytes {
		t.Fatalf("sizes out of bounds: %+v", g)
	}
	var huge uint64
	for _, u := range g.Hugepages {
		huge += u.Bytes
	}
	if g.Hugepages != nil && huge != g.DeclaredBytes-g.PmemBytes {
		t.Fatalf("huge pages hold %d bytes of %d - %d: %+v", huge, g.DeclaredBytes, g.PmemBytes, g)
	}
	host := Host{MemTotal: 64 * gib, HugePages: HugePages{Default: 2 * mib,
		Pools: []HugePool{{PageSize: 2 * mib, Total: 512, Free: 512}, {PageSize: gib, Total: 1, Free: 1}}}}
	for _, r := range []Rule{Boot, Running, All} {
		for _, running := range []bool{false, true} {
			g.Running = running
			c := Count([]Guest{g}, r, host)[0]
			most := g.DeclaredBytes
			if g.Source.QEMU() {
				most += QEMUOverhead(g.DeclaredBytes)
			}
			if c.CountedBytes > most || !c.Counted && c.CountedBytes != 0 || c.Why == "" {
				t.Fatalf("Count %v: %+v", r, c)
			}
		}
	}
}

func FuzzParsePVEQemu(f *testing.F) {
	f.Add([]byte("memory: 4096\nballoon: 2048\nonboot: 1\nhugepages: 2\n[PENDING]\nmemory: 8192\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "/etc/pve/qemu-server/100.conf"
		g, err := ParsePVEQemu(bytes.NewReader(data), name)
		if err != nil {
			if !strings.HasPrefix(err.Error(), name+":") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		if g.DeclaredBytes%mib != 0 || g.DeclaredBytes < 16*mib || g.ID != "100" || g.Source != PVEQemu {
			t.Fatalf("%+v", g)
		}
		checkGuest(t, g)
	})
}

func FuzzParsePVELXC(f *testing.F) {
	f.Add([]byte("hostname: ct\nmemory: 2048\nswap: 512\nlxc.idmap: u 0 100000 65536\n[snap]\nmemory: 4096\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "/etc/pve/lxc/200.conf"
		g, err := ParsePVELXC(bytes.NewReader(data), name)
		if err != nil {
			if !strings.HasPrefix(err.Error(), name+":") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		if g.DeclaredBytes%mib != 0 || g.DeclaredBytes < 16*mib || g.ID != "200" || g.Hugepages != nil {
			t.Fatalf("%+v", g)
		}
		checkGuest(t, g)
	})
}

func FuzzParseLibvirt(f *testing.F) {
	f.Add([]byte("<domain><name>vm</name><memory unit='GiB'>2</memory><currentMemory>1048576</currentMemory>" +
		"<memoryBacking><hugepages><page size='2048' nodeset='0'/></hugepages></memoryBacking>" +
		"<cpu><numa><cell id='0' memory='1048576'/></numa></cpu></domain>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "/etc/libvirt/qemu/vm.xml"
		g, err := ParseLibvirt(bytes.NewReader(data), name)
		if err != nil {
			if !strings.HasPrefix(err.Error(), name+":") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		if g.DeclaredBytes%kib != 0 || g.Name == "" || g.Source != Libvirt {
			t.Fatalf("%+v", g)
		}
		checkGuest(t, g)
	})
}

func FuzzParseMemoryMin(f *testing.F) {
	f.Add([]byte("1073741824\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, unl, err := ParseMemoryMin(bytes.NewReader(data), "memory.min")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "memory.min") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		if unl && (v != 0 || string(data) != "max\n") {
			t.Fatalf("%q: %d, unlimited", data, v)
		}
	})
}

func FuzzParseCgroupEvents(f *testing.F) {
	f.Add([]byte("populated 1\nfrozen 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pop, err := ParseCgroupEvents(bytes.NewReader(data), "cgroup.events")
		if err == nil && pop && !bytes.Contains(data, []byte("populated 1")) {
			t.Fatalf("%q: populated", data)
		}
	})
}

// FuzzProcFiles feeds qemu-server's pid file, command line and stat
// readers.
func FuzzProcFiles(f *testing.F) {
	f.Add([]byte("4242\n"), []byte("/usr/bin/kvm\x00-id\x00100\x00-pidfile\x00/var/run/qemu-server/100.pid\x00"),
		[]byte("4242 (kvm) S 1 4241"), 4242)
	f.Fuzz(func(t *testing.T, pidfile, cmdline, stat []byte, pid int) {
		if p, ok := parsePidFile(pidfile); ok {
			line, _, _ := bytes.Cut(pidfile, []byte("\n"))
			if p <= 0 || len(bytes.Trim(line, "0123456789")) != 0 {
				t.Fatalf("%q: pid %d", pidfile, p)
			}
		}
		if opts := parseQemuCmdline(cmdline); opts != nil && !qemuBinary.Match(bytes.SplitN(cmdline, []byte{0}, 2)[0]) {
			t.Fatalf("%q: not a QEMU, options %v", cmdline, opts)
		}
		if s, ok := parseStatState(stat, pid); ok && !bytes.Contains(stat, []byte{')', ' ', s}) {
			t.Fatalf("%q: state %q", stat, s)
		}
	})
}
