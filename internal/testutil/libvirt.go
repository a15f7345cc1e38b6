package testutil

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// libvirtDirs are libvirt's directories, each an empty tmpfs in the
// namespace.
const libvirtDirs = "/etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt"

// libvirtWrapper sets up the namespace, runs the test's script and copies
// what libvirt wrote out. It runs as PID 1 of a new PID namespace, so that
// every process it starts (libvirtd, a QEMU) dies with it.
const libvirtWrapper = `set -euo pipefail
out=$ARCADVISE_OUT
# The package's configuration (libvirtd.conf, qemu.conf, ...), and nothing
# of the host's state: no domain, network or hook of the host is seen.
seed=$(mktemp -d)
find /etc/libvirt -maxdepth 1 -type f -name '*.conf' -exec cp -a {} "$seed/" \;
for d in ` + libvirtDirs + `; do
  mkdir -p "$d"
  mount -t tmpfs -o mode=0755 tmpfs "$d"
done
cp -a "$seed/." /etc/libvirt/
rm -rf "$seed"

libvirtd_pid= virtlogd_pid=
virsh() { command virsh -c qemu:///system "$@"; }
# start_libvirtd starts the daemon (after the script has put its hooks or
# configuration in place: libvirtd reads them at start) and waits until it
# answers, at most 120 s. virtlogd, which systemd would start on demand to
# take a QEMU's output, is started first.
start_libvirtd() {
  if [[ -z $virtlogd_pid ]]; then
    virtlogd >>"$out/virtlogd.log" 2>&1 &
    virtlogd_pid=$!
    # A domain started before virtlogd listens fails ("Failed to connect
    # socket to '/run/libvirt/virtlogd-sock'"), as seen on a loaded host.
    for _ in $(seq 600); do
      if [[ -S /run/libvirt/virtlogd-sock ]]; then break; fi
      if ! kill -0 "$virtlogd_pid" 2>/dev/null; then
        echo "virtlogd exited; its log:" >&2; tail -n 30 "$out/virtlogd.log" >&2; return 1
      fi
      sleep 0.2
    done
  fi
  libvirtd --pid-file /run/libvirt/arcadvise-test-libvirtd.pid >>"$out/libvirtd.log" 2>&1 &
  libvirtd_pid=$!
  for _ in $(seq 600); do
    if virsh version >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$libvirtd_pid" 2>/dev/null; then
      echo "libvirtd exited; its log:" >&2; tail -n 30 "$out/libvirtd.log" >&2; return 1
    fi
    sleep 0.2
  done
  echo "libvirtd did not answer within 120 s; its log:" >&2; tail -n 30 "$out/libvirtd.log" >&2
  return 1
}
# stop_libvirtd stops the daemon (running domains keep running, as on a
# host where libvirtd restarts).
stop_libvirtd() {
  if [[ -n $libvirtd_pid ]]; then
    kill "$libvirtd_pid" 2>/dev/null || true
    wait "$libvirtd_pid" 2>/dev/null || true
    libvirtd_pid=
  fi
  if [[ -n $virtlogd_pid ]]; then
    kill "$virtlogd_pid" 2>/dev/null || true
    wait "$virtlogd_pid" 2>/dev/null || true
    virtlogd_pid=
  fi
}

# At the end, even a failed one: stop the domains through libvirt, so that
# it removes what it made outside the namespace (a domain's cgroups in the
# host's /sys/fs/cgroup), then the daemons, then the cgroup directories of
# libvirt's /machine partition (cgroupfs, without systemd) if they were not
# there before.
machine_before=$(ls -d /sys/fs/cgroup/machine /sys/fs/cgroup/*/machine 2>/dev/null || true)
cleanup() {
  if compgen -G '/run/libvirt/qemu/*.xml' >/dev/null; then
    if [[ -z $libvirtd_pid ]]; then start_libvirtd || true; fi
    for d in $(virsh list --name 2>/dev/null); do virsh destroy "$d" >/dev/null 2>&1 || true; done
  fi
  stop_libvirtd
  for d in /sys/fs/cgroup/machine /sys/fs/cgroup/*/machine; do
    if [[ -d $d ]] && ! grep -qxF "$d" <<<"$machine_before"; then rmdir "$d" 2>/dev/null || true; fi
  done
}
trap cleanup EXIT

. "$ARCADVISE_SCRIPT"

# What libvirt wrote, the status files of running domains included.
mkdir -p "$out/root/etc" "$out/root/run" "$out/root/var/lib" "$out/root/var/cache" "$out/root/var/log"
cp -a /etc/libvirt "$out/root/etc/"
cp -a /run/libvirt "$out/root/run/"
cp -a /var/lib/libvirt "$out/root/var/lib/"
cp -a /var/cache/libvirt "$out/root/var/cache/"
cp -a /var/log/libvirt "$out/root/var/log/"
find "$out/root" -type s -delete
`

