#!/usr/bin/env bash
# run.sh [arcadvise flags...]: build arcadvise into .bin/ and run it; its exit
# status is arcadvise's. On a host with the zfs module loaded it reads the host
# itself (/). Elsewhere, unless you give --root, it reads a bundled real host
# snapshot (OpenZFS 2.3.2 under memory pressure, from our lab) and says so.
# With no arguments at all it asks for --reserve auto: what the host declares
# (its Proxmox VE and libvirt guests, its cgroups' memory.min); where nothing
# is declared, arcadvise says so and takes the observed reading. It never
# invents a workload. Without the zfs module and without arguments it reads
# the bundled hypervisor (testdata/declared/pve-libvirt-2.3.2-8G) with
# --reserve auto. Needs Go 1.26+; modules come from the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")"
vcs=false
if git rev-parse --git-dir >/dev/null 2>&1; then vcs=true; fi   # stamps the revision for --version
go build -buildvcs="$vcs" -o .bin/arcadvise ./cmd/arcadvise
zfs=false
if [[ -r /proc/spl/kstat/zfs/arcstats ]]; then zfs=true; fi
if (( $# == 0 )); then
  if $zfs; then
    echo "run.sh: no arguments: --reserve auto, the workload this host declares (arcadvise says so if it declares none)" >&2
    exec .bin/arcadvise --reserve auto
  fi
  root=testdata/declared/pve-libvirt-2.3.2-8G
  echo "run.sh: no zfs module on this machine; reading the bundled hypervisor $root with --reserve auto" >&2
  exec .bin/arcadvise --root "$root" --reserve auto
fi
for a in "$@"; do
  case $a in
    --root|--root=*|-h|--help|-V|--version) exec .bin/arcadvise "$@" ;;
  esac
done
if ! $zfs; then
  root=testdata/snapshots/zfs-2.3.2-pressure
  echo "run.sh: no zfs module on this machine; reading the bundled snapshot $root" >&2
  exec .bin/arcadvise --root "$root" "$@"
fi
exec .bin/arcadvise "$@"
