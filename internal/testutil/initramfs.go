package testutil

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Initramfs images for the tests: hand-made newc archives (Newc), and real
// ones built by the real builders from Debian's packages (Builder:
// initramfs-tools' mkinitramfs, dracut) for a fake kernel.

// CpioMember is a member of a hand-made newc archive.
type CpioMember struct {
	Name   string
	Mode   uint32 // type and permissions; 0 means a regular file 0644
	Body   string // content, or the symlink's target
	Ino    uint32 // 0: a fresh one
	Nlink  uint32 // 0: 1
	CRC    bool   // 070702 with the checksum of Body
	BadCRC bool   // 070702 with a wrong checksum
}

// Member modes: the file type bits of stat(2) and the permissions.
const (
	CpioFile = 0o100000 | 0o644
	CpioDir  = 0o040000 | 0o755
	CpioLink = 0o120000 | 0o777
)

// Newc writes a newc archive of ms and its TRAILER!!!, padded to 4 bytes,
// as cpio(5) "New ASCII Format" lays it out (each header 110 bytes, the
// name with its NUL padded to 4, the body padded to 4).
func Newc(ms ...CpioMember) []byte {
	var b bytes.Buffer
	ino := uint32(100)
	write := func(m CpioMember) {
		mode := m.Mode
		if mode == 0 {
			mode = CpioFile
		}
		if m.Ino == 0 {
			ino++
			m.Ino = ino
		}
		if m.Nlink == 0 {
			m.Nlink = 1
		}
		magic, check := "070701", uint32(0)
		if m.CRC || m.BadCRC {
			magic = "070702"
			for _, c := range []byte(m.Body) {
				check += uint32(c)
			}
			if m.BadCRC {
				check++
			}
		}
		fmt.Fprintf(&b, "%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
			magic, m.Ino, mode, 0, 0, m.Nlink, 1700000000, len(m.Body), 0, 0, 0, 0, len(m.Name)+1, check)
		b.WriteString(m.Name)
		b.WriteByte(0)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.WriteString(m.Body)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	for _, m := range ms {
		write(m)
	}
	write(CpioMember{Name: "TRAILER!!!", Ino: 0xffffffff})
	return b.Bytes()
}

// Gzip compresses b with compress/gzip.
func Gzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Compress runs a compressor program (a real one, from its Debian
// package: see Tool) on b.
func Compress(t testing.TB, tool string, args []string, pkg string, b []byte) []byte {
	t.Helper()
	p := Tool(t, tool, pkg)
	cmd := exec.Command(p, args...)
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v", tool, args, err)
	}
	return out
}

// FakeKernel is the kernel release Builder builds for by default.
const FakeKernel = "6.1.0-arcadvise-amd64"

// BuilderTools are the programs Builder runs, with their Debian
// packages: a test checks them with Tool (skip, or fail under CI) before
// NewBuilder.
var BuilderTools = [][2]string{{"unshare", "util-linux"}, {"depmod", "kmod"}, {"cpio", "cpio"}}

// Builder runs the real initramfs builders for a fake kernel: a module
// tree with a placeholder zfs.ko (depmod'ed, so that the builders' module
// lookups find it), no kernel image needed. mkinitramfs and dracut read
// the host's /etc/modprobe.d; each build runs in a private mount namespace
// (unshare) where the test's directory is bind-mounted over
// /etc/modprobe.d, and an empty one (or the test's) over
// /usr/lib/modprobe.d, so that only the test's configuration goes in and
// the real /etc is never written. mkinitramfs also wants
// /boot/config-<kver> (bind-mounted the same way) and /lib/modules/<kver>
// (no such option exists for it: a read-only overlay on /usr/lib adds the
// fake tree). It needs root (or user namespaces).
type Builder struct {
	Kernel  string
	dir     string // work directory
	boot    string // bound over /boot
	mods    string // the fake root of the module tree: mods/lib/modules/<kver>
	empty   string // an empty modprobe.d
	unshare string
}

// NewBuilder prepares a fake kernel kver ("" for FakeKernel) in dir.
func NewBuilder(dir, kver string) (*Builder, error) {
	if kver == "" {
		kver = FakeKernel
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return nil, err
	}
	depmod, err := exec.LookPath("depmod")
	if err != nil {
		return nil, err
	}
	b := &Builder{Kernel: kver, dir: dir, boot: filepath.Join(dir, "boot"), mods: filepath.Join(dir, "mods"),
		empty: filepath.Join(dir, "empty-modprobe.d"), unshare: unshare}
	files := map[string]string{
		// mkinitramfs checks the kernel's CONFIG_RD_* for the compression
		// and falls back to gzip without it (mkinitramfs: the
		// kconfig_sym loop).
		"boot/config-" + kver:                               "CONFIG_RD_GZIP=y\nCONFIG_RD_BZIP2=y\nCONFIG_RD_LZMA=y\nCONFIG_RD_XZ=y\nCONFIG_RD_LZO=y\nCONFIG_RD_LZ4=y\nCONFIG_RD_ZSTD=y\n",
		"mods/lib/modules/" + kver + "/updates/dkms/zfs.ko": "a placeholder for zfs.ko: the builders copy it, nothing loads it\n",
		"empty-modprobe.d/.keep":                            "",
	}
	for rel, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	if out, err := exec.Command(depmod, "-b", b.mods, kver).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("depmod: %v\n%s", err, out)
	}
	return b, nil
}

