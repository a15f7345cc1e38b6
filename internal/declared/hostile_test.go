package declared

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// TestPVEBadInput: each bad config is an error naming the file and line.
func TestPVEBadInput(t *testing.T) {
	const name = "/etc/pve/qemu-server/100.conf"
	for _, tc := range []struct{ conf, want string }{
		{"memory: 4G\n", name + `:1: memory: unknown unit "G" in "4G": Proxmox takes a whole number of MiB with no unit`},
		{"memory: 4 GiB\n", `:1: memory: unknown unit "GiB"`},
		{"balloon: 1G\n", `:1: balloon: unknown unit "G"`},
		{"cores: 2\nmemory: -512\n", name + ":2: memory: -512 MiB is negative"},
		{"memory: 2000000000\n", ":1: memory: 2000000000 MiB is more than 1 PiB: not a real guest"},
		{"memory: 99999999999999999999999\n", ":1: memory: 99999999999999999999999 MiB is more than 1 PiB"},
		{"memory: 8\n", ":1: memory: 8 MiB is below Proxmox's minimum of 16 MiB"},
		{"memory: 1.5\n", `:1: memory: "1.5" is not a whole number of MiB`},
		{"memory: 1024\nname: a\nmemory: 2048\n", name + `:3: duplicate key "memory" (first at line 1)`},
		{"onboot: 1\nonboot: 0\n", `:2: duplicate key "onboot" (first at line 1)`},
		{"memory: size=4096\n", `:1: memory: unknown property "size"`},
		{"memory: 4096,current=2048\n", ":1: memory: current given twice"},
		{"onboot: maybe\n", `:1: onboot: "maybe" is not a boolean`},
		{"hugepages: 4\n", `:1: hugepages: "4": want any, 2 or 1024`},
		{"memory: 1536\nhugepages: 1024\n", ":1: memory: 1.50 GiB is not a multiple of the 1 GiB huge pages"},
		{"this is not a config\n", `:1: not a "key: value" line`},
		{"Memory: 4096\n", `:1: not a "key: value" line`},
		{"memory:\n", `:1: not a "key: value" line`},
	} {
		_, err := ParsePVEQemu(strings.NewReader(tc.conf), name)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.conf, err, tc.want)
		}
	}
	for _, tc := range []struct{ conf, want string }{
		{"memory: 2G\n", `/etc/pve/lxc/200.conf:1: memory: unknown unit "G"`},
		{"hostname: a\nhostname: b\n", `:2: duplicate key "hostname" (first at line 1)`},
		{"memory: -1\n", `:1: memory: "-1" is not a whole number of MiB`}, // check_type: ^(\d+)$
		{"net-0: x\n", `:1: not a "key: value" line`},                     // lxc keys have no '-'
	} {
		_, err := ParsePVELXC(strings.NewReader(tc.conf), "/etc/pve/lxc/200.conf")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lxc %q: error %v, want one containing %q", tc.conf, err, tc.want)
		}
	}
	// Raw lxc.* keys repeat legitimately.
	if _, err := ParsePVELXC(strings.NewReader("lxc.idmap: u 0 100000 1\nlxc.idmap = g 0 100000 1\n"), "x.conf"); err != nil {
		t.Errorf("repeated raw lxc keys: %v", err)
	}
}

