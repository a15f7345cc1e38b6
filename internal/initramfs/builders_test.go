package initramfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// The real builders (testutil.Builder), run by the tests on a fake kernel
// with the test's /etc/modprobe.d bound over the host's.

const fakeKernel = testutil.FakeKernel

// builderZFSConf sets the three values the tests look for: 4 GiB, 1 GiB and
// 512 MiB.
const builderZFSConf = "# set by the arcadvise tests\noptions zfs zfs_arc_max=4294967296 zfs_arc_min=1073741824\noptions zfs zfs_arc_sys_free=536870912\n"

type buildEnv struct {
	*testutil.Builder
	dir      string
	modprobe string // bound over /etc/modprobe.d
}

func newBuildEnv(t *testing.T) *buildEnv {
	t.Helper()
	for _, tool := range testutil.BuilderTools {
		testutil.Tool(t, tool[0], tool[1])
	}
	dir := t.TempDir()
	b, err := testutil.NewBuilder(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	e := &buildEnv{Builder: b, dir: dir, modprobe: filepath.Join(dir, "modprobe.d")}
	testutil.WriteTree(t, dir, map[string]string{"modprobe.d/zfs.conf": builderZFSConf})
	return e
}

// checkImage reads the one image under root/boot and checks what the test
// put in it, and what loads zfs from it (wantLoads: the evidence's
// beginnings).
func checkImage(t *testing.T, root string, before time.Time, wantComp []string, wantZFS string, wantLoads []string) {
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
	// The image's whole modprobe configuration, through the one reader
	// of modprobe.d: the same values, nothing else (the builders' own
	// /usr/lib/modprobe.d is an empty directory here).
	var eff []string
	for _, p := range []string{"zfs_arc_max", "zfs_arc_min", "zfs_arc_sys_free"} {
		s, _ := img.Modprobe.Effective(p)
		eff = append(eff, s.Param+"="+s.Value+"@"+s.Where())
	}
	if d := cmp.Diff(want, eff); d != "" {
		t.Errorf("the image's effective settings (-want +got)\n%s", d)
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
	if len(img.Contents.Loads) != len(wantLoads) {
		t.Fatalf("loads %q, want %d starting %q", img.Contents.Loads, len(wantLoads), wantLoads)
	}
	for i, w := range wantLoads {
		if !strings.HasPrefix(img.Contents.Loads[i], w) {
			t.Errorf("loads[%d] = %q, want it to start %q", i, img.Contents.Loads[i], w)
		}
	}
}

// TestMkinitramfs builds an image with initramfs-tools' mkinitramfs for each
// compression it offers (COMPRESS=, mkinitramfs -c), with an early
// uncompressed archive made the way the microcode packages make theirs
// (a hook calling prepend_earlyinitramfs), and reads it back. The modules
// file names zfs in every other build: then /conf/modules in the image
// lists it, and the image's init loads zfs whatever the root; in the
// others a hook puts the module in as zfs-initramfs's does, and nothing in
// the image loads it.
func TestMkinitramfs(t *testing.T) {
	testutil.Tool(t, "mkinitramfs", "initramfs-tools-core")
	testutil.Tool(t, "linux-version", "linux-base")
	e := newBuildEnv(t)
	for i, tc := range []struct{ comp, tool, pkg, segment string }{
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
			modules, loads := "", []string(nil)
			if i%2 == 0 {
				modules, loads = "# the admin's\nzfs\n", []string{"/conf/modules:1 lists zfs"}
			}
			before := time.Now()
			start := time.Now()
			if log, err := e.Mkinitramfs(testutil.Mkinitramfs{Out: out, ModprobeD: e.modprobe, Compress: tc.comp, Modules: modules, ZFSHook: modules == "", EarlyMicrocode: true}); err != nil {
				t.Fatalf("%v\n%s", err, log)
			}
			t.Logf("built in %v", time.Since(start).Round(10*time.Millisecond))
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
			checkImage(t, root, before, []string{"none", tc.segment}, "/usr/lib/modules/"+fakeKernel+"/updates/dkms/zfs.ko", loads)
		})
	}
}

// TestDracut builds a host-only image with dracut (Debian's dracut-core,
// which installs beside initramfs-tools) for each compression it offers,
// and without compression, and reads it back. dracut copies
// /etc/modprobe.d/*.conf only in host-only images (90kernel-modules
// module-setup.sh); --add-drivers zfs puts the module in, as 90zfs's
// installkernel does. With --force-drivers zfs dracut loads it early
// (etc/cmdline.d/20-force_drivers.conf: rd.driver.pre=zfs).
func TestDracut(t *testing.T) {
	testutil.Tool(t, "dracut", "dracut-core")
	e := newBuildEnv(t)
	for _, tc := range []struct {
		flag, tool, pkg, segment string
		loads                    []string
	}{
		{"--compress=gzip", "gzip", "gzip", "gzip", nil},
		{"--compress=bzip2", "bzip2", "bzip2", "bzip2", nil},
		{"--compress=lzma", "lzma", "xz-utils", "lzma", nil},
		{"--compress=xz", "xz", "xz-utils", "xz", nil},
		{"--lzo", "lzop", "lzop", "", nil}, // --compress=lzo names no program: dracut falls back to gzip
		{"--compress=lz4", "lz4", "lz4", "lz4", nil},
		{"--compress=zstd", "zstd", "zstd", "zstd", nil},
		{"--no-compress", "cpio", "cpio", "none", nil},
		{"--compress=zstd --force-drivers zfs", "zstd", "zstd", "zstd", []string{"/etc/cmdline.d/20-force_drivers.conf:1 sets rd.driver.pre=zfs"}},
	} {
		name := strings.ReplaceAll(strings.TrimPrefix(tc.flag, "--"), " ", "")
		t.Run(name, func(t *testing.T) {
			testutil.Tool(t, tc.tool, tc.pkg)
			root := filepath.Join(e.dir, "root-"+name)
			out := filepath.Join(root, "boot", "initramfs-"+fakeKernel+".img")
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			if log, err := e.Dracut(testutil.Dracut{Out: out, ModprobeD: e.modprobe, Args: append([]string{"--hostonly"}, strings.Fields(tc.flag)...)}); err != nil {
				t.Fatalf("%v\n%s", err, log)
			}
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
			checkImage(t, root, before, []string{tc.segment}, "/usr/lib/modules/"+fakeKernel+"/updates/dkms/zfs.ko", tc.loads)
		})
	}
}
