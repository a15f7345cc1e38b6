package crashcap

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/osinfo"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// mkroot writes files (path relative to the root → content) into a temp root.
func mkroot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	testutil.WriteTree(t, root, files)
	return root
}

// read reads the root the way a run does: os-release and the mount table
// by their readers (internal/osinfo), then crashcap.Read.
func read(t *testing.T, root, cmdline string) (Report, error) {
	t.Helper()
	if cmdline != "" {
		testutil.WriteTree(t, root, map[string]string{"proc/cmdline": cmdline + "\n"})
	}
	fsys := testutil.OpenRoot(t, root)
	d, err := osinfo.ReadDistro(fsys)
	if err != nil {
		return Report{}, err
	}
	m, err := osinfo.ReadMounts(fsys)
	if err != nil {
		return Report{}, err
	}
	cfg, err := modprobe.Load(fsys)
	if err != nil {
		return Report{}, err
	}
	return Read(fsys, d, m, cfg, false)
}

func item(t *testing.T, r Report, name string) Item {
	t.Helper()
	for _, it := range r.Items {
		if it.Name == name {
			return it
		}
	}
	t.Fatalf("no item %q in %+v", name, r.Items)
	return Item{}
}

const (
	sysctls  = "proc/sys/kernel/"
	loadable = "sys/module/netconsole/"
)