// TestLibvirtBadInput: each bad XML is an error naming the file and line.
func TestLibvirtBadInput(t *testing.T) {
	const name = "/etc/libvirt/qemu/vm.xml"
	deep := "<domain><name>d</name><memory>1024</memory><metadata>" + strings.Repeat("<a>", 100) +
		strings.Repeat("</a>", 100) + "</metadata></domain>"
	for _, tc := range []struct{ xml, want string }{
		{"<domain>\n<name>vm</name>\n<memory unit='XiB'>4</memory>\n</domain>",
			name + `:3: <memory>: unknown unit "XiB" (libvirt takes b, bytes, KB, k, KiB`},
		{"<domain><name>vm</name><memory unit='KiB'>-1</memory></domain>", `:1: <memory>: "-1" is negative`},
		{"<domain><name>vm</name><memory unit='EiB'>2</memory></domain>", ":1: <memory>: 2 EiB is more than 1 PiB"},
		{"<domain><name>vm</name><memory>1 GiB</memory></domain>", `<memory>: "1 GiB" is not a whole number`},
		{"<domain><name>vm</name><memory>99999999999999999999</memory></domain>", "more than 1 PiB"},
		{"<domain><name>vm</name>\n<memory>1024</memory>\n<memory>2048</memory></domain>",
			":3: a second <memory> (the first is at line 2)"},
		{"<network>\n<name>default</name>\n</network>", name + ":1: root element <network> is not a libvirt <domain> or <domstatus>"},
		{"memory: 4096\n", name + ": no XML element: not a libvirt domain"},
		{"<domain><name>a</name>\n<memory>1</memory>\n</domain", name + ":3: not well-formed XML"},
		{"<domain><name>vm</name><memory>1024</memory>", "not well-formed XML"},
		{"<domain><memory>1024</memory></domain>", name + ": the domain has no <name>"},
		{"<domain><name>vm</name></domain>", `the domain "vm" has no <memory> and no NUMA cells`},
		{deep, ":1: elements nested deeper than 64"},
		{`<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><domain><name>&b;</name></domain>`,
			"not well-formed XML"},
		{"<domstatus state='running'><qemuCaps/></domstatus>", "<domstatus> without a <domain>"},
		{"<domstatus><domain><name>a</name><memory>1</memory></domain><domain/></domstatus>", "a second <domain>"},
		{"<domain><name>vm</name><memory>4</memory><memoryBacking><hugepages><page size='2' unit='M' nodeset='x'/>" +
			"</hugepages></memoryBacking></domain>", `<page nodeset="x">: not a node set`},
		{"<domain><name>vm</name><memory>4</memory><memoryBacking><hugepages><page unit='M'/>" +
			"</hugepages></memoryBacking></domain>", "<page> without a size"},
		{"<domain><name>vm</name><cpu><numa><cell id='0' memory='1' unit='QB'/></numa></cpu></domain>",
			`<cell memory>: unknown unit "QB"`},
	} {
		_, err := ParseLibvirt(strings.NewReader(tc.xml), name)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60q: error %v, want one containing %q", tc.xml, err, tc.want)
		}
	}
}

// TestLibvirtKeys covers what pins memory and the unlimited hard limit.
func TestLibvirtKeys(t *testing.T) {
	for _, tc := range []struct {
		devices string
		pinned  bool
	}{
		{"<hostdev mode='subsystem' type='pci'/>", true},
		{"<hostdev mode='subsystem' type='mdev'/>", true},
		{"<hostdev mode='subsystem' type='scsi'/>", false},
		{"<hostdev mode='subsystem' type='usb'/>", false},
		{"<interface type='hostdev'/>", true},
		{"<interface type='network'/>", false},
		{"<disk type='nvme' device='disk'/>", true},
		{"<disk type='file' device='disk'/>", false},
	} {
		g, err := ParseLibvirt(strings.NewReader("<domain><name>v</name><memory>1024</memory><devices>"+
			tc.devices+"</devices></domain>"), "v.xml")
		if err != nil || g.Pinned != tc.pinned {
			t.Errorf("%s: pinned %v, %v; want %v", tc.devices, g.Pinned, err, tc.pinned)
		}
	}
	// VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, as libvirt writes it: no limit.
	g, err := ParseLibvirt(strings.NewReader("<domain><name>v</name><memory>1024</memory><memtune>"+
		"<hard_limit unit='KiB'>9007199254740991</hard_limit></memtune></domain>"), "v.xml")
	if err != nil || g.HardLimitBytes != 0 {
		t.Errorf("unlimited hard_limit: %d, %v; want 0", g.HardLimitBytes, err)
	}
}