// ModuleTree is the fake kernel's module directory (for dracut --kmoddir).
func (b *Builder) ModuleTree() string { return filepath.Join(b.mods, "lib/modules", b.Kernel) }

// run runs script in a private mount namespace with /etc/modprobe.d
// replaced by modprobeD, and returns its output.
func (b *Builder) run(modprobeD, script string) (string, error) {
	args := []string{"--mount", "--propagation", "private"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user")
	}
	full := "set -e\nmount --bind " + modprobeD + " /etc/modprobe.d\n" + script
	cmd := exec.Command(b.unshare, append(args, "sh", "-c", full)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%v\n%s\n%s", err, full, out)
	}
	return string(out), nil
}

// Mkinitramfs says how to build an image with initramfs-tools.
type Mkinitramfs struct {
	Out       string // the image to write
	ModprobeD string // bound over /etc/modprobe.d while building
	// LibModprobeD is bound over /usr/lib/modprobe.d (= /lib/modprobe.d
	// on a merged /usr): "" binds an empty directory.
	LibModprobeD string
	Compress     string // mkinitramfs -c: gzip, bzip2, lz4, lzma, lzop, xz, zstd ("" for gzip)
	// Modules is the initramfs-tools modules file (initramfs.conf
	// MODULES=list takes only it): "zfs\n" makes the image's init load
	// zfs (conf/modules).
	Modules string
	// ZFSHook adds a hook that puts the zfs module in the image the way
	// zfs-initramfs's does (manual_add_modules zfs,
	// contrib/initramfs/hooks/zfs.in:50 at zfs-2.3.4), without making
	// anything load it.
	ZFSHook bool
	// EarlyMicrocode prepends an uncompressed archive the way the
	// microcode packages do (a hook calling prepend_earlyinitramfs).
	EarlyMicrocode bool
}

// Mkinitramfs builds an image with initramfs-tools' mkinitramfs for the
// fake kernel, and returns mkinitramfs's output.
func (b *Builder) Mkinitramfs(o Mkinitramfs) (string, error) {
	mk, err := exec.LookPath("mkinitramfs")
	if err != nil {
		return "", err
	}
	conf, err := os.MkdirTemp(b.dir, "initramfs-tools-")
	if err != nil {
		return "", err
	}
	files := map[string]string{
		// initramfs.conf(5)
		"initramfs.conf": "MODULES=list\nBUSYBOX=n\nKEYMAP=n\nCOMPRESS=gzip\nDEVICE=\nNFSROOT=auto\nRUNSIZE=10%\nFSTYPE=auto\n",
		"modules":        o.Modules,
		"conf.d/.keep":   "",
		"scripts/.keep":  "",
		"hooks/.keep":    "",
	}
	if o.ZFSHook {
		files["hooks/zfs"] = "#!/bin/sh\n[ \"$1\" = prereqs ] && exit 0\n. /usr/share/initramfs-tools/hook-functions\nmanual_add_modules zfs\n"
	}
	if o.EarlyMicrocode {
		files["ucode/kernel/x86/microcode/AuthenticAMD.bin"] = strings.Repeat("\x5a\xa5", 3000)
		files["hooks/early-ucode"] = "#!/bin/sh\n[ \"$1\" = prereqs ] && exit 0\n. /usr/share/initramfs-tools/hook-functions\n" +
			"cpio=$(mktemp)\n(cd " + filepath.Join(conf, "ucode") + " && find . | LC_ALL=C sort | cpio --quiet -o -H newc > \"$cpio\")\n" +
			"prepend_earlyinitramfs \"$cpio\"\nrm -f \"$cpio\"\n"
	}
	for rel, body := range files {
		p := filepath.Join(conf, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return "", err
	}
	comp := o.Compress
	if comp == "" {
		comp = "gzip"
	}
	lib := o.LibModprobeD
	if lib == "" {
		lib = b.empty
	}
	return b.run(o.ModprobeD, "mount --bind "+b.boot+" /boot\n"+
		"mount -t overlay overlay -o lowerdir="+filepath.Join(b.mods, "lib")+":/usr/lib /usr/lib\n"+
		"mount --bind "+lib+" /usr/lib/modprobe.d\n"+
		mk+" -d "+conf+" -c "+comp+" -o "+o.Out+" "+b.Kernel+"\n")
}

// Dracut says how to build an image with dracut.
type Dracut struct {
	Out       string // the image to write
	ModprobeD string // bound over /etc/modprobe.d while building
	// Args are dracut's options besides the kernel, the module tree and
	// the output (e.g. --hostonly, --compress=zstd, --force-drivers zfs).
	Args []string
}

// Dracut builds a host-only image of the kernel-modules module with the
// zfs module in it (as 90zfs's installkernel puts it), and returns
// dracut's output.
func (b *Builder) Dracut(o Dracut) (string, error) {
	dracut, err := exec.LookPath("dracut")
	if err != nil {
		return "", err
	}
	confdir, err := os.MkdirTemp(b.dir, "dracut.conf.d-")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return "", err
	}
	return b.run(o.ModprobeD, "mount --bind "+b.empty+" /usr/lib/modprobe.d\n"+
		dracut+" --kver "+b.Kernel+" --kmoddir "+b.ModuleTree()+
		" --confdir "+confdir+" --conf /dev/null -m kernel-modules --add-drivers zfs --no-early-microcode --nostrip "+
		strings.Join(o.Args, " ")+" --force "+o.Out+"\n")
}
