// Package initramfs finds a host's initramfs images and reads them without
// running anything: which modprobe.d files each carries (the zfs module
// options it will load with, when zfs loads from the initramfs), whether
// it holds the zfs module, and whether zfs's dracut module is installed
// (which loads zfs from the initramfs even when / is not on ZFS).
//
// An image is read as the kernel unpacks it (Linux init/initramfs.c and
// lib/decompress.c): concatenated newc cpio archives, uncompressed or
// compressed with gzip, bzip2, lzma, xz, lz4 or zstd, with well-kept
// libraries (github.com/klauspost/compress's gzip and zstd, compress/bzip2,
// github.com/ulikunitz/xz and its lzma, github.com/pierrec/lz4/v4).
// klauspost's gzip is a drop-in for compress/gzip that took 18% less CPU
// on a real image (0.62 s against 0.75 s, Debian 12's 36 MB gzip image).
// lzop has no well-kept Go reader: such an image is a clear
// ErrUnsupported. The newc headers are parsed here: of the Go cpio
// readers, github.com/cavaliergopher/cpio v1.0.1 reports an archive cut at
// a member boundary as io.EOF, the same as its TRAILER!!! (reader.go Next,
// svr4.go readSVR4Header), so a truncated image would read as whole, and
// takes a malformed hex field as 0 (svr4.go readHex); u-root's cpio comes
// with the whole u-root module. Neither walks concatenated archives with
// the zero padding between them, which the kernel does.
//
// Every image is opened through the one *rootfs.FS (confined to --root),
// its size checked before a byte is read, and every read bounded (Limits).
//
// Read also gives the image's zfs module configuration (Image.Modprobe:
// its modprobe.d read by modprobe.LoadFiles, the same ordering and parser
// as the host's) and what in it loads zfs by itself (Contents.Loads,
// loaders.go): a zfs.ko in an image only means zfs can load from it.
package initramfs

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// Builders, as their image names say.
const (
	InitramfsTools = "initramfs-tools" // /boot/initrd.img-<kver> (mkinitramfs, update-initramfs)
	Dracut         = "dracut"          // /boot/initramfs-<kver>.img (dracut; also mkinitcpio's names)
)

// maxCandidates bounds the images Find returns: a /boot with more is not a
// real one.
const maxCandidates = 64

// Candidate is an initramfs image found under /boot.
type Candidate struct {
	Path    string // under the root, e.g. "/boot/initrd.img-6.1.0-28-amd64"
	Kernel  string // the kernel release in its name
	Builder string // InitramfsTools or Dracut, from the name
	Running bool   // Kernel is the running kernel's release
}

// notImage are name endings of copies that no boot loader entry names:
// dpkg's and dkms's backups, and dracut's kdump images.
var notImage = []string{".bak", ".old", ".old-dkms", ".dpkg-bak", ".dpkg-old", ".dpkg-new", ".dpkg-tmp", ".dpkg-dist", "~", "kdump"}

// nameKernel returns the kernel release and builder an image name stands
// for: initrd.img-<kver> (initramfs-tools: mkinitramfs's update-initramfs
// writes ${BOOTDIR}/initrd.img-${version}) or initramfs-<kver>.img (dracut's
// default, dracut.sh: "${dracutsysrootdir}/boot/initramfs-${kernel}.img").
func nameKernel(name string) (kver, builder string, ok bool) {
	if k, found := strings.CutPrefix(name, "initrd.img-"); found {
		kver, builder = k, InitramfsTools
	} else if k, found := strings.CutPrefix(name, "initramfs-"); found {
		if kver, found = strings.CutSuffix(k, ".img"); !found {
			return "", "", false
		}
		builder = Dracut
	} else {
		return "", "", false
	}
	if kver == "" || strings.ContainsAny(kver, "/") {
		return "", "", false
	}
	for _, s := range notImage {
		if strings.HasSuffix(kver, s) {
			return "", "", false
		}
	}
	return kver, builder, true
}

