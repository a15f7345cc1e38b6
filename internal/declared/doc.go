// Package declared reads the memory a host declares for its workload
// ("--reserve auto"): its VMs, containers and protected cgroups, each from
// the file its owner writes, read the way the owner reads it, under the
// one confined root (internal/rootfs: chroot-like symlinks, bounded
// reads, regular files only).
//
// Sources (Read returns them in this order; each has a pure parser and a
// reader that takes the *rootfs.FS):
//
//   - pve-qemu: Proxmox VE VMs, /etc/pve/qemu-server/<vmid>.conf, the local
//     node's (ParsePVEQemu, ReadPVEQemu). Only the main section counts: the
//     lines before the first "[...]" header, as qemu-server's
//     parse_vm_config reads them (proxmox/qemu-server
//     src/PVE/QemuServer.pm:1939-2082 @e6352be67f70); [PENDING],
//     [special:...] and snapshot sections repeat memory and are skipped.
//     memory is MiB ("4096" or "current=4096", default 512), balloon the
//     auto-ballooning minimum, hugepages 2|1024|any and keephugepages,
//     hostpciN passthrough (pinned), onboot, template. It runs when
//     qemu-server's vm_running_locally would say so: the pid file's pid is
//     a live, non-zombie QEMU whose -pidfile is that file (the guard
//     against pid reuse).
//   - pve-lxc: Proxmox VE containers, /etc/pve/lxc/<ctid>.conf
//     (ParsePVELXC, ReadPVELXC; pve-container src/PVE/LXC/Config.pm
//     @94f558522ef6): memory (MiB, default 512, written as the container's
//     memory.max), onboot, template; it runs when its cgroup lxc/<ctid> is
//     populated.
//   - libvirt: QEMU domains, /etc/libvirt/qemu/*.xml with autostart links
//     in /etc/libvirt/qemu/autostart/, and the running ones in
//     /run/libvirt/qemu/*.xml (ParseLibvirt, ReadLibvirt; libvirt 10.7.0):
//     <memory> in any unit libvirt takes (default KiB), or the NUMA cells,
//     <currentMemory>, <maxMemory>, memory devices, <memoryBacking>
//     (hugepages, locked), <memtune><hard_limit>, <hostdev>. A domain both
//     running and persistent is one guest, from its live definition.
//   - cgroup: memory.min of the populated cgroups under /sys/fs/cgroup
//     (ReadCgroups; systemd's MemoryMin=).
//
// Which guests count, and how much, is Count's rule (see Count): by
// default the running guests and those that start at boot, never a
// template; a guest counts its full configured memory (a balloon minimum
// is shown, not used); a hugepage-backed guest whose pages are already in
// HugePages_Total counts 0, one whose pages the free pool cannot cover
// counts in full; nothing counts twice (a domain seen running and
// persistent, a cgroup inside a guest's, a protection nested in another).
//
// Bad input is an error that names the file and, where there is one, the
// line, and nothing is returned: an unknown unit, a negative size, a size
// above MaxBytes (1 PiB), a duplicated key, an XML file that is not a
// domain, XML nested deeper than 64 or larger than 4 MiB, a FIFO or a
// directory where a config should be, more than MaxEntries guests in a
// directory or 16384 cgroups. A symlink cannot lead out of the root: it
// is resolved inside it, as in a chroot.
package declared
