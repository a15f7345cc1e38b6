#!/usr/bin/env bash
# run.sh [arcadvise flags...]: build and run arcadvise. On a host with the
# zfs module loaded it reads the host itself (/); elsewhere it reads a
# bundled real host snapshot (OpenZFS 2.1.11 under memory pressure, from
# our lab). Needs Go 1.26+; modules come from the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")"
root=/
if [[ ! -r /proc/spl/kstat/zfs/arcstats ]]; then
  root=testdata/snapshots/zfs-2.1.11-pressure
  echo "run.sh: no zfs module on this machine; reading the bundled snapshot $root" >&2
fi
has_root=0
for a in "$@"; do [[ $a == --root || $a == --root=* ]] && has_root=1; done
if (( has_root )); then
  exec go run ./cmd/arcadvise "$@"
fi
if (( $# == 0 )); then
  set -- --reserve 2G
fi
exec go run ./cmd/arcadvise --root "$root" "$@"
