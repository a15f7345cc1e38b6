#!/usr/bin/env bash
# run.sh [arcadvise flags...]: build arcadvise into .bin/ and run it; its exit
# status is arcadvise's. On a host with the zfs module loaded it reads the host
# itself (/). Elsewhere, unless you give --root, it reads a bundled real host
# snapshot (OpenZFS 2.3.2 under memory pressure, from our lab) and says so.
# With no arguments at all it asks for a 2 GiB reservation. Needs Go 1.26+;
# modules come from the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")"
vcs=false
if git rev-parse --git-dir >/dev/null 2>&1; then vcs=true; fi   # stamps the revision for --version
go build -buildvcs="$vcs" -o .bin/arcadvise ./cmd/arcadvise
if (( $# == 0 )); then
  set -- --reserve 2G
fi
for a in "$@"; do
  case $a in
    --root|--root=*|-h|--help|-V|--version) exec .bin/arcadvise "$@" ;;
  esac
done
if [[ ! -r /proc/spl/kstat/zfs/arcstats ]]; then
  root=testdata/snapshots/zfs-2.3.2-pressure
  echo "run.sh: no zfs module on this machine; reading the bundled snapshot $root" >&2
  exec .bin/arcadvise --root "$root" "$@"
fi
exec .bin/arcadvise "$@"
