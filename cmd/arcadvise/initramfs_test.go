package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// cmdInitramfs builds ROOT's initramfs image with a real builder, from
// ROOT's own modprobe.d, for the kernel ROOT/proc/sys/kernel/osrelease
// names (a fake one: a module tree with a placeholder zfs.ko,
// testutil.Builder):
//
//	initramfs mkinitramfs [-c COMP] ROOT
//	initramfs dracut [DRACUT ARGS...] ROOT
//
// mkinitramfs writes ROOT/boot/initrd.img-KVER, a hook putting zfs.ko in
// as zfs-initramfs's does, with ROOT/etc/initramfs-tools/modules as its
// modules file when there is one (zfs there makes the image's init load
// it).
// dracut writes ROOT/boot/initramfs-KVER.img, host-only. /etc/modprobe.d
// is ROOT/etc/modprobe.d during the build (bind-mounted in a private mount
// namespace: the real /etc is never written), /usr/lib/modprobe.d
// ROOT/usr/lib/modprobe.d or an empty directory. The script checks
// [tool:mkinitramfs] or [tool:dracut] first.
func cmdInitramfs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: initramfs mkinitramfs|dracut [options] ROOT")
	}
	builder, root := args[0], ts.MkAbs(args[len(args)-1])
	opts := args[1 : len(args)-1]
	kver, err := os.ReadFile(filepath.Join(root, "proc/sys/kernel/osrelease"))
	ts.Check(err)
	work, err := os.MkdirTemp(ts.MkAbs("."), ".initramfs-")
	ts.Check(err)
	b, err := testutil.NewBuilder(work, strings.TrimSpace(string(kver)))
	ts.Check(err)
	modprobeD := filepath.Join(root, "etc/modprobe.d")
	ts.Check(os.MkdirAll(modprobeD, 0o755))
	var log string
	switch builder {
	case "mkinitramfs":
		o := testutil.Mkinitramfs{Out: filepath.Join(root, "boot", "initrd.img-"+b.Kernel), ModprobeD: modprobeD, ZFSHook: true}
		if lib := filepath.Join(root, "usr/lib/modprobe.d"); isDir(lib) {
			o.LibModprobeD = lib
		}
		if m, err := os.ReadFile(filepath.Join(root, "etc/initramfs-tools/modules")); err == nil {
			o.Modules = string(m)
		}
		for i := 0; i < len(opts); i++ {
			switch {
			case opts[i] == "-c" && i+1 < len(opts):
				i++
				o.Compress = opts[i]
			default:
				ts.Fatalf("initramfs mkinitramfs: unknown option %q", opts[i])
			}
		}
		log, err = b.Mkinitramfs(o)
	case "dracut":
		log, err = b.Dracut(testutil.Dracut{Out: filepath.Join(root, "boot", "initramfs-"+b.Kernel+".img"), ModprobeD: modprobeD, Args: append([]string{"--hostonly"}, opts...)})
	default:
		ts.Fatalf("initramfs: unknown builder %q", builder)
	}
	if err != nil {
		ts.Fatalf("%v\n%s", err, log)
	}
	ts.Check(os.RemoveAll(work))
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
