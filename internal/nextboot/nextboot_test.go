package nextboot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// Debian 12's /etc/default/grub as the installer writes it, on a root on
// ZFS host that also caps the ARC on the command line.
const debianGrub = `# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
# For full documentation of the options in this file, see:
#   info -f grub -n 'Simple configuration'

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=` + "`lsb_release -i -s 2> /dev/null || echo Debian`" + `
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="root=ZFS=rpool/ROOT/debian boot=zfs zfs.zfs_arc_max=8589934592"

# Uncomment to enable BadRAM filtering, modify to suit your needs
#GRUB_BADRAM="0x01234567,0xfefefefe,0x89abcdef,0xefefefef"
`

// Ubuntu's cloud images ship this drop-in (livecd-rootfs); it replaces
// GRUB_CMDLINE_LINUX_DEFAULT.
const cloudimgCfg = `# Cloud Image specific Grub settings for Generic Cloud Images
# CLOUD_IMG: This file was created/modified by the Cloud Image build process

# Set the recordfail timeout
GRUB_RECORDFAIL_TIMEOUT=0

# Do not wait on grub prompt
GRUB_TIMEOUT=0

# Set the default commandline
GRUB_CMDLINE_LINUX_DEFAULT="console=tty1 console=ttyS0"

# Set the grub console type
GRUB_TERMINAL=console
`

// An admin's drop-in that appends to the value of /etc/default/grub.
const arcCfg = `# ARC cap for the next boot
GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX zfs.zfs_arc_max=4294967296"
`

func nr(p, s string) NamedReader { return NamedReader{Path: p, R: strings.NewReader(s)} }

