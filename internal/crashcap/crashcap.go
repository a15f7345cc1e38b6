// Package crashcap says, read-only, whether the host would keep the trace
// of its next kernel panic: a crash kernel loaded for kdump, a pstore
// backend, a netconsole target, and the panic sysctls. A panic in the ARC
// reclaim path without a trace leaves an admin guessing which bug hit.
//
// Everything is read under a root (internal/rootfs): /sys/kernel/
// kexec_crash_loaded, /sys/module/pstore/parameters/backend,
// /sys/module/netconsole, /sys/kernel/config/netconsole, the netconsole
// options of modprobe.d and /proc/sys/kernel/{panic,panic_on_oops,
// hung_task_panic}. /proc/cmdline (crashkernel=, netconsole=), os-release
// and /proc/mounts come from the caller, read once by their readers
// (internal/modprobe, internal/osinfo).
package crashcap

import (
	"cmp"
	"errors"
	"io/fs"
	"strings"

	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/osinfo"
	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// Item is one way a trace survives, or one setting that decides it.
type Item struct {
	Name   string `json:"name"`
	Ready  bool   `json:"ready"`
	Value  string `json:"value"`
	Source string `json:"source"`
	// Fix is what to do when it is missing ("" when ready, or for a
	// setting that is only reported).
	Fix string `json:"fix,omitempty"`
}

// Report is the crash-capture section.
type Report struct {
	// KeepsTrace: kdump, pstore or netconsole is ready.
	KeepsTrace bool   `json:"keeps_trace"`
	Items      []Item `json:"items"`
}

// Read looks at the host under the root. distro, mounts and the modprobe
// configuration (modprobe.d and /proc/cmdline) come from their one
// readers. What to do about kdump
// depends on the distribution: kexec-tools on the Fedora/RHEL family,
// kdump-tools elsewhere; and on how the boot is kept: where
// proxmox-boot-tool manages it (pbt, internal/nextboot.ProxmoxBootTool),
// crashkernel= goes in /etc/kernel/cmdline when it boots with
// systemd-boot, the snippet kdump-tools adds to /etc/default/grub.d being
// read only by GRUB, and either change reaches the ESPs with
// proxmox-boot-tool refresh (pve-docs system-booting.adoc, "Editing the
// Kernel Commandline").
func Read(fsys *rootfs.FS, distro osinfo.Distro, mounts osinfo.Mounts, cfg *modprobe.Config, pbt bool) (Report, error) {
	cmdline := cfg.Cmdline
	dracut := distro.Family() == osinfo.FamilyDracut
	read := func(rel string) (string, bool, error) {
		b, err := fsys.ReadFile(rel, 4<<10)
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		return strings.TrimSpace(string(b)), true, nil
	}
	var r Report

	// kdump: a reservation on the command line and a crash kernel loaded.
	crashkernel := ""
	for _, w := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(w, "crashkernel="); ok {
			crashkernel = v
		}
	}
	loaded, _, err := read("sys/kernel/kexec_crash_loaded")
	if err != nil {
		return Report{}, err
	}
	kd := Item{Name: "kdump", Ready: crashkernel != "" && loaded == "1",
		Value:  "crashkernel=" + cmp.Or(crashkernel, "none") + ", crash kernel loaded: " + yesNo(loaded == "1"),
		Source: "/proc/cmdline crashkernel=, /sys/kernel/kexec_crash_loaded"}
	if !kd.Ready {
		kd.Fix = "apt install kdump-tools (Debian, Ubuntu, Proxmox), set USE_KDUMP=1 in /etc/default/kdump-tools, reboot; kdump-config show then says ready"
		if pbt {
			kd.Fix = "apt install kdump-tools, set USE_KDUMP=1 in /etc/default/kdump-tools; proxmox-boot-tool manages the boot here: kdump-tools puts crashkernel= in /etc/default/grub.d, which only GRUB reads, so with systemd-boot add it to /etc/kernel/cmdline; then proxmox-boot-tool refresh and reboot; kdump-config show then says ready"
		}
		if dracut {
			// RHEL 9, "Managing, monitoring and updating the kernel",
			// "Configuring kdump on the command line": kdumpctl
			// reset-crashkernel --kernel=ALL sets the default
			// crashkernel= for every installed kernel.
			kd.Fix = "dnf install kexec-tools, kdumpctl reset-crashkernel --kernel=ALL, systemctl enable --now kdump, reboot; kdumpctl status then says ready"
		}
	}
	r.Items = append(r.Items, kd)

	// pstore: a backend that keeps records across a reboot, and the file
	// system that shows them (mounted on /sys/fs/pstore, in /proc/mounts).
	backend, _, err := read("sys/module/pstore/parameters/backend")
	if err != nil {
		return Report{}, err
	}
	if backend == "(null)" {
		backend = ""
	}
	mounted := mounts.Has("pstore", "/sys/fs/pstore")
	ps := Item{Name: "pstore", Ready: backend != "" && mounted,
		Value:  "backend " + cmp.Or(backend, "none") + ", /sys/fs/pstore mounted: " + yesNo(mounted),
		Source: "/sys/module/pstore/parameters/backend, /sys/fs/pstore"}
	if !ps.Ready {
		ps.Fix = "needs a backend: efi_pstore on UEFI firmware (modprobe efi_pstore), or ramoops with reserved memory (ramoops.mem_address= and ramoops.mem_size= on the kernel command line); systemd-pstore.service then keeps the records in /var/lib/systemd/pstore"
	}
	r.Items = append(r.Items, ps)

	// netconsole: the module with a target (netconsole.go).
	nc, err := netconsoleItem(fsys, cfg, read)
	if err != nil {
		return Report{}, err
	}
	r.Items = append(r.Items, nc)
	r.KeepsTrace = kd.Ready || ps.Ready || nc.Ready

	// The panic sysctls, reported with what they mean. Ready is the value
	// that turns the failure into a panic a crash kernel can dump (and, for
	// kernel.panic, a host that comes back by itself after it).
	for _, s := range []struct{ name, meaning string }{
		{"panic", "seconds before a panicked kernel reboots; 0 waits forever (the screen keeps the trace, the host stays down)"},
		{"panic_on_oops", "1: an oops (such as a NULL dereference in the ARC) panics, so kdump can take a dump"},
		{"hung_task_panic", "1: a task blocked over hung_task_timeout_secs (a reclaim deadlock) panics"},
	} {
		v, ok, err := read("proc/sys/kernel/" + s.name)
		if err != nil {
			return Report{}, err
		}
		ready := ok && v != "0"
		if s.name != "panic" {
			ready = ok && v == "1"
		}
		if !ok {
			v = "-"
		}
		r.Items = append(r.Items, Item{Name: "kernel." + s.name, Ready: ready, Value: v, Source: "/proc/sys/kernel/" + s.name + ": " + s.meaning})
	}
	return r, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
