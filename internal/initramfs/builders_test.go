package initramfs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// The real builders, run by the tests on a fake kernel: a module tree with
// a placeholder zfs.ko (depmod'ed, so that the builders' module lookups
// find it), no kernel image needed. mkinitramfs and dracut read the host's
// /etc/modprobe.d; each build runs in a private mount namespace (unshare)
// where a temporary directory is bind-mounted over /etc/modprobe.d, so the
// real /etc is never written. mkinitramfs also wants /boot/config-<kver>
// (bind-mounted the same way) and /lib/modules/<kver> (no such option
// exists for it: a read-only overlay on /usr/lib adds the fake tree).

const fakeKernel = "6.1.0-arcadvise-amd64"

// builderZFSConf sets the three values the tests look for: 4 GiB, 1 GiB and
// 512 MiB.
const builderZFSConf = "# set by the arcadvise tests\noptions zfs zfs_arc_max=4294967296 zfs_arc_min=1073741824\noptions zfs zfs_arc_sys_free=536870912\n"

type buildEnv struct {
	dir      string // the test's temporary directory
	modprobe string // bound over /etc/modprobe.d
	boot     string // bound over /boot
	mods     string // the fake root of the module tree: mods/lib/modules/<kver>
	unshare  string
}

func newBuildEnv(t *testing.T) *buildEnv {
	t.Helper()
	e := &buildEnv{dir: t.TempDir(), unshare: testutil.Tool(t, "unshare", "util-linux")}
	depmod := testutil.Tool(t, "depmod", "kmod")
	testutil.Tool(t, "cpio", "cpio")
	e.modprobe = filepath.Join(e.dir, "modprobe.d")
	e.boot = filepath.Join(e.dir, "boot")
	e.mods = filepath.Join(e.dir, "mods")
	testutil.WriteTree(t, e.dir, map[string]string{
		"modprobe.d/zfs.conf": builderZFSConf,
		// mkinitramfs checks the kernel's CONFIG_RD_* for the compression
		// and falls back to gzip without it (mkinitramfs: the
		// kconfig_sym loop).
		"boot/config-" + fakeKernel:                               "CONFIG_RD_GZIP=y\nCONFIG_RD_BZIP2=y\nCONFIG_RD_LZMA=y\nCONFIG_RD_XZ=y\nCONFIG_RD_LZO=y\nCONFIG_RD_LZ4=y\nCONFIG_RD_ZSTD=y\n",
		"mods/lib/modules/" + fakeKernel + "/updates/dkms/zfs.ko": "a placeholder for zfs.ko: the builders copy it, nothing loads it\n",
	})
	out, err := exec.Command(depmod, "-b", e.mods, fakeKernel).CombinedOutput()
	if err != nil {
		t.Fatalf("depmod: %v\n%s", err, out)
	}
	return e
}

// run runs script in a private mount namespace with /etc/modprobe.d
// replaced, and returns its output.
func (e *buildEnv) run(t *testing.T, script string) {
	t.Helper()
	args := []string{"--mount", "--propagation", "private"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user")
	}
	full := "set -e\nmount --bind " + e.modprobe + " /etc/modprobe.d\n" + script
	cmd := exec.Command(e.unshare, append(args, "sh", "-c", full)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, full, out)
	}
	t.Logf("built in %v", time.Since(start).Round(10*time.Millisecond))
}