// TestCgroupBadInput covers the cgroup files' parsers.
func TestCgroupBadInput(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"lots\n", `m.min:1: "lots" is not a number of bytes or max`},
		{"-1\n", `"-1" is not a number`},
		{"+1\n", `"+1" is not a number`},
		{"1", "want one line"},
		{"1\n2\n", "want one line"},
		{"99999999999999999999\n", "is not a number"},
	} {
		_, _, err := ParseMemoryMin(strings.NewReader(tc.in), "m.min")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("memory.min %q: error %v, want %q", tc.in, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"populated 2\n", `ev:1: populated "2"`},
		{"frozen 0\npopulated yes\n", `ev:2: populated "yes"`},
		{"frozen 0\n", "no populated line"},
	} {
		_, err := ParseCgroupEvents(strings.NewReader(tc.in), "ev")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cgroup.events %q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

// readRoot runs Read on root, failing the test if it takes more than ten
// seconds (a FIFO must not block it).
func readRoot(t *testing.T, root string) ([]Guest, error) {
	t.Helper()
	fsys, err := rootfs.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	type result struct {
		gs  []Guest
		err error
	}
	done := make(chan result, 1)
	go func() {
		gs, err := Read(fsys)
		done <- result{gs, err}
	}()
	select {
	case r := <-done:
		return r.gs, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("Read hangs")
	}
	return nil, nil
}

// TestReadHostile: a root that is hostile gives a clear error naming the
// file, fast, and nothing else.
func TestReadHostile(t *testing.T) {
	mkfifo := func(t *testing.T, p string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, root string)
		want  string // in the error, after the root
		is    error
	}{
		{"FIFO as a VM config", func(t *testing.T, root string) {
			mkfifo(t, filepath.Join(root, "etc/pve/qemu-server/100.conf"))
		}, "/etc/pve/qemu-server/100.conf: not a regular file (a named pipe)", rootfs.ErrNotRegular},
		{"FIFO as a pid file", func(t *testing.T, root string) {
			testutil.WriteTree(t, root, map[string]string{"etc/pve/qemu-server/100.conf": "memory: 1024\n"})
			mkfifo(t, filepath.Join(root, "run/qemu-server/100.pid"))
			symlink(t, "../run", filepath.Join(root, "var/run"))
		}, "/var/run/qemu-server/100.pid: not a regular file (a named pipe)", rootfs.ErrNotRegular},
		{"directory as a container config", func(t *testing.T, root string) {
			os.MkdirAll(filepath.Join(root, "etc/pve/lxc/200.conf"), 0o755)
		}, "/etc/pve/lxc/200.conf: not a regular file (a directory)", rootfs.ErrNotRegular},
		{"the config directory is a file", func(t *testing.T, root string) {
			testutil.WriteTree(t, root, map[string]string{"etc/pve/qemu-server": "x"})
		}, "/etc/pve/qemu-server: not a directory", syscall.ENOTDIR},
		{"a bad config among good ones", func(t *testing.T, root string) {
			testutil.WriteTree(t, root, map[string]string{
				"etc/pve/qemu-server/100.conf": "memory: 1024\n",
				"etc/pve/qemu-server/101.conf": "name: b\nmemory: 8GB\n",
			})
		}, `/etc/pve/qemu-server/101.conf:2: memory: unknown unit "GB"`, nil},
		{"10,000 guests", func(t *testing.T, root string) {
			dir := filepath.Join(root, "etc/pve/qemu-server")
			os.MkdirAll(dir, 0o755)
			for i := range 10000 {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.conf", 100+i)), []byte("memory: 1024\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}, "/etc/pve/qemu-server: too many entries: more than 4096", ErrTooMany},
		{"huge XML", func(t *testing.T, root string) {
			testutil.WriteTree(t, root, map[string]string{"etc/libvirt/qemu/big.xml": "<domain><name>big</name>" +
				"<memory>1024</memory><description>" + strings.Repeat("x", 5<<20) + "</description></domain>"})
		}, "/etc/libvirt/qemu/big.xml: file too large", rootfs.ErrTooLarge},
		{"deep XML", func(t *testing.T, root string) {
			testutil.WriteTree(t, root, map[string]string{"etc/libvirt/qemu/deep.xml": strings.Repeat("<domain>", 100000)})
		}, "/etc/libvirt/qemu/deep.xml:1: elements nested deeper than 64", nil},
		{"a domain where a status file should be", func(t *testing.T, root string) {
			testutil.WriteTree(t, root, map[string]string{"run/libvirt/qemu/vm.xml": "<domain><name>vm</name><memory>1</memory></domain>"})
		}, "/run/libvirt/qemu/vm.xml: a <domain>, not a <domstatus>", nil},
		{"cgroups nested too deep", func(t *testing.T, root string) {
			files := map[string]string{"sys/fs/cgroup/cgroup.controllers": "memory\n"}
			p := "sys/fs/cgroup"
			for range 40 {
				p += "/d"
				files[p+"/cgroup.events"] = "populated 1\n"
			}
			testutil.WriteTree(t, root, files)
		}, "/sys/fs/cgroup/" + strings.Repeat("d/", 32) + "d: cgroups nested deeper than 32 levels", nil},
		{"garbage memory.min", func(t *testing.T, root string) {
			testutil.WriteTree(t, root, map[string]string{
				"sys/fs/cgroup/cgroup.controllers":           "memory\n",
				"sys/fs/cgroup/a.slice/cgroup.events":        "populated 1\n",
				"sys/fs/cgroup/a.slice/memory.min":           "8G\n",
				"sys/fs/cgroup/a.slice/b.service/memory.min": "1\n",
			})
		}, `/sys/fs/cgroup/a.slice/memory.min:1: "8G" is not a number of bytes or max`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tc.setup(t, root)
			gs, err := readRoot(t, root)
			if err == nil || !strings.Contains(err.Error(), root+tc.want) {
				t.Fatalf("Read = %d guests, error %v; want an error containing %q", len(gs), err, root+tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if gs != nil {
				t.Errorf("Read returned guests with its error: %v", gs)
			}
		})
	}
}

// TestReadSymlinkOutOfRoot: a config that links to a file outside the
// root, absolutely or by "..", is resolved inside the root, where nothing
// is: the host's file is never read.
func TestReadSymlinkOutOfRoot(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "evil.conf")
	if err := os.WriteFile(outside, []byte("memory: 999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{outside, strings.Repeat("../", 20) + strings.TrimPrefix(outside, "/")} {
		root := t.TempDir()
		symlink(t, target, filepath.Join(root, "etc/pve/qemu-server/100.conf"))
		gs, err := readRoot(t, root)
		if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), root+"/etc/pve/qemu-server/100.conf") {
			t.Errorf("link to %s: Read = %v, %v; want a no-such-file error naming 100.conf", target, gs, err)
		}
	}
	// The same for an autostart link: it never leads out of the root, and
	// a link that leads nowhere inside it is no autostart.
	root := t.TempDir()
	testutil.WriteTree(t, root, map[string]string{"etc/libvirt/qemu/vm.xml": "<domain><name>vm</name><memory>1024</memory></domain>"})
	symlink(t, outside, filepath.Join(root, "etc/libvirt/qemu/autostart/vm.xml"))
	gs, err := readRoot(t, root)
	if err != nil || len(gs) != 1 || gs[0].OnBoot || gs[0].DeclaredBytes != 1024*kib {
		t.Errorf("dangling autostart link: %+v, %v; want vm, 1 MiB, not autostarted", gs, err)
	}
}

// TestLibvirtManyCells: sizes that each pass but add up past 2^64 are an
// error, not a wrapped sum.
func TestLibvirtManyCells(t *testing.T) {
	doc := "<domain><name>n</name><cpu><numa>" + strings.Repeat("<cell memory='1' unit='PiB'/>", 20000) +
		"</numa></cpu></domain>"
	_, err := ParseLibvirt(strings.NewReader(doc), "n.xml")
	if err == nil || !strings.Contains(err.Error(), "more than 1 PiB") {
		t.Fatalf("error %v, want more than 1 PiB", err)
	}
}