func TestParseGrubDropIns(t *testing.T) {
	got, err := ParseGrub([]NamedReader{
		nr("/etc/default/grub", debianGrub),
		nr("/etc/default/grub.d/50-cloudimg-settings.cfg", cloudimgCfg),
		nr("/etc/default/grub.d/zfs-arc.cfg", arcCfg),
	})
	if err != nil {
		t.Fatal(err)
	}
	// By hand: GRUB_CMDLINE_LINUX is line 10's value, then zfs-arc.cfg's
	// line 2 appends to it (so the later zfs.zfs_arc_max wins on the
	// kernel's command line); _DEFAULT is replaced by the cloudimg file's
	// line 11.
	want := []Source{{
		Path: "/etc/default/grub.d/zfs-arc.cfg", Line: 2, Kind: GrubLinux,
		Cmdline: "root=ZFS=rpool/ROOT/debian boot=zfs zfs.zfs_arc_max=8589934592 zfs.zfs_arc_max=4294967296",
		Notes:   []string{"replaces the value set at /etc/default/grub:10"},
	}, {
		Path: "/etc/default/grub.d/50-cloudimg-settings.cfg", Line: 11, Kind: GrubDefault,
		Cmdline: "console=tty1 console=ttyS0",
		Notes:   []string{"replaces the value set at /etc/default/grub:9"},
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func TestParseGrubShell(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		want  string // GRUB_CMDLINE_LINUX
		line  int
		notes []string
	}{
		{"quotes and escapes", `GRUB_CMDLINE_LINUX='a b'"c\"d"\ e`, `a bc"d e`, 1, nil},
		{"braces and defaults", "X=1\nGRUB_CMDLINE_LINUX=\"${X} ${UNSET:-zfs.zfs_arc_min=536870912} $X\"", "1 zfs.zfs_arc_min=536870912 1", 2, nil},
		{"self reference", "GRUB_CMDLINE_LINUX=a\nGRUB_CMDLINE_LINUX=\"${GRUB_CMDLINE_LINUX} b\"", "a b", 2, []string{"replaces the value set at f:1"}},
		{"continued line", "GRUB_CMDLINE_LINUX=\"a \\\nb\"", "a b", 1, nil},
		{"export", `export GRUB_CMDLINE_LINUX="zfs.zfs_arc_max=1073741824"`, "zfs.zfs_arc_max=1073741824", 1, nil},
		{"two on a line", `A=1 GRUB_CMDLINE_LINUX="$A"`, "1", 1, nil},
		{"command substitution not run", `GRUB_CMDLINE_LINUX="zfs.zfs_arc_max=$(cat /etc/arc) quiet"`, "zfs.zfs_arc_max=$(cat /etc/arc) quiet", 1,
			[]string{"f:1: a command substitution, not run: it is left in the value as written"}},
		{"backquotes not run", "GRUB_CMDLINE_LINUX=\"a `echo b`\"", "a $(echo b)", 1,
			[]string{"f:1: a command substitution, not run: it is left in the value as written"}},
		{"append", "GRUB_CMDLINE_LINUX=a\nGRUB_CMDLINE_LINUX+=\" b\"", "a b", 2,
			[]string{"replaces the value set at f:1", "f:2: += is bash: grub-mkconfig runs /bin/sh, and where that is dash (Debian, Ubuntu) the line fails and the value stays as it was"}},
		{"in a condition", "GRUB_CMDLINE_LINUX=a\nif [ -e /x ]; then\n  GRUB_CMDLINE_LINUX=b\nfi", "a", 1,
			[]string{"f:2: set in a statement that is not a plain assignment (a condition, a loop, a function, a command): not evaluated"}},
		{"only in a condition", "if true; then GRUB_CMDLINE_LINUX=b; fi", "", 1,
			[]string{"f:1: set in a statement that is not a plain assignment (a condition, a loop, a function, a command): not evaluated"}},
		{"unset", "GRUB_CMDLINE_LINUX=a\nunset GRUB_CMDLINE_LINUX", "", 2, []string{"f:2: unset"}},
		{"unknown variable", `GRUB_CMDLINE_LINUX="$NOPE x"`, " x", 1, nil},
		{"comment after", `GRUB_CMDLINE_LINUX="a" # zfs.zfs_arc_max=1`, "a", 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseGrub([]NamedReader{nr("f", tc.file)})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Kind != GrubLinux {
				t.Fatalf("got %+v, want one GRUB_CMDLINE_LINUX", got)
			}
			want := Source{Path: "f", Line: tc.line, Kind: GrubLinux, Cmdline: tc.want, Notes: tc.notes}
			if d := cmp.Diff(want, got[0], cmpopts.EquateEmpty()); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestParseGrubErrors(t *testing.T) {
	for _, tc := range []struct{ file, msg string }{
		{"GRUB_CMDLINE_LINUX=\"unterminated\n", "/etc/default/grub:1: reached EOF without closing quote"},
		{"A=1\nif then fi\n", "/etc/default/grub:2:"},
	} {
		_, err := ParseGrub([]NamedReader{nr("/etc/default/grub", tc.file)})
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: err = %v, want %q", tc.file, err, tc.msg)
		}
	}
}

func TestParseKernelCmdline(t *testing.T) {
	tests := []struct {
		data  string
		want  string
		notes []string
	}{
		{"root=ZFS=rpool/ROOT/pve-1 boot=zfs\n", "root=ZFS=rpool/ROOT/pve-1 boot=zfs", nil},
		{"root=ZFS=rpool/ROOT/pve-1 boot=zfs\n\tzfs.zfs_arc_max=2147483648  \n", "root=ZFS=rpool/ROOT/pve-1 boot=zfs zfs.zfs_arc_max=2147483648", []string{"2 lines joined with spaces, as kernel-install does"}},
		{"quiet # zfs.zfs_arc_max=1\n", "quiet # zfs.zfs_arc_max=1", []string{"a '#' here is no comment: it is passed to the kernel"}},
		{"", "", nil},
	}
	for _, tc := range tests {
		got := ParseKernelCmdline("/etc/kernel/cmdline", []byte(tc.data))
		want := Source{Path: "/etc/kernel/cmdline", Line: 1, Kind: KernelCmdline, Cmdline: tc.want, Notes: tc.notes}
		if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%q: (-want +got)\n%s", tc.data, d)
		}
	}
}

// A RHEL 8 grubenv as grub2-editenv writes it: 1024 bytes, '#' padded.
var rhelGrubenv = func() string {
	s := "# GRUB Environment Block\nsaved_entry=0123456789abcdef0123456789abcdef-4.18.0-553.el8_10.x86_64\nkernelopts=root=/dev/mapper/rhel-root ro crashkernel=auto resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet zfs.zfs_arc_max=2147483648\nboot_success=0\n"
	return s + strings.Repeat("#", 1024-len(s))
}()

func TestParseGrubenv(t *testing.T) {
	env, err := ParseGrubenv(strings.NewReader(rhelGrubenv))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"saved_entry":  "0123456789abcdef0123456789abcdef-4.18.0-553.el8_10.x86_64",
		"kernelopts":   "root=/dev/mapper/rhel-root ro crashkernel=auto resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet zfs.zfs_arc_max=2147483648",
		"boot_success": "0",
	}
	if d := cmp.Diff(want, env); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if _, err := ParseGrubenv(strings.NewReader("# GRUB Environment Block\nnot an assignment\n")); err == nil || !strings.Contains(err.Error(), "line 2:") {
		t.Errorf("err = %v", err)
	}
}

// A Fedora 41 entry as kernel-install and grubby write it, RHEL 8's with
// $kernelopts, and systemd-boot's from kernel-install with two options
// lines.
const (
	fedoraEntry = `title Fedora Linux (6.11.4-301.fc41.x86_64) 41 (Server Edition)
version 6.11.4-301.fc41.x86_64
linux /vmlinuz-6.11.4-301.fc41.x86_64
initrd /initramfs-6.11.4-301.fc41.x86_64.img
options root=UUID=0b0a6ad2-56a4-4a8b-8d1c-9e1c4a1f4f2e ro rootflags=subvol=root zfs.zfs_arc_max=3221225472
grub_users $grub_users
grub_arg --unrestricted
grub_class fedora
`
	rhel8Entry = `title Red Hat Enterprise Linux (4.18.0-553.el8_10.x86_64) 8.10 (Ootpa)
version 4.18.0-553.el8_10.x86_64
linux /vmlinuz-4.18.0-553.el8_10.x86_64
initrd /initramfs-4.18.0-553.el8_10.x86_64.img $tuned_initrd
options $kernelopts $tuned_params
id rhel-20240501000000-4.18.0-553.el8_10.x86_64
grub_users $grub_users
grub_arg --unrestricted
grub_class kernel
`
	sdbootEntry = `# Boot Loader Specification type#1 entry
# File created by /usr/lib/kernel/install.d/90-loaderentry.install (systemd 252.39-1~deb12u2)
title      Debian GNU/Linux 12 (bookworm)
version    6.1.0-28-amd64
machine-id 0123456789abcdef0123456789abcdef
sort-key   debian
options    root=UUID=5f3c quiet
options	zfs.zfs_arc_max=1073741824
linux      /0123456789abcdef0123456789abcdef/6.1.0-28-amd64/linux
initrd     /0123456789abcdef0123456789abcdef/6.1.0-28-amd64/initrd.img-6.1.0-28-amd64
`
)

func TestParseBLS(t *testing.T) {
	env, err := ParseGrubenv(strings.NewReader(rhelGrubenv))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		entry string
		env   map[string]string
		want  Source
	}{
		{"fedora", fedoraEntry, nil, Source{Line: 5, Cmdline: "root=UUID=0b0a6ad2-56a4-4a8b-8d1c-9e1c4a1f4f2e ro rootflags=subvol=root zfs.zfs_arc_max=3221225472"}},
		{"rhel 8 with grubenv", rhel8Entry, env, Source{Line: 5,
			Cmdline: "root=/dev/mapper/rhel-root ro crashkernel=auto resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet zfs.zfs_arc_max=2147483648 $tuned_params",
			Notes:   []string{"$kernelopts expanded from grubenv", "$tuned_params is not set in grubenv"}}},
		{"rhel 8 without grubenv", rhel8Entry, nil, Source{Line: 5, Cmdline: "$kernelopts $tuned_params",
			Notes: []string{"$kernelopts is GRUB's: no grubenv found to expand it", "$tuned_params is GRUB's: no grubenv found to expand it"}}},
		{"systemd-boot, two options lines", sdbootEntry, nil, Source{Line: 7, Cmdline: "root=UUID=5f3c quiet zfs.zfs_arc_max=1073741824"}},
		{"no options", "title x\nlinux /vmlinuz\n", nil, Source{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseBLS("/boot/loader/entries/e.conf", strings.NewReader(tc.entry), tc.env)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Path, tc.want.Kind = "/boot/loader/entries/e.conf", BLS
			if d := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func openRoot(t *testing.T, dir string) *rootfs.FS {
	t.Helper()
	fsys, err := rootfs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	return fsys
}

// TestSources reads a whole root: a Proxmox VE host (grub defaults,
// /etc/kernel/cmdline on two lines, proxmox-boot-tool) that also has BLS
// entries on /boot and on the ESP, reached twice (/efi -> /boot/efi).
func TestSources(t *testing.T) {
	root := t.TempDir()
	testutil.WriteTree(t, root, map[string]string{
		"etc/default/grub":                                 debianGrub,
		"etc/default/grub.d/zfs-arc.cfg":                   arcCfg,
		"etc/default/grub.d/init-select.cfg.disabled":      "GRUB_CMDLINE_LINUX=ignored\n",
		"etc/kernel/cmdline":                               "root=ZFS=rpool/ROOT/pve-1 boot=zfs\nzfs.zfs_arc_max=2147483648\n",
		"usr/lib/kernel/cmdline":                           "not read: /etc/kernel/cmdline exists\n",
		"etc/kernel/proxmox-boot-uuids":                    "1234-ABCD\n",
		"boot/loader/entries/fedora.conf":                  fedoraEntry,
		"boot/loader/entries/notes.txt":                    "options not=an-entry\n",
		"boot/efi/loader/entries/0123-6.1.0-28-amd64.conf": sdbootEntry,
		"boot/grub/grubenv":                                rhelGrubenv,
	})
	if err := os.Symlink("/boot/efi", filepath.Join(root, "efi")); err != nil {
		t.Fatal(err)
	}
	fsys := openRoot(t, root)
	if !ProxmoxBootTool(fsys) {
		t.Error("ProxmoxBootTool = false with /etc/kernel/proxmox-boot-uuids")
	}
	got, err := Sources(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{Path: "/etc/default/grub.d/zfs-arc.cfg", Line: 2, Kind: GrubLinux,
			Cmdline: "root=ZFS=rpool/ROOT/debian boot=zfs zfs.zfs_arc_max=8589934592 zfs.zfs_arc_max=4294967296",
			Notes:   []string{"replaces the value set at /etc/default/grub:10"}},
		{Path: "/etc/default/grub", Line: 9, Kind: GrubDefault, Cmdline: "quiet"},
		{Path: "/etc/kernel/cmdline", Line: 1, Kind: KernelCmdline,
			Cmdline: "root=ZFS=rpool/ROOT/pve-1 boot=zfs zfs.zfs_arc_max=2147483648",
			Notes: []string{"2 lines joined with spaces, as kernel-install does",
				`proxmox-boot-tool copies this file as it is into the entries' options line (zz-proxmox-boot: CMDLINE="$(cat /etc/kernel/cmdline)"), so systemd-boot takes only its first line`}},
		{Path: "/boot/loader/entries/fedora.conf", Line: 5, Kind: BLS,
			Cmdline: "root=UUID=0b0a6ad2-56a4-4a8b-8d1c-9e1c4a1f4f2e ro rootflags=subvol=root zfs.zfs_arc_max=3221225472"},
		{Path: "/boot/efi/loader/entries/0123-6.1.0-28-amd64.conf", Line: 7, Kind: BLS,
			Cmdline: "root=UUID=5f3c quiet zfs.zfs_arc_max=1073741824"},
	}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func TestSourcesEmptyRoot(t *testing.T) {
	fsys := openRoot(t, t.TempDir())
	got, err := Sources(fsys)
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v; want nothing", got, err)
	}
	if ProxmoxBootTool(fsys) {
		t.Error("ProxmoxBootTool = true on an empty root")
	}
}

// TestSourcesConfined: a drop-in that is a symlink out of the root is read
// inside it (as in a chroot), and a FIFO in place of a file is refused at
// once, never opened in a way that blocks.
func TestSourcesConfined(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	testutil.WriteTree(t, outside, map[string]string{"grub": "GRUB_CMDLINE_LINUX=outside\n"})
	testutil.WriteTree(t, root, map[string]string{"etc/default/grub.d/.keep": "", outside[1:] + "/grub": "GRUB_CMDLINE_LINUX=inside\n"})
	if err := os.Symlink(filepath.Join(outside, "grub"), filepath.Join(root, "etc/default/grub")); err != nil {
		t.Fatal(err)
	}
	got, err := Sources(openRoot(t, root))
	if err != nil || len(got) != 1 || got[0].Cmdline != "inside" {
		t.Fatalf("got %+v, %v; want the copy inside the root", got, err)
	}
	fifo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(fifo, "etc/kernel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mkfifo(filepath.Join(fifo, "etc/kernel/cmdline")); err != nil {
		t.Fatal(err)
	}
	if _, err := Sources(openRoot(t, fifo)); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("err = %v, want a refusal", err)
	}
}
