package initramfs

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// What in an image loads the zfs module by itself, whatever the root file
// system (a zfs.ko in the image only means that it can load from it):
//
//   - initramfs-tools: every line of /conf/modules, which mkinitramfs
//     writes from /etc/initramfs-tools/modules and the hooks' force_load
//     (hook-functions: force_load appends "${@}" to ${DESTDIR}/conf/modules),
//     and which the image's init loads first (scripts/functions
//     load_modules: "/sbin/modprobe $m" for each line that is not a
//     comment; init calls it before mounting root). zfs-initramfs does not
//     put zfs there: its hook only copies the module (manual_add_modules
//     zfs, contrib/initramfs/hooks/zfs.in:50 at zfs-2.3.4), and its boot
//     script loads it only for a root on ZFS (conf.d/zfs sets BOOT=zfs for
//     root=ZFS=... or root=zfs:...).
//   - dracut's 90zfs: its 90-zfs.rules runs "/sbin/modprobe zfs" when udev
//     sees a device of a pool (udev/rules.d/90-zfs.rules.in:4-5,
//     ID_FS_TYPE zfs_member), which the initramfs's udev does at boot; any
//     udev rule in the image that runs modprobe zfs counts the same.
//   - dracut's force_drivers (--force-drivers, force_drivers+= in
//     dracut.conf): dracut writes rd.driver.pre=zfs into
//     /etc/cmdline.d/20-force_drivers.conf (dracut.sh, 059: "echo
//     rd.driver.pre=$mod >> $initdir/etc/cmdline.d/20-force_drivers.conf")
//     and loads it before udev starts.
//   - systemd in the image: systemd-modules-load loads what
//     modules-load.d(5) lists, when the image has it.
//
// A root on ZFS loads zfs from the initramfs whatever the image says (the
// boot script must import the pool to mount /): the caller knows that
// from the mount table.

// udevRuleDirs are udev's rules directories, the first holding a name
// winning (udev(7): files in /etc take precedence over /run, which takes
// precedence over /usr/lib; a link to /dev/null masks).
var udevRuleDirs = []string{"etc/udev/rules.d", "run/udev/rules.d", "usr/lib/udev/rules.d", "lib/udev/rules.d"}

// modulesLoadDirs are modules-load.d(5)'s directories, in the same
// precedence.
var modulesLoadDirs = []string{"etc/modules-load.d", "run/modules-load.d", "usr/lib/modules-load.d", "lib/modules-load.d"}

// modulesLoadBinaries are where systemd-modules-load is in an image.
var modulesLoadBinaries = []string{"usr/lib/systemd/systemd-modules-load", "lib/systemd/systemd-modules-load"}

// maxLoads bounds the evidence listed.
const maxLoads = 16

// isLoaderPath: a member whose body the loaders need kept (beside what is
// under etc/ and named *.conf, which is kept anyway).
func isLoaderPath(n string) bool {
	if n == "conf/modules" {
		return true
	}
	if !strings.HasSuffix(n, ".rules") {
		return false
	}
	d := path.Dir(n)
	for _, u := range udevRuleDirs {
		if d == u {
			return true
		}
	}
	return false
}

var modprobeZFS = regexp.MustCompile(`\bmodprobe(\s+-[-a-zA-Z]+)*\s+zfs\b`)

// loaders lists what in the image loads zfs.
func (p *parser) loaders() []string {
	var out []string
	add := func(s string) {
		if len(out) < maxLoads {
			out = append(out, s)
		}
	}
	if body, ok := p.body("conf/modules"); ok {
		for i, l := range strings.Split(string(body), "\n") {
			f := strings.Fields(l)
			if len(f) == 0 || strings.HasPrefix(f[0], "#") {
				continue
			}
			if strings.ReplaceAll(f[0], "-", "_") == "zfs" {
				add(fmt.Sprintf("/conf/modules:%d lists zfs (initramfs-tools' init loads each module listed there before it mounts /)", i+1))
			}
		}
	}
	for _, n := range p.dirFiles([]string{"etc/cmdline.d"}, ".conf") {
		body, _ := p.body(n)
		for i, l := range strings.Split(string(body), "\n") {
			for _, w := range strings.Fields(l) {
				v, ok := strings.CutPrefix(w, "rd.driver.pre=")
				if !ok {
					continue
				}
				for _, m := range strings.Split(strings.Trim(v, `"`), ",") {
					if strings.ReplaceAll(m, "-", "_") == "zfs" {
						add(fmt.Sprintf("/%s:%d sets rd.driver.pre=zfs (dracut loads it before udev starts: force_drivers)", n, i+1))
					}
				}
			}
		}
	}
	systemd := false
	for _, b := range modulesLoadBinaries {
		if p.present[b] {
			systemd = true
		}
	}
	if systemd {
		for _, n := range p.dirFiles(modulesLoadDirs, ".conf") {
			body, _ := p.body(n)
			for i, l := range strings.Split(string(body), "\n") {
				l = strings.TrimSpace(l)
				if l == "" || l[0] == '#' || l[0] == ';' {
					continue
				}
				if strings.ReplaceAll(l, "-", "_") == "zfs" {
					add(fmt.Sprintf("/%s:%d lists zfs (systemd-modules-load loads it in the initramfs)", n, i+1))
				}
			}
		}
	}
	for _, n := range p.dirFiles(udevRuleDirs, ".rules") {
		body, _ := p.body(n)
		lines := strings.Split(string(body), "\n")
		for i := 0; i < len(lines); i++ {
			first := i
			l := lines[i]
			for strings.HasSuffix(l, "\\") && i+1 < len(lines) {
				i++
				l = l[:len(l)-1] + lines[i]
			}
			t := strings.TrimSpace(l)
			if t == "" || t[0] == '#' || !strings.Contains(t, "RUN") || !modprobeZFS.MatchString(t) {
				continue
			}
			add(fmt.Sprintf("/%s:%d runs modprobe zfs (udev runs it in the initramfs when the rule matches: zfs's dracut module installs 90-zfs.rules, which matches a disk holding a pool)", n, first+1))
		}
	}
	return out
}

// body returns the content of the regular file at n (an image path
// without the leading /), following the image's symlinks.
func (p *parser) body(n string) ([]byte, bool) {
	res, ok := p.resolve(n)
	if !ok {
		return nil, false
	}
	b, ok := p.files[res]
	return b, ok
}

// dirFiles lists the entries named *suffix of dirs, the first directory
// holding a name winning (a later one's file of that name is not used),
// by name; a directory reached twice (lib -> usr/lib) is taken once.
// Entries whose target is not a kept regular file (a mask, a link to
// /dev/null) hide their name and are left out.
func (p *parser) dirFiles(dirs []string, suffix string) []string {
	seenDir := map[string]bool{}
	seenName := map[string]bool{}
	var out []string
	for _, d := range dirs {
		rd, ok := p.resolve(d)
		if !ok || seenDir[rd] {
			continue
		}
		seenDir[rd] = true
		var names []string
		for n := range p.files {
			if path.Dir(n) == rd && strings.HasSuffix(n, suffix) {
				names = append(names, path.Base(n))
			}
		}
		for n := range p.links {
			if path.Dir(n) == rd && strings.HasSuffix(n, suffix) {
				names = append(names, path.Base(n))
			}
		}
		sort.Strings(names)
		for _, name := range names {
			if seenName[name] {
				continue
			}
			seenName[name] = true
			if _, ok := p.body(rd + "/" + name); ok {
				out = append(out, rd+"/"+name)
			}
		}
	}
	return out
}
