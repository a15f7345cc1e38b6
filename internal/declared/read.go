package declared

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// Read reads every source under the root: Proxmox VE VMs and containers,
// libvirt domains, and the cgroup v2 protections, sorted by source (in the
// order of the Kind constants) and ID (VMIDs by value). A directory that
// is missing has nothing to declare; anything unreadable or malformed is
// an error naming the file (and line), and nothing is returned.
func Read(fsys *rootfs.FS) ([]Guest, error) {
	var all []Guest
	for _, read := range []func(*rootfs.FS) ([]Guest, error){ReadPVEQemu, ReadPVELXC, ReadLibvirt, ReadCgroups} {
		gs, err := read(fsys)
		if err != nil {
			return nil, err
		}
		all = append(all, gs...)
	}
	slices.SortStableFunc(all, func(a, b Guest) int {
		if d := a.Source.rank() - b.Source.rank(); d != 0 {
			return d
		}
		switch {
		case lessID(a.ID, b.ID):
			return -1
		case lessID(b.ID, a.ID):
			return 1
		}
		return 0
	})
	return all, nil
}

// readDir lists the directory rel under the root, sorted by name, at most
// max entries: more is an error wrapping ErrTooMany, and the listing stops
// reading there, so a directory of a million entries costs no more than
// one of max. A directory that does not exist is (nil, nil).
//
// rootfs.ReadDir reads a whole directory; this reads the resolved path
// (rootfs.Resolve: symlinks followed as in a chroot) through the same
// os.Root, which refuses any path out of the root.
func readDir(fsys *rootfs.FS, rel string, max int) ([]fs.DirEntry, error) {
	res, err := fsys.Resolve(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	if res == "" {
		res = "."
	}
	d, err := fsys.Root().OpenFile(res, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &rootfs.Error{Path: fsys.Path(rel), Err: unwrapPath(err)}
	}
	defer d.Close()
	des, err := d.ReadDir(max + 1)
	if err != nil && err != io.EOF {
		return nil, &rootfs.Error{Path: fsys.Path(rel), Err: unwrapPath(err)}
	}
	if len(des) > max {
		return nil, fmt.Errorf("%s: %w: more than %d, which is more than arcadvise reads; give the reservation "+
			"with --reserve instead", fsys.Path(rel), ErrTooMany, max)
	}
	slices.SortFunc(des, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return des, nil
}

func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// readPVE reads the configs "<vmid>.conf" of dir with parse.
func readPVE(fsys *rootfs.FS, dir string, parse func(io.Reader, string) (Guest, error)) ([]Guest, error) {
	des, err := readDir(fsys, dir, MaxEntries)
	if err != nil {
		return nil, err
	}
	var out []Guest
	for _, de := range des {
		if vmidOf(de.Name()) == "" {
			continue // qemu-server and pve-container list only <vmid>.conf
		}
		rel := path.Join(dir, de.Name())
		b, err := fsys.ReadFile(rel, maxPVEConfig)
		if err != nil {
			return nil, err
		}
		g, err := parse(bytes.NewReader(b), fsys.Path(rel))
		if err != nil {
			return nil, err
		}
		g.Path = "/" + rel
		out = append(out, g)
	}
	return out, nil
}

// ReadPVEQemu reads the local node's VMs: /etc/pve/qemu-server/<vmid>.conf
// (on a Proxmox VE host a link to /etc/pve/nodes/<node>/qemu-server, the
// node's own; other nodes' guests are not read) with ParsePVEQemu, and
// whether each runs (see pveQemuRunning).
func ReadPVEQemu(fsys *rootfs.FS) ([]Guest, error) {
	gs, err := readPVE(fsys, "etc/pve/qemu-server", ParsePVEQemu)
	if err != nil {
		return nil, err
	}
	for i := range gs {
		if gs[i].Running, err = pveQemuRunning(fsys, gs[i].ID); err != nil {
			return nil, err
		}
	}
	return gs, nil
}

// ReadPVELXC reads the local node's containers: /etc/pve/lxc/<ctid>.conf
// with ParsePVELXC. A container runs when its cgroup, /sys/fs/cgroup/lxc/<ctid>
// (pve-container's "lxc.cgroup.dir.container = lxc/$vmid",
// src/PVE/LXC.pm:725), is populated. pve-container's own check_running
// looks for LXC's command socket in /proc/net/unix (LXC.pm:83-116), which
// is per network namespace and unbounded; the cgroup is the kernel's view
// of the same fact.
func ReadPVELXC(fsys *rootfs.FS) ([]Guest, error) {
	gs, err := readPVE(fsys, "etc/pve/lxc", ParsePVELXC)
	if err != nil {
		return nil, err
	}
	for i := range gs {
		if gs[i].Running, _, err = populated(fsys, gs[i].Cgroup); err != nil {
			return nil, err
		}
	}
	return gs, nil
}

const (
	libvirtConfig    = "etc/libvirt/qemu"
	libvirtAutostart = "etc/libvirt/qemu/autostart"
	libvirtStatus    = "run/libvirt/qemu"
)

// ReadLibvirt reads libvirt's QEMU domains: the persistent definitions in
// /etc/libvirt/qemu/*.xml, each starting at boot when
// /etc/libvirt/qemu/autostart/<name>.xml names the same file (libvirt's
// virFileLinkPointsTo: both stat to the same inode;
// src/conf/virdomainobjlist.c:506), and the running ones in
// /run/libvirt/qemu/*.xml (domstatus; libvirt removes them when the
// domain stops, qemuProcessRemoveDomainStatus, src/qemu/qemu_process.c:118).
// A domain both running and persistent is returned once, from its status
// file (the live definition), with the persistent one's autostart; they
// are the same domain when their UUIDs match (libvirt's own key,
// virDomainObjListLoadStatus), or their names when a UUID is missing.
func ReadLibvirt(fsys *rootfs.FS) ([]Guest, error) {
	conf, err := readLibvirtDir(fsys, libvirtConfig, false)
	if err != nil {
		return nil, err
	}
	for i := range conf {
		file := path.Base(conf[i].Path)
		if conf[i].OnBoot, err = autostart(fsys, file); err != nil {
			return nil, err
		}
	}
	live, err := readLibvirtDir(fsys, libvirtStatus, true)
	if err != nil {
		return nil, err
	}
	out := live
	for _, c := range conf {
		dup := false
		for i := range live {
			if same(c, live[i]) {
				live[i].OnBoot = c.OnBoot
				dup = true
			}
		}
		if !dup {
			out = append(out, c)
		}
	}
	return out, nil
}

func same(a, b Guest) bool {
	if a.UUID != "" && b.UUID != "" {
		return strings.EqualFold(a.UUID, b.UUID)
	}
	return a.ID == b.ID
}

func readLibvirtDir(fsys *rootfs.FS, dir string, status bool) ([]Guest, error) {
	des, err := readDir(fsys, dir, MaxEntries)
	if err != nil {
		return nil, err
	}
	var out []Guest
	for _, de := range des {
		if !strings.HasSuffix(de.Name(), ".xml") || de.IsDir() {
			continue // virDomainObjListLoadAllConfigs takes "*.xml"
		}
		rel := path.Join(dir, de.Name())
		b, err := fsys.ReadFile(rel, maxXML)
		if err != nil {
			return nil, err
		}
		g, err := ParseLibvirt(bytes.NewReader(b), fsys.Path(rel))
		if err != nil {
			return nil, err
		}
		if status != g.Running {
			if status {
				return nil, fmt.Errorf("%s: a <domain>, not a <domstatus>: not a libvirt status file", fsys.Path(rel))
			}
			return nil, fmt.Errorf("%s: a <domstatus> in libvirt's config directory: not a domain definition", fsys.Path(rel))
		}
		g.Path = "/" + rel
		out = append(out, g)
	}
	return out, nil
}

// autostart reports whether the autostart link of the config file named
// file points to it: both stat, inside the root, to the same file.
func autostart(fsys *rootfs.FS, file string) (bool, error) {
	link := path.Join(libvirtAutostart, file)
	if _, err := fsys.Lstat(link); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	a, err := fsys.Stat(link)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil // a dangling link: libvirt's stat fails too
		}
		return false, err
	}
	b, err := fsys.Stat(path.Join(libvirtConfig, file))
	if err != nil {
		return false, err
	}
	return rootfs.SameFile(a, b), nil
}