// checkImage reads the one image under root/boot and checks what the test
// put in it.
func checkImage(t *testing.T, root string, before time.Time, wantComp []string, wantZFS string) {
	t.Helper()
	fsys := openRoot(t, root)
	cands, err := Find(fsys, fakeKernel)
	if err != nil || len(cands) != 1 || !cands[0].Running {
		t.Fatalf("Find: %+v, %v", cands, err)
	}
	start := time.Now()
	img, err := Read(fsys, cands[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes, %v, %d members, %d unpacked, read in %v", cands[0].Path, img.Size, img.Compressions, img.Contents.Members, img.Contents.Unpacked, time.Since(start).Round(time.Millisecond))
	if d := cmp.Diff(wantComp, img.Compressions); d != "" {
		t.Errorf("compressions (-want +got)\n%s", d)
	}
	if img.ModTime.Before(before.Add(-2*time.Second)) || img.ModTime.After(time.Now()) {
		t.Errorf("ModTime %v, not the build's time (after %v)", img.ModTime, before)
	}
	var conf *File
	for i, f := range img.Contents.Modprobe {
		if f.Path == "/etc/modprobe.d/zfs.conf" {
			conf = &img.Contents.Modprobe[i]
		}
	}
	if conf == nil {
		t.Fatalf("no /etc/modprobe.d/zfs.conf among %+v", img.Contents.Modprobe)
	}
	if string(conf.Data) != builderZFSConf {
		t.Errorf("zfs.conf in the image is %q, want %q", conf.Data, builderZFSConf)
	}
	// The values inside, as the modprobe reader takes them: 4 GiB =
	// 4 x 1024^3 = 4294967296, 1 GiB = 1073741824, 512 MiB = 536870912.
	settings, _, err := modprobe.ParseFile(conf.Path, strings.NewReader(string(conf.Data)))
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, s := range settings {
		vals = append(vals, s.Param+"="+s.Value+"@"+s.Where())
	}
	want := []string{
		"zfs_arc_max=4294967296@/etc/modprobe.d/zfs.conf:2",
		"zfs_arc_min=1073741824@/etc/modprobe.d/zfs.conf:2",
		"zfs_arc_sys_free=536870912@/etc/modprobe.d/zfs.conf:3",
	}
	if d := cmp.Diff(want, vals); d != "" {
		t.Errorf("settings (-want +got)\n%s", d)
	}
	if d := cmp.Diff([]string{wantZFS}, img.Contents.ZFSModules); d != "" {
		t.Errorf("zfs modules (-want +got)\n%s", d)
	}
	found := false
	for _, k := range img.Contents.Kernels {
		found = found || k == fakeKernel
	}
	if !found {
		t.Errorf("kernels %v, want %s among them", img.Contents.Kernels, fakeKernel)
	}
}

// TestMkinitramfs builds an image with initramfs-tools' mkinitramfs for each
// compression it offers (COMPRESS=, mkinitramfs -c), with an early
// uncompressed archive made the way the microcode packages make theirs
// (a hook calling prepend_earlyinitramfs), and reads it back.
func TestMkinitramfs(t *testing.T) {
	mk := testutil.Tool(t, "mkinitramfs", "initramfs-tools-core")
	testutil.Tool(t, "linux-version", "linux-base")
	e := newBuildEnv(t)
	conf := filepath.Join(e.dir, "initramfs-tools")
	testutil.WriteTree(t, conf, map[string]string{
		// initramfs.conf(5); MODULES=list takes only the modules file.
		"initramfs.conf": "MODULES=list\nBUSYBOX=n\nKEYMAP=n\nCOMPRESS=gzip\nDEVICE=\nNFSROOT=auto\nRUNSIZE=10%\nFSTYPE=auto\n",
		"modules":        "zfs\n",
		"conf.d/.keep":   "",
		"scripts/.keep":  "",
		"ucode/kernel/x86/microcode/AuthenticAMD.bin": strings.Repeat("\x5a\xa5", 3000),
		"hooks/early-ucode": "#!/bin/sh\n[ \"$1\" = prereqs ] && exit 0\n. /usr/share/initramfs-tools/hook-functions\n" +
			"cpio=$(mktemp)\n(cd " + filepath.Join(conf, "ucode") + " && find . | LC_ALL=C sort | cpio --quiet -o -H newc > \"$cpio\")\n" +
			"prepend_earlyinitramfs \"$cpio\"\nrm -f \"$cpio\"\n",
	})
	if err := os.Chmod(filepath.Join(conf, "hooks/early-ucode"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ comp, tool, pkg, segment string }{
		{"gzip", "gzip", "gzip", "gzip"},
		{"bzip2", "bzip2", "bzip2", "bzip2"},
		{"lz4", "lz4", "lz4", "lz4"},
		{"lzma", "lzma", "xz-utils", "lzma"},
		{"lzop", "lzop", "lzop", ""},
		{"xz", "xz", "xz-utils", "xz"},
		{"zstd", "zstd", "zstd", "zstd"},
	} {
		t.Run(tc.comp, func(t *testing.T) {
			// mkinitramfs falls back to gzip when the program is missing:
			// the compression read back says whether it did.
			testutil.Tool(t, tc.tool, tc.pkg)
			root := filepath.Join(e.dir, "root-"+tc.comp)
			out := filepath.Join(root, "boot", "initrd.img-"+fakeKernel)
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			e.run(t, "mount --bind "+e.boot+" /boot\n"+
				"mount -t overlay overlay -o lowerdir="+filepath.Join(e.mods, "lib")+":/usr/lib /usr/lib\n"+
				mk+" -d "+conf+" -c "+tc.comp+" -o "+out+" "+fakeKernel+"\n")
			if tc.segment == "" {
				fsys := openRoot(t, root)
				cands, err := Find(fsys, fakeKernel)
				if err != nil || len(cands) != 1 {
					t.Fatalf("Find: %v %v", cands, err)
				}
				_, err = Read(fsys, cands[0])
				if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "unsupported compression lzop") {
					t.Fatalf("err = %v, want unsupported lzop", err)
				}
				return
			}
			checkImage(t, root, before, []string{"none", tc.segment}, "/usr/lib/modules/"+fakeKernel+"/updates/dkms/zfs.ko")
		})
	}
}

// TestDracut builds a host-only image with dracut (Debian's dracut-core,
// which installs beside initramfs-tools) for each compression it offers,
// and without compression, and reads it back. dracut copies
// /etc/modprobe.d/*.conf only in host-only images (90kernel-modules
// module-setup.sh); --add-drivers zfs puts the module in, as 90zfs's
// installkernel does.
func TestDracut(t *testing.T) {
	dracut := testutil.Tool(t, "dracut", "dracut-core")
	e := newBuildEnv(t)
	confdir := filepath.Join(e.dir, "dracut.conf.d")
	if err := os.MkdirAll(confdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ flag, tool, pkg, segment string }{
		{"--compress=gzip", "gzip", "gzip", "gzip"},
		{"--compress=bzip2", "bzip2", "bzip2", "bzip2"},
		{"--compress=lzma", "lzma", "xz-utils", "lzma"},
		{"--compress=xz", "xz", "xz-utils", "xz"},
		{"--lzo", "lzop", "lzop", ""}, // --compress=lzo names no program: dracut falls back to gzip
		{"--compress=lz4", "lz4", "lz4", "lz4"},
		{"--compress=zstd", "zstd", "zstd", "zstd"},
		{"--no-compress", "cpio", "cpio", "none"},
	} {
		t.Run(strings.TrimPrefix(tc.flag, "--"), func(t *testing.T) {
			testutil.Tool(t, tc.tool, tc.pkg)
			root := filepath.Join(e.dir, "root-"+strings.TrimPrefix(tc.flag, "--"))
			out := filepath.Join(root, "boot", "initramfs-"+fakeKernel+".img")
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			e.run(t, dracut+" --hostonly --kver "+fakeKernel+" --kmoddir "+filepath.Join(e.mods, "lib/modules", fakeKernel)+
				" --confdir "+confdir+" --conf /dev/null -m kernel-modules --add-drivers zfs --no-early-microcode --nostrip "+
				tc.flag+" --force "+out+"\n")
			if tc.segment == "" {
				fsys := openRoot(t, root)
				cands, err := Find(fsys, fakeKernel)
				if err != nil || len(cands) != 1 {
					t.Fatalf("Find: %v %v", cands, err)
				}
				if _, err = Read(fsys, cands[0]); !errors.Is(err, ErrUnsupported) {
					t.Fatalf("err = %v, want unsupported lzop", err)
				}
				return
			}
			checkImage(t, root, before, []string{tc.segment}, "/usr/lib/modules/"+fakeKernel+"/updates/dkms/zfs.ko")
		})
	}
}
