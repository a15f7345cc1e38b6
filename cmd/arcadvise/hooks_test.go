package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// The shipped hooks, run exactly as each hypervisor runs them: the same
// arguments, stdin and environment, in a private mount namespace whose
// /etc/default is a tmpfs holding the host's /etc/default/arcadvise (the
// hooks read it there, as on a host), which points arcadvise at the
// test's root (ARCADVISE_GUARD_ARGS="--root DIR") and binary (ARCADVISE_BIN).
// The roots are guardRoot's; fakezfs plays the module.

// arcadviseBin is an arcadvise binary for a hook to run: this test binary
// under the name arcadvise (testscript.Main dispatches on the name; it put
// the copy in $PATH).
func arcadviseBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("arcadvise")
	if err != nil {
		t.Fatalf("the arcadvise command testscript.Main installs: %v", err)
	}
	return p
}

// hostDefaults is the host's /etc/default/arcadvise for a hook that runs
// arcadvise on root.
func hostDefaults(t *testing.T, root, more string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "arcadvise.default")
	body := fmt.Sprintf("ARCADVISE_BIN=%s\nARCADVISE_GUARD_ARGS=\"--root %s\"\n%s", arcadviseBin(t), root, more)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pveEnv is the environment Proxmox VE's daemons run a hookscript with:
// PVE::Daemon sets $ENV{PATH} = '/sbin:/bin:/usr/sbin:/usr/bin' and
// run_command passes the environment on (pve-common src/PVE/Daemon.pm;
// PVE::GuestHelpers::exec_hookscript runs [$hookscript, $vmid, $phase]).
const pveEnv = "PATH=/sbin:/bin:/usr/sbin:/usr/bin"

// runProxmoxHook runs the shipped hookscript as Proxmox VE does, with the
// host's /etc/default/arcadvise from defaults, and returns its exit code
// and output.
func runProxmoxHook(t *testing.T, defaults, vmid, phase string) (int, string) {
	t.Helper()
	unshare := testutil.Tool(t, "unshare", "util-linux")
	testutil.NeedRoot(t, "the hook test runs unshare --mount")
	hook := filepath.Join(testutil.RepoRoot(t), "contrib", "proxmox", "arcadvise-hook")
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "bash", "-c",
		`mount -t tmpfs -o mode=0755 tmpfs /etc/default && cp "$1" /etc/default/arcadvise && shift && exec env -i `+pveEnv+` "$@"`,
		"-", defaults, hook, vmid, phase)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String()
}

