// Package bootsteps says what an admin must do, on this host, after
// changing the zfs module options in /etc/modprobe.d, for them to take
// effect: rebuild the initramfs or not (and with which command), reboot,
// then check.
//
// Module options apply only when the module loads. When root is on ZFS the
// module loads inside the initramfs, from the copy of /etc/modprobe.d the
// initramfs builder took: initramfs-tools' mkinitramfs copies
// /etc/modprobe.d/*.conf and /lib/modprobe.d/*.conf, dracut's
// 90kernel-modules copies /etc/modprobe.d/*.conf in host-only images,
// mkinitcpio's modconf hook copies /etc/modprobe.d/*.conf. The image must
// then be rebuilt (pve-docs local-zfs.adoc: "If your root file system is
// ZFS, you must update your initramfs every time this value changes").
// Otherwise zfs loads later from the real root and reads /etc/modprobe.d
// there.
//
// Plan decides that the initramfs matters when / is a zfs mount in
// proc/mounts, when a word "zfs" appears outside comments in a file
// that makes the initramfs load the module: etc/initramfs-tools/modules,
// etc/initramfs-tools/conf.d/*, etc/dracut.conf, etc/dracut.conf.d/*.conf,
// etc/mkinitcpio.conf or etc/mkinitcpio.conf.d/*.conf, or on the
// Evidence the caller found: zfs's dracut module installed (90zfs: every
// image dracut builds then loads zfs through its udev rule, whether or
// not / is on ZFS), and what the host's images themselves hold
// (internal/initramfs: /conf/modules, a udev rule, rd.driver.pre).
package bootsteps

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/arcadvise/arcadvise/internal/osinfo"
	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// Rebuild commands per family (zfs-internals.md §6.1, §6.3).
const (
	RebuildDebian = "update-initramfs -u -k all"
	RebuildDracut = "dracut -f"
	RebuildArch   = "mkinitcpio -P"
)

// Steps is what to do after writing new zfs module options.
type Steps struct {
	Distro osinfo.Distro
	// InitramfsNeeded says the initramfs carries a copy of the options and
	// must be rebuilt before the reboot.
	InitramfsNeeded bool
	// Why explains InitramfsNeeded, naming what was found.
	Why string
	// Reasons are what says zfs loads from the initramfs, one each (none
	// when it does not).
	Reasons []string
	// RebuildCommand rebuilds the initramfs on this distribution; empty
	// when not needed or when the distribution is not known (see Notes).
	RebuildCommand string
	// Reboot is the command that makes the module load again with the new
	// options.
	Reboot string
	// Verify are commands to run after the reboot.
	Verify []string
	// Notes are caveats for this host.
	Notes []string
}

// Verify commands: what was passed to the module, what the ARC uses, and
// the check of the whole configuration.
var verifyCommands = []string{
	"cat /sys/module/zfs/parameters/zfs_arc_max",
	`awk '$1 == "c_max" {print $3}' /proc/spl/kstat/zfs/arcstats`,
	"arcadvise --check",
}

// initramfsConfigs are the files, under root, whose mention of zfs makes
// the initramfs load the module (globs as path.Match patterns).
var initramfsConfigs = []string{
	"/etc/initramfs-tools/modules",
	"/etc/initramfs-tools/conf.d/*",
	"/etc/dracut.conf",
	"/etc/dracut.conf.d/*.conf",
	"/etc/mkinitcpio.conf",
	"/etc/mkinitcpio.conf.d/*.conf",
}

var zfsWord = regexp.MustCompile(`\bzfs\b`)

// Evidence is what else says the zfs module loads from the initramfs,
// besides the root file system and the initramfs configuration Plan
// reads.
type Evidence struct {
	// DracutZFS is where zfs's dracut module is installed
	// (internal/initramfs.DracutZFS), "" when it is not.
	DracutZFS string
	// Images say what in the host's images loads zfs, one line each,
	// naming the image.
	Images []string
}