func TestRead(t *testing.T) {
	debian := map[string]string{"etc/os-release": "ID=debian\n", "proc/mounts": "/dev/vda / ext4 rw 0 0\n"}
	with := func(extra map[string]string) map[string]string {
		m := maps.Clone(debian)
		maps.Copy(m, extra)
		return m
	}
	tests := []struct {
		name    string
		files   map[string]string
		cmdline string
		keeps   bool
		ready   map[string]bool   // item → ready
		fix     map[string]string // item → substring of Fix ("" means no fix)
		value   map[string]string // item → substring of Value
	}{
		{
			name:  "bare debian host: nothing keeps a trace, debian fix",
			files: debian, cmdline: "root=/dev/vda ro",
			ready: map[string]bool{"kdump": false, "pstore": false, "netconsole": false, "kernel.panic": false},
			fix:   map[string]string{"kdump": "kdump-tools", "pstore": "efi_pstore", "netconsole": "modprobe netconsole"},
			value: map[string]string{"kdump": "crashkernel=none", "kernel.panic": "-", "netconsole": "module loaded: no, target none"},
		},
		{
			name:    "fedora: kexec-tools",
			files:   map[string]string{"etc/os-release": "ID=fedora\n", "proc/mounts": "/dev/vda / xfs rw 0 0\n"},
			cmdline: "root=/dev/vda",
			fix:     map[string]string{"kdump": "kdumpctl reset-crashkernel --kernel=ALL"},
		},
		{
			name:    "crashkernel reserved but no crash kernel loaded",
			files:   with(map[string]string{"sys/kernel/kexec_crash_loaded": "0\n"}),
			cmdline: "root=/dev/vda crashkernel=512M",
			ready:   map[string]bool{"kdump": false},
			value:   map[string]string{"kdump": "crashkernel=512M, crash kernel loaded: no"},
		},
		{
			name:    "kdump ready",
			files:   with(map[string]string{"sys/kernel/kexec_crash_loaded": "1\n", sysctls + "panic": "10\n", sysctls + "panic_on_oops": "1\n", sysctls + "hung_task_panic": "0\n"}),
			cmdline: "crashkernel=384M-:512M quiet",
			keeps:   true,
			ready:   map[string]bool{"kdump": true, "kernel.panic": true, "kernel.panic_on_oops": true, "kernel.hung_task_panic": false},
			fix:     map[string]string{"kdump": ""},
			value:   map[string]string{"kernel.panic": "10", "kernel.panic_on_oops": "1"},
		},
		{
			name:  "panic 0 waits forever, oops does not panic",
			files: with(map[string]string{sysctls + "panic": "0\n", sysctls + "panic_on_oops": "0\n", sysctls + "hung_task_panic": "1\n"}),
			ready: map[string]bool{"kernel.panic": false, "kernel.panic_on_oops": false, "kernel.hung_task_panic": true},
			value: map[string]string{"kernel.panic": "0"},
		},
		{
			name: "pstore backend without the file system mounted",
			files: with(map[string]string{
				"sys/module/pstore/parameters/backend": "efi_pstore\n",
			}),
			ready: map[string]bool{"pstore": false},
			value: map[string]string{"pstore": "backend efi_pstore, /sys/fs/pstore mounted: no"},
		},
		{
			name: "pstore ready",
			files: with(map[string]string{
				"sys/module/pstore/parameters/backend": "efi_pstore\n",
				"proc/mounts":                          "/dev/vda / ext4 rw 0 0\npstore /sys/fs/pstore pstore rw,nosuid 0 0\n",
			}),
			keeps: true,
			ready: map[string]bool{"pstore": true},
		},
		{
			name: "pstore (null) backend is none",
			files: with(map[string]string{
				"sys/module/pstore/parameters/backend": "(null)\n",
				"proc/mounts":                          "pstore /sys/fs/pstore pstore rw 0 0\n",
			}),
			ready: map[string]bool{"pstore": false},
			value: map[string]string{"pstore": "backend none"},
		},
		{
			name:  "netconsole loaded without a target",
			files: with(map[string]string{loadable + "refcnt": "0\n", loadable + "initstate": "live\n"}),
			ready: map[string]bool{"netconsole": false},
			value: map[string]string{"netconsole": "module loaded: yes, target none (a target given to modprobe by hand cannot be seen"},
			fix:   map[string]string{"netconsole": "192.0.2.1"},
		},
		{
			name:  "netconsole built in without a target",
			files: with(map[string]string{"sys/module/netconsole/parameters/oops_only": "N\n"}),
			ready: map[string]bool{"netconsole": false},
			value: map[string]string{"netconsole": "built into the kernel, target none on the kernel command line"},
			fix:   map[string]string{"netconsole": "add netconsole=@/IFACE,6666@192.0.2.1/ to the kernel command line"},
		},
		{
			name:    "netconsole module, target on the kernel command line as its parameter",
			files:   with(map[string]string{loadable + "initstate": "live\n"}),
			cmdline: "root=/dev/vda netconsole.netconsole=6665@/eth0,6666@192.0.2.1/ quiet",
			keeps:   true,
			ready:   map[string]bool{"netconsole": true},
			value:   map[string]string{"netconsole": "module loaded: yes, target 192.0.2.1:6666 from /proc/cmdline (netconsole.netconsole=) (as configured: the kernel does not show"},
			fix:     map[string]string{"netconsole": ""},
		},
		{
			name:    "netconsole built in, netconsole= on the kernel command line",
			files:   with(map[string]string{"sys/module/netconsole/parameters/oops_only": "N\n"}),
			cmdline: "root=/dev/vda netconsole=@/enp1s0,514@[2001:db8::1]/ quiet",
			value:   map[string]string{"netconsole": "target refused by the kernel: /proc/cmdline (netconsole=): target 1 \"@/enp1s0,514@[2001:db8::1]/\": log host \"[2001:db8::1]\" is not an IP address"},
			ready:   map[string]bool{"netconsole": false},
		},
		{
			name:    "netconsole built in, IPv6 log host",
			files:   with(map[string]string{"sys/module/netconsole/parameters/oops_only": "N\n"}),
			cmdline: "root=/dev/vda netconsole=+@/enp1s0,514@2001:db8::1/ quiet",
			keeps:   true,
			ready:   map[string]bool{"netconsole": true},
			value:   map[string]string{"netconsole": "built into the kernel, target [2001:db8::1]:514 from /proc/cmdline (netconsole=)"},
		},
		{
			name:    "netconsole= on the command line does not reach a loadable module",
			files:   with(map[string]string{loadable + "initstate": "live\n"}),
			cmdline: "root=/dev/vda netconsole=@/eth0,6666@192.0.2.1/",
			ready:   map[string]bool{"netconsole": false},
			value:   map[string]string{"netconsole": "netconsole= on the kernel command line is read only by a netconsole built into the kernel"},
			fix:     map[string]string{"netconsole": "netconsole.netconsole="},
		},
		{
			name: "netconsole options in modprobe.d, the /etc file hiding the /usr/lib one",
			files: with(map[string]string{
				loadable + "initstate":                    "live\n",
				"usr/lib/modprobe.d/netconsole.conf":      "options netconsole netconsole=@/eth0,6666@198.51.100.7/\n",
				"etc/modprobe.d/netconsole.conf":          "# the log host\noptions netconsole oops_only=1 \\\n  netconsole=@/eth1,6666@203.0.113.9/\n",
				"etc/modprobe.d/zfs.conf":                 "options zfs zfs_arc_max=8589934592\n",
				"etc/modprobe.d/netconsole.conf.dpkg-old": "options netconsole netconsole=@/eth0,6666@198.51.100.8/\n",
			}),
			keeps: true,
			ready: map[string]bool{"netconsole": true},
			value: map[string]string{"netconsole": "module loaded: yes, target 203.0.113.9:6666 from /etc/modprobe.d/netconsole.conf:3"},
		},
		{
			name: "netconsole.netconsole= on the command line wins over modprobe.d",
			files: with(map[string]string{
				loadable + "initstate":           "live\n",
				"etc/modprobe.d/netconsole.conf": "options netconsole netconsole=@/eth0,6666@198.51.100.7/\n",
			}),
			cmdline: "netconsole.netconsole=@/eth0,514@192.0.2.44/",
			keeps:   true,
			ready:   map[string]bool{"netconsole": true},
			value:   map[string]string{"netconsole": "target 192.0.2.44:514 from /proc/cmdline"},
		},
		{
			name: "netconsole log host given as a name is refused by the kernel",
			files: with(map[string]string{
				loadable + "initstate":           "live\n",
				"etc/modprobe.d/netconsole.conf": "options netconsole netconsole=@/eth0,6666@loghost.example.org/\n",
			}),
			ready: map[string]bool{"netconsole": false},
			value: map[string]string{"netconsole": "target refused by the kernel: /etc/modprobe.d/netconsole.conf:1: target 1 \"@/eth0,6666@loghost.example.org/\": log host \"loghost.example.org\" is not an IP address: the kernel takes an address, not a host name"},
			fix:   map[string]string{"netconsole": "correct /etc/modprobe.d/netconsole.conf:1"},
		},
		{
			name:  "netconsole configured in modprobe.d but not loaded",
			files: with(map[string]string{"etc/modprobe.d/netconsole.conf": "options netconsole netconsole=@/eth0,6666@192.0.2.1/\n"}),
			ready: map[string]bool{"netconsole": false},
			value: map[string]string{"netconsole": "module loaded: no, target 192.0.2.1:6666 from /etc/modprobe.d/netconsole.conf:1"},
			fix:   map[string]string{"netconsole": "modprobe netconsole"},
		},
		{
			name: "netconsole configfs target, only the enabled one counts",
			files: with(map[string]string{
				loadable + "refcnt":                              "0\n",
				loadable + "initstate":                           "live\n",
				"sys/kernel/config/netconsole/off/enabled":       "0\n",
				"sys/kernel/config/netconsole/loghost/enabled":   "1\n",
				"sys/kernel/config/netconsole/loghost/remote_ip": "192.0.2.7\n",
			}),
			keeps: true,
			ready: map[string]bool{"netconsole": true},
			value: map[string]string{"netconsole": "target configfs loghost → 192.0.2.7"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := read(t, mkroot(t, tt.files), tt.cmdline)
			if err != nil {
				t.Fatal(err)
			}
			if r.KeepsTrace != tt.keeps {
				t.Errorf("KeepsTrace = %v, want %v", r.KeepsTrace, tt.keeps)
			}
			if len(r.Items) != 6 {
				t.Errorf("%d items, want 6 (kdump, pstore, netconsole, 3 sysctls)", len(r.Items))
			}
			for name, want := range tt.ready {
				if got := item(t, r, name).Ready; got != want {
					t.Errorf("%s ready = %v, want %v", name, got, want)
				}
			}
			for name, want := range tt.fix {
				got := item(t, r, name).Fix
				if want == "" && got != "" || !strings.Contains(got, want) {
					t.Errorf("%s fix = %q, want %q", name, got, want)
				}
			}
			for name, want := range tt.value {
				if got := item(t, r, name).Value; !strings.Contains(got, want) {
					t.Errorf("%s value = %q, want it to contain %q", name, got, want)
				}
			}
		})
	}
}