// Find lists the initramfs images under /boot: the running kernel's first,
// then the others by kernel release, newest first (releases compared as
// sort -V does: runs of digits as numbers, the rest byte by byte), then by
// path. (The newest kernel is what a boot loader's default entry usually
// boots; the running one is what a reboot without a kernel update boots.)
// A symlink (/boot/initrd.img -> initrd.img-<kver>) is resolved inside
// the root and not listed again when it leads to an image already listed;
// /boot/initrd.img itself is not a <kver> name and is skipped. A missing
// /boot is no image and no error.
func Find(fsys *rootfs.FS, runningKernel string) ([]Candidate, error) {
	des, err := fsys.ReadDir("/boot")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []Candidate
	type found struct {
		i    int
		link bool
	}
	seen := map[string]found{}
	for _, de := range des {
		name := de.Name()
		kver, builder, ok := nameKernel(name)
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		rel := path.Join("/boot", name)
		res, err := fsys.Resolve(rel)
		if err != nil {
			continue
		}
		fi, err := fsys.Stat(rel)
		if err != nil || !fi.Mode().IsRegular() {
			continue // dangling, a directory, a device: not an image
		}
		link := de.Type()&fs.ModeSymlink != 0
		c := Candidate{Path: rel, Kernel: kver, Builder: builder, Running: kver == runningKernel && runningKernel != ""}
		if f, dup := seen[res]; dup {
			// One file under two image names: keep the real file's
			// name, not the symlink's.
			if f.link && !link {
				out[f.i] = c
				seen[res] = found{f.i, false}
			}
			continue
		}
		seen[res] = found{len(out), link}
		out = append(out, c)
		if len(out) > maxCandidates {
			return nil, fmt.Errorf("%s: more than %d initramfs images", fsys.Path("/boot"), maxCandidates)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Running != b.Running {
			return a.Running
		}
		if c := CompareVersions(a.Kernel, b.Kernel); c != 0 {
			return c > 0
		}
		return a.Path < b.Path
	})
	return out, nil
}

// CompareVersions compares two kernel releases much as sort -V does:
// runs of digits as numbers (leading zeros ignored), other runs byte by
// byte, "~" before anything, a number after letters (6.1.0-28 after
// 6.1.0-rc1). It returns -1, 0 or 1.
func CompareVersions(a, b string) int {
	for a != "" || b != "" {
		na, ra := splitRun(a)
		nb, rb := splitRun(b)
		if c := compareRun(na, nb); c != 0 {
			return c
		}
		a, b = ra, rb
	}
	return 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func splitRun(s string) (run, rest string) {
	if s == "" {
		return "", ""
	}
	d := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == d {
		i++
	}
	return s[:i], s[i:]
}

func compareRun(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		if strings.HasPrefix(b, "~") {
			return 1
		}
		return -1
	case b == "":
		if strings.HasPrefix(a, "~") {
			return -1
		}
		return 1
	}
	if isDigit(a[0]) && isDigit(b[0]) {
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	}
	if isDigit(a[0]) != isDigit(b[0]) {
		// a number is newer than letters: 6.1.0-28 after 6.1.0-rc1
		if isDigit(a[0]) {
			return 1
		}
		return -1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] == '~' {
				return -1
			}
			if b[i] == '~' {
				return 1
			}
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	if len(a) < len(b) {
		return -1
	}
	return 1
}

// Image is an initramfs image as read.
type Image struct {
	Candidate
	HostPath string    // the file on the host, for messages
	Size     int64     // bytes
	ModTime  time.Time // when the builder wrote it
	// Compressions lists the segments' compressions in order ("none" for
	// the uncompressed archives: early microcode, firmware).
	Compressions []string
	Contents     *Contents
	// Modprobe is the zfs module configuration the image's modprobe.d
	// gives a module loaded from it: its files read as modprobe reads a
	// root's (modprobe.LoadFiles), with no kernel command line.
	Modprobe *modprobe.Config
}