// InLibvirtNamespace runs script with a real libvirt, from Debian's
// packages (libvirt-daemon-system, libvirt-clients), in a private mount,
// network and PID namespace (unshare(1)): /etc/libvirt, /run/libvirt,
// /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt are empty
// tmpfs mounts there, /etc/libvirt holding only the package's *.conf
// files, so nothing of the host's libvirt is seen or changed, and every
// process the script starts dies when it ends.
//
// script is bash, sourced with "set -euo pipefail" in effect. libvirtd is
// not running when it starts: the script may first install hooks
// (/etc/libvirt/hooks/qemu) or edit /etc/libvirt/qemu.conf, then call
// start_libvirtd; "virsh" talks to qemu:///system; stop_libvirtd is
// optional (it stops virtlogd too). $ARCADVISE_OUT is a directory the
// script may write results to; libvirtd's and virtlogd's logs go to
// $ARCADVISE_OUT/libvirtd.log and virtlogd.log. After the script, libvirt's
// five directories are copied, symlinks kept, sockets left out, under
// $ARCADVISE_OUT/root, whose path InLibvirtNamespace returns (a root for
// rootfs.Open): a domain the script started is still running then, and
// its status file in run/libvirt/qemu is there. Then the domains are
// destroyed through libvirt (which removes the cgroups it made for them)
// and the daemons stop; whatever is left dies with the namespace.
//
// Only those five directories are private: the rest of the file system is
// the host's, so the script writes nowhere else but $ARCADVISE_OUT (or
// t.TempDir() paths). libvirt runs a hook (/etc/libvirt/hooks/qemu) with an
// empty environment, so a hook cannot see $ARCADVISE_OUT: have it write
// under /var/log/libvirt or /run/libvirt, which are copied out. A domain
// of type 'qemu' (TCG) starts without /dev/kvm.
//
// It needs root (unshare, mount); without it, or without the programs, the
// test skips, except under CI=true, where it fails. A failing script fails
// the test with its output.
func InLibvirtNamespace(t testing.TB, script string) string {
	t.Helper()
	unshare := Tool(t, "unshare", "util-linux")
	Tool(t, "libvirtd", "libvirt-daemon-system")
	Tool(t, "virsh", "libvirt-clients")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("InLibvirtNamespace needs root (unshare --mount); CI runs as root")
		}
		t.Skip("not root: the libvirt namespace needs unshare --mount")
	}
	out := t.TempDir()
	work := t.TempDir()
	wrapper := filepath.Join(work, "wrapper.sh")
	user := filepath.Join(work, "script.sh")
	if err := os.WriteFile(wrapper, []byte(libvirtWrapper), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(user, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "--mount", "--propagation", "private", "--net",
		"--pid", "--fork", "--kill-child", "--mount-proc", "bash", wrapper)
	cmd.Env = append(os.Environ(), "ARCADVISE_OUT="+out, "ARCADVISE_SCRIPT="+user, "LC_ALL=C")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("libvirt namespace script failed: %v\n%s", err, b)
	}
	t.Logf("libvirt namespace script:\n%s", b)
	return filepath.Join(out, "root")
}