// Plan works out the steps for the host under the root, whose
// distribution and mount table the caller read (internal/osinfo). It reads
// the initramfs configuration files listed in the package documentation.
// Missing files are not errors.
func Plan(fsys *rootfs.FS, d osinfo.Distro, mounts osinfo.Mounts, ev Evidence) (Steps, error) {
	st := Steps{Distro: d}
	var reasons []string
	rootDesc := ""
	if root, ok := mounts.On("/"); ok {
		rootDesc = fmt.Sprintf("root file system is %s (/proc/mounts: %s on /)", root.Type, root.Source)
		if root.Type == "zfs" {
			reasons = append(reasons, rootDesc)
		}
	} else if !mounts.Read {
		st.Notes = append(st.Notes, "/proc/mounts is missing: cannot tell whether / is on zfs")
	} else {
		st.Notes = append(st.Notes, "/proc/mounts lists no file system on /: cannot tell whether / is on zfs")
	}
	mentions, err := zfsInInitramfsConfig(fsys)
	if err != nil {
		return Steps{}, err
	}
	reasons = append(reasons, mentions...)
	if ev.DracutZFS != "" {
		// contrib/dracut/90zfs/module-setup.sh.in at zfs-2.3.4: check()
		// asks only for the zfs tools, install() adds 90-zfs.rules, whose
		// rule runs modprobe zfs for a pool's disk
		// (udev/rules.d/90-zfs.rules.in:4-5).
		reasons = append(reasons, fmt.Sprintf("zfs's dracut module is installed (%s): every image dracut builds loads zfs through its udev rule, whatever the root file system", ev.DracutZFS))
	}
	reasons = append(reasons, ev.Images...)

	st.Reboot = "reboot"
	st.Verify = append([]string(nil), verifyCommands...)
	if len(reasons) == 0 {
		st.Why = "the zfs module loads after boot from the root file system and reads /etc/modprobe.d then: no initramfs rebuild needed"
		if rootDesc != "" {
			st.Why = rootDesc + " and no initramfs configuration mentions zfs: " + st.Why
		}
		if d.Family() == osinfo.FamilyNixOS {
			st.Notes = append(st.Notes, nixosNote)
		}
		return st, nil
	}
	st.InitramfsNeeded, st.Reasons = true, reasons
	st.Why = strings.Join(reasons, "; ") + ": the zfs module loads from the initramfs, which holds its own copy of /etc/modprobe.d made when it was built"
	switch d.Family() {
	case osinfo.FamilyDebian:
		st.RebuildCommand = RebuildDebian
	case osinfo.FamilyDracut:
		st.RebuildCommand = RebuildDracut
		st.Notes = append(st.Notes,
			"dracut copies /etc/modprobe.d into host-only images only (Fedora's default); with a generic image, set zfs.zfs_arc_max= on the kernel command line instead",
			"dracut -f rebuilds the image of the running kernel; run dracut -f --regenerate-all if other kernels are installed")
	case osinfo.FamilyArch:
		st.RebuildCommand = RebuildArch
	case osinfo.FamilyNixOS:
		st.Notes = append(st.Notes, nixosNote)
	default:
		what := "this distribution"
		if d.Name != "" {
			what = d.Name
		} else if d.ID != "" {
			what = d.ID
		}
		st.Notes = append(st.Notes, fmt.Sprintf("arcadvise does not know how %s rebuilds its initramfs: use its tool, e.g. %s (Debian, Ubuntu, Proxmox), %s (Fedora, RHEL) or %s (Arch)",
			what, RebuildDebian, RebuildDracut, RebuildArch))
	}
	return st, nil
}

// maxSmall bounds a configuration file Plan reads.
const maxSmall = 1 << 20

const nixosNote = "NixOS generates /etc/modprobe.d and the initrd from configuration.nix: set boot.extraModprobeConfig (or boot.kernelParams) there and run nixos-rebuild boot"

// IsNixOS reports whether the root is a NixOS system (ID=nixos in
// os-release, or /etc/NIXOS, which NixOS creates at activation): there
// /etc/modprobe.d is generated from the system configuration
// (boot.extraModprobeConfig), and a file written into it is lost or
// refused.
func IsNixOS(fsys *rootfs.FS, d osinfo.Distro) bool {
	if d.ID == "nixos" {
		return true
	}
	_, err := fsys.Lstat("etc/NIXOS")
	return err == nil
}

// zfsInInitramfsConfig lists "path:line mentions zfs" for every line of the
// initramfs configuration files that names zfs outside a comment.
func zfsInInitramfsConfig(fsys *rootfs.FS) ([]string, error) {
	var out []string
	for _, pattern := range initramfsConfigs {
		dir, glob := path.Split(pattern)
		des, err := fsys.ReadDir(dir)
		if err != nil {
			continue // no such directory (or not one): nothing configured there
		}
		var matches []string
		for _, de := range des {
			if ok, _ := path.Match(glob, de.Name()); ok {
				matches = append(matches, path.Join(dir, de.Name()))
			}
		}
		sort.Strings(matches)
		for _, m := range matches {
			data, err := fsys.ReadFile(m, maxSmall)
			if errors.Is(err, rootfs.ErrNotRegular) || errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			admin := m
			for i, line := range strings.Split(string(data), "\n") {
				if zfsWord.MatchString(stripComment(line)) {
					out = append(out, fmt.Sprintf("%s:%d mentions zfs (%s)", admin, i+1, strings.TrimSpace(line)))
					break
				}
			}
		}
	}
	return out, nil
}

// stripComment drops a shell comment: from a '#' at the start of the line
// or after a blank.
func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}
