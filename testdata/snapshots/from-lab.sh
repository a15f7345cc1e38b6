#!/usr/bin/env bash
# from-lab.sh STEPDIR DEST [CMDLINE]
# Turns one snapshot directory of the lab's captures (arcstats, meminfo,
# pressure_memory, vmstat, zfs_version, params_arc) into a root directory
# that arcadvise reads with --root: DEST/proc/..., DEST/sys/module/zfs/...
set -euo pipefail
src=$1 dest=$2 cmdline=${3:-}
rm -rf "$dest"
mkdir -p "$dest/proc/spl/kstat/zfs" "$dest/proc/pressure" "$dest/sys/module/zfs/parameters"
cp "$src/arcstats" "$dest/proc/spl/kstat/zfs/arcstats"
cp "$src/meminfo" "$dest/proc/meminfo"
[[ -s $src/pressure_memory ]] && cp "$src/pressure_memory" "$dest/proc/pressure/memory"
[[ -s $src/vmstat ]] && cp "$src/vmstat" "$dest/proc/vmstat"
cp "$src/zfs_version" "$dest/sys/module/zfs/version"
while read -r name value; do
  printf '%s\n' "$value" >"$dest/sys/module/zfs/parameters/$name"
done <"$src/params_arc"
[[ -n $cmdline ]] && printf '%s\n' "$cmdline" >"$dest/proc/cmdline"
[[ -s $src/timestamp ]] && head -1 "$src/timestamp" >"$dest/TAKEN_AT"
exit 0