// Read opens the image confined to the root, refuses it before reading a
// byte when it is larger than DefaultLimits.MaxImage (a 10 GiB sparse file
// is refused at once), and parses it.
func Read(fsys *rootfs.FS, c Candidate) (*Image, error) {
	return ReadLimits(fsys, c, DefaultLimits)
}

// ReadLimits is Read with other limits.
func ReadLimits(fsys *rootfs.FS, c Candidate, lim Limits) (*Image, error) {
	lim = lim.withDefaults()
	fh, err := fsys.OpenRegular(c.Path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fsys.Path(c.Path), err)
	}
	if fi.Size() > lim.MaxImage {
		return nil, fmt.Errorf("%s: %w: %d bytes, more than %d (Limits.MaxImage); no builder writes an image that large", fsys.Path(c.Path), ErrTooLarge, fi.Size(), lim.MaxImage)
	}
	contents, err := Parse(fh, lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fsys.Path(c.Path), err)
	}
	cfg, err := modprobe.LoadFiles(fsys.Path(c.Path), contents.ModprobeFiles())
	if err != nil {
		return nil, err
	}
	return &Image{
		Modprobe:     cfg,
		Candidate:    c,
		HostPath:     fsys.Path(c.Path),
		Size:         fi.Size(),
		ModTime:      fi.ModTime(),
		Compressions: contents.Compressions(),
		Contents:     contents,
	}, nil
}

// DracutModuleDirs are where zfs's dracut module is installed: OpenZFS's
// configure takes /usr/share/dracut when it exists, else /usr/lib/dracut
// (config/user-dracut.m4 at zfs-2.3.4); its RPM spec uses /usr/lib/dracut
// on Fedora, RHEL and SUSE and /usr/share/dracut elsewhere
// (rpm/generic/zfs.spec.in:31-37); Debian's openzfs-zfs-dracut installs
// usr/lib/dracut (contrib/debian/openzfs-zfs-dracut.install); /lib/dracut
// is the same directory on a merged /usr and the older place otherwise.
var DracutModuleDirs = []string{
	"/usr/lib/dracut/modules.d/90zfs",
	"/usr/share/dracut/modules.d/90zfs",
	"/lib/dracut/modules.d/90zfs",
}

// DracutZFS says whether zfs's dracut module (90zfs) is installed, and
// where. When it is, every image dracut builds loads zfs early, whether or
// not / is on ZFS: its check() only asks for the zfs tools
// (contrib/dracut/90zfs/module-setup.sh.in:4-12 at zfs-2.3.4), its
// installkernel() puts the module in the image (instmods -c zfs, :19), and
// its install() adds 90-zfs.rules (:23), whose rule runs "/sbin/modprobe
// zfs" as soon as udev sees a block device holding a pool member
// (udev/rules.d/90-zfs.rules.in:4-5, ID_FS_TYPE zfs_member) - in the
// initramfs, with the image's modprobe.d.
func DracutZFS(fsys *rootfs.FS) (installed bool, where string, err error) {
	for _, d := range DracutModuleDirs {
		fi, err := fsys.Stat(path.Join(d, "module-setup.sh"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || isNotDir(err) {
				continue
			}
			return false, "", err
		}
		if fi.Mode().IsRegular() {
			return true, d, nil
		}
	}
	return false, "", nil
}

func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

// ModprobeFiles are the image's modprobe configuration files as
// modprobe.LoadFiles takes them.
func (c *Contents) ModprobeFiles() []modprobe.File {
	out := make([]modprobe.File, len(c.Modprobe))
	for i, f := range c.Modprobe {
		out[i] = modprobe.File{Path: f.Path, Resolved: f.Resolved, Regular: !f.Missing, Data: f.Data}
	}
	return out
}