// TestProxmoxHook: contrib/proxmox/arcadvise-hook as qemu-server and
// pve-container call it, for each decision at pre-start (a refusal is its
// exit 1, which stops the start), the raise at post-stop, the phases it
// does not handle, and an arcadvise that cannot run.
func TestProxmoxHook(t *testing.T) {
	tests := []struct {
		name       string
		running204 bool
		policy     string // the root's /etc/default/arcadvise
		hostMore   string // more of the host's /etc/default/arcadvise
		vmid       string
		phase      string
		lockHeld   bool
		setCMax    uint64
		wantCode   int
		wantOut    []string
		wantCMax   uint64
	}{
		{name: "fits", vmid: "101", phase: "pre-start", setCMax: capWith101, wantCMax: capWith101,
			wantOut: []string{"arcadvise: guard pve:101 pre-start: fits: c_max 1.95 GiB is within the 1.95 GiB the reservation 5.33 GiB leaves the ARC (pve:101 is pve-qemu:101); the start is allowed\n"}},
		{name: "lowered", vmid: "101", phase: "pre-start", wantCMax: capWith101,
			wantOut: []string{"arcadvise: guard pve:101 pre-start: lowered: c_max 6.75 GiB is above the 1.95 GiB the reservation 5.33 GiB leaves the ARC (pve:101 is pve-qemu:101); zfs_arc_max=2097152000 (1.95 GiB): arcstats c_max 7251111936 → 2097152000"}},
		// A container: the same hookscript, pve:500 is pve-lxc:500. 500
		// already counts (onboot), so starting it changes nothing: R =
		// 2048 + 2000 + 512 MiB = 4560 MiB, the 2.5 GiB cap.
		{name: "container", vmid: "500", phase: "pre-start", wantCMax: capWithout101,
			wantOut: []string{"arcadvise: guard pve:500 pre-start: lowered: c_max 6.75 GiB is above the 2.75 GiB the reservation 4.51 GiB leaves the ARC (pve:500 is pve-lxc:500)"}},
		{name: "refused (strict)", running204: true, policy: "ARCADVISE_GUARD_STRICT=yes\n", hostMore: "ARCADVISE_GUARD_STRICT=yes\n",
			vmid: "101", phase: "pre-start", wantCode: 1, wantCMax: defaultCMax,
			wantOut: []string{"arcadvise: guard pve:101 pre-start: refused: the reservation 7.33 GiB leaves -11.88 MiB for the ARC, 267.88 MiB short of the smallest useful ARC (256 MiB) (pve:101 is pve-qemu:101); the start is refused (strict mode)\n"}},
		{name: "error (allowed)", vmid: "130", phase: "pre-start", wantCMax: defaultCMax,
			wantOut: []string{"arcadvise: guard pve:130 pre-start: error: the reservation is at or above MemTotal: 69.70 GiB reserved of 7.75 GiB (pve:130 is pve-qemu:130); the start is allowed ("}},
		{name: "timeout (allowed)", vmid: "101", phase: "pre-start", lockHeld: true, policy: "ARCADVISE_GUARD_BUDGET=500ms\n", wantCMax: defaultCMax,
			wantOut: []string{"arcadvise: guard pve:101 pre-start: timeout: the budget ran out while waiting for the lock on ", "within the 500ms budget (ARCADVISE_GUARD_BUDGET); nothing was written; the start is allowed ("}},
		{name: "raised at post-stop", vmid: "101", phase: "post-stop", policy: "ARCADVISE_GUARD_RAISE=yes\n", setCMax: capWith101, wantCMax: capWithout101,
			wantOut: []string{"arcadvise: guard pve:101 post-stop: raised: c_max 1.95 GiB is below the 2.75 GiB the reservation 4.51 GiB leaves the ARC (pve:101 is pve-qemu:101); zfs_arc_max=2952790016 (2.75 GiB): arcstats c_max 2097152000 → 2952790016"}},
		{name: "post-start is not handled", vmid: "101", phase: "post-start", wantCMax: defaultCMax},
		{name: "pre-stop is not handled", vmid: "101", phase: "pre-stop", wantCMax: defaultCMax},
		{name: "no arcadvise (allowed)", vmid: "101", phase: "pre-start", hostMore: "ARCADVISE_BIN=/nonexistent/arcadvise\n", wantCMax: defaultCMax,
			wantOut: []string{"arcadvise-hook: /nonexistent/arcadvise exited 127 for 101 at pre-start: the guest goes on (not strict)\n"}},
		{name: "no arcadvise (strict)", vmid: "101", phase: "pre-start", hostMore: "ARCADVISE_BIN=/nonexistent/arcadvise\nARCADVISE_GUARD_STRICT=yes\n", wantCode: 1, wantCMax: defaultCMax,
			wantOut: []string{"arcadvise-hook: /nonexistent/arcadvise exited 127 for 101 at pre-start: the start is refused (strict mode)\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := guardRoot(t, tc.running204)
			if tc.policy != "" {
				testutil.WriteTree(t, root, map[string]string{"etc/default/arcadvise": tc.policy})
			}
			if tc.setCMax != 0 {
				setArc(t, root, "c_max", tc.setCMax)
			}
			if tc.lockHeld {
				d, err := os.Open(filepath.Join(root, "etc/modprobe.d"))
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX); err != nil {
					t.Fatal(err)
				}
			}
			fakeModule(t, root)
			code, out := runProxmoxHook(t, hostDefaults(t, root, tc.hostMore), tc.vmid, tc.phase)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tc.wantCode, out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if len(tc.wantOut) == 0 && out != "" {
				t.Errorf("output %q, want none", out)
			}
			if got := arcField(t, root, "c_max"); got != tc.wantCMax {
				t.Errorf("c_max %d, want %d", got, tc.wantCMax)
			}
		})
	}
}

// tinyDomain is a TCG domain with no disk (it starts without /dev/kvm and
// sits in the firmware), of the given memory in MiB.
func tinyDomain(name string, memMiB int) string {
	return fmt.Sprintf(`<domain type='qemu'><name>%s</name><memory unit='MiB'>%d</memory>
<os><type arch='x86_64'>hvm</type></os><devices><memballoon model='none'/></devices></domain>`, name, memMiB)
}

