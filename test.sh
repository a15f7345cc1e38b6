#!/usr/bin/env bash
# test.sh: vet and run every test. Reads ../shared/fixtures in place (other
# projects' captures); with CI=true a missing ../shared is a failure.
# ARCADVISE_VM=1 also runs the real-kernel lane (test/vm/lane.sh, tens of
# minutes under emulation).
set -euo pipefail
cd "$(dirname "$0")"
# The real components the fleet tests run, from Debian's packages: node_exporter
# (textfile collector scrape), promtool (metrics lint, alert rules),
# systemd-analyze (the timer and service), ansible-core (the role), unshare (a
# read-only /etc), go-md2man, groff and man (the man page), lintian and rpm
# (the packages), strace (a read-only run creates no file), libvirtd and
# virsh (a real libvirt defines domains in a private namespace for
# internal/declared, and starts one through the guard's hook), qemu-system-x86
# (the QEMU of that TCG domain: libvirt only recommends it), qemu-img (the
# lane's overlay, in test/vm's trap test), qemu-user (qemu-x86_64 traces the
# code a run translates, test/vm's footprint budget),
# the lint of every shell script, shellcheck, and for internal/initramfs the
# initramfs builders (initramfs-tools-core's mkinitramfs with linux-base,
# dracut-core's dracut, which install side by side), kmod's depmod, cpio and
# every compressor they run (gzip, bzip2, xz and lzma, lz4, lzop, zstd).
# Installed when missing and this runs as root with apt (test/lib-apt.sh: waits
# for another apt's lock; a failed update is reported and the install tried from
# the lists already there; a failed install stops test.sh); otherwise those
# tests say so and skip (and fail under CI=true).
need=()
for t in prometheus-node-exporter:prometheus-node-exporter promtool:prometheus \
         systemd-analyze:systemd ansible-playbook:ansible-core unshare:util-linux \
         go-md2man:go-md2man groff:groff-base man:man-db lintian:lintian rpm:rpm \
         strace:strace libvirtd:libvirt-daemon-system virsh:libvirt-clients \
         qemu-system-x86_64:qemu-system-x86 \
         qemu-img:qemu-utils qemu-x86_64:qemu-user shellcheck:shellcheck \
         mkinitramfs:initramfs-tools-core linux-version:linux-base dracut:dracut-core \
         depmod:kmod cpio:cpio gzip:gzip bzip2:bzip2 xz:xz-utils lz4:lz4 lzop:lzop zstd:zstd; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if (( ${#need[@]} > 0 )) && [[ $EUID == 0 ]] && command -v apt-get >/dev/null; then
  echo "test.sh: installing ${need[*]} (Debian packages) for the tests that run them" >&2
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck source=test/lib-apt.sh
  . test/lib-apt.sh
  apt_install --no-install-recommends "${need[@]}" >/dev/null ||
    { echo "test.sh: could not install ${need[*]}; the tests that run them would skip (fail under CI=true)" >&2; exit 1; }
fi
go vet ./...
# Lint, at the versions go.mod pins (go tool: built once, cached).
unformatted=$(go tool goimports -l cmd internal packaging test)
if [[ -n $unformatted ]]; then
  echo "test.sh: goimports wants to reformat: $unformatted" >&2
  exit 1
fi
go tool staticcheck ./...
go test -count=1 ./...
if [[ ${ARCADVISE_VM:-0} == 1 ]]; then
  test/vm/lane.sh
fi