// A crash-capture file that is not a regular file is an error, not a guess.
func TestReadRefusesOddFiles(t *testing.T) {
	root := mkroot(t, map[string]string{"etc/os-release": "ID=debian\n"})
	if err := os.MkdirAll(filepath.Join(root, "sys/kernel/kexec_crash_loaded"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := read(t, root, ""); err == nil {
		t.Fatal("a directory as kexec_crash_loaded was accepted")
	}
}

// TestKdumpProxmoxBootTool: where proxmox-boot-tool manages the boot, the
// kdump advice says where crashkernel= goes and that the ESPs need a
// refresh (pve-docs system-booting.adoc, "Editing the Kernel Commandline").
func TestKdumpProxmoxBootTool(t *testing.T) {
	root := t.TempDir()
	testutil.WriteTree(t, root, map[string]string{
		"etc/os-release":                  "ID=debian\nVERSION_ID=\"12\"\n",
		"etc/kernel/proxmox-boot-uuids":   "1234-ABCD\n",
		"proc/cmdline":                    "root=ZFS=rpool/ROOT/pve-1 boot=zfs\n",
		"sys/kernel/kexec_crash_loaded":   "0\n",
		"proc/sys/kernel/panic":           "0\n",
		"proc/sys/kernel/panic_on_oops":   "0\n",
		"proc/sys/kernel/hung_task_panic": "0\n",
	})
	fsys := testutil.OpenRoot(t, root)
	d, err := osinfo.ReadDistro(fsys)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := modprobe.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, pbt := range []bool{false, true} {
		r, err := Read(fsys, d, osinfo.Mounts{}, cfg, pbt)
		if err != nil {
			t.Fatal(err)
		}
		fix := item(t, r, "kdump").Fix
		says := strings.Contains(fix, "/etc/kernel/cmdline") && strings.Contains(fix, "proxmox-boot-tool refresh")
		if says != pbt {
			t.Errorf("proxmox-boot-tool %v: kdump fix %q", pbt, fix)
		}
	}
}