// TestLibvirtHook: a real libvirtd (Debian's) runs the shipped
// contrib/libvirt/qemu as /etc/libvirt/hooks/qemu when a tiny transient
// domain (virsh create: no file under /etc/libvirt/qemu, only the XML
// libvirt gives the hook on stdin) starts and stops. On a host with the
// boot guests of guardRoot, a 768 MiB domain starting is 101's case: the
// cap goes from 6.75 to 1.95 GiB before the domain starts, and back up to
// 2.75 GiB (ARCADVISE_GUARD_RAISE=yes) when it is destroyed. On the
// over-committed host in strict mode, virsh create fails with the guard's
// message.
func TestLibvirtHook(t *testing.T) {
	if testing.Short() {
		t.Skip("starts libvirtd")
	}
	testutil.Tool(t, "qemu-system-x86_64", "qemu-system-x86")
	fits := guardRoot(t, false)
	full := guardRoot(t, true)
	tf := t.TempDir()
	testutil.WriteTree(t, fits, map[string]string{"etc/default/arcadvise": "ARCADVISE_GUARD_RAISE=yes\nTEXTFILE_DIR=" + tf + "\n"})
	testutil.WriteTree(t, full, map[string]string{"etc/default/arcadvise": "ARCADVISE_GUARD_STRICT=yes\n"})
	fakeModule(t, fits)
	fakeModule(t, full)
	in := t.TempDir()
	for name, body := range map[string]string{
		"tiny.xml":     tinyDomain("tiny", 768),
		"big.xml":      tinyDomain("big", 768),
		"fits.default": fmt.Sprintf("ARCADVISE_BIN=%s\nARCADVISE_GUARD_ARGS=\"--root %s\"\n", arcadviseBin(t), fits),
		"full.default": fmt.Sprintf("ARCADVISE_BIN=%s\nARCADVISE_GUARD_ARGS=\"--root %s\"\n", arcadviseBin(t), full),
	} {
		if err := os.WriteFile(filepath.Join(in, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hook := filepath.Join(testutil.RepoRoot(t), "contrib", "libvirt", "qemu")
	cmax := func(root string) string {
		return `awk '$1 == "c_max" {print $3}' ` + root + `/proc/spl/kstat/zfs/arcstats`
	}
	root := testutil.InLibvirtNamespace(t, `
mount -t tmpfs -o mode=0755 tmpfs /etc/default
cp `+in+`/fits.default /etc/default/arcadvise
mkdir -p /etc/libvirt/hooks
install -m 0755 `+hook+` /etc/libvirt/hooks/qemu
start_libvirtd
virsh create `+in+`/tiny.xml
`+cmax(fits)+` >"$ARCADVISE_OUT/cmax-started"
cp `+tf+`/arcadvise-guard.prom "$ARCADVISE_OUT/started.prom"
virsh destroy tiny
`+cmax(fits)+` >"$ARCADVISE_OUT/cmax-stopped"
cp `+in+`/full.default /etc/default/arcadvise
if virsh create `+in+`/big.xml 2>"$ARCADVISE_OUT/refused.err"; then echo started >"$ARCADVISE_OUT/big"; else echo refused >"$ARCADVISE_OUT/big"; fi
virsh list --all
`)
	out := filepath.Dir(root)
	for file, want := range map[string]string{"cmax-started": "2097152000\n", "cmax-stopped": "2952790016\n", "big": "refused\n"} {
		if got := readFile(t, filepath.Join(out, file)); got != want {
			t.Errorf("%s: %q, want %q", file, got, want)
		}
	}
	prom := readFile(t, filepath.Join(out, "started.prom"))
	for _, w := range []string{"arcadvise_guard_last_decision{decision=\"lowered\"} 1\n", "arcadvise_guard_lowered_total 1\n"} {
		if !strings.Contains(prom, w) {
			t.Errorf("the textfile after the start lacks %q:\n%s", w, prom)
		}
	}
	prom = readFile(t, filepath.Join(tf, "arcadvise-guard.prom"))
	if !strings.Contains(prom, "arcadvise_guard_last_decision{decision=\"raised\"} 1\n") || !strings.Contains(prom, "arcadvise_guard_lowered_total 1\n") {
		t.Errorf("the textfile after the stop:\n%s", prom)
	}
	refused := readFile(t, filepath.Join(out, "refused.err"))
	t.Logf("virsh create, refused:\n%s", refused)
	if !strings.Contains(refused, "arcadvise: guard libvirt:big pre-start: refused: the reservation 7.33 GiB leaves -11.88 MiB for the ARC, 267.88 MiB short of the smallest useful ARC (256 MiB); the start is refused (strict mode)") {
		t.Errorf("virsh create's error lacks the guard's message:\n%s", refused)
	}
	if got := arcField(t, full, "c_max"); got != defaultCMax {
		t.Errorf("the over-committed host's c_max %d, want %d (nothing written)", got, defaultCMax)
	}
}
