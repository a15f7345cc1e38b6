# shellcheck shell=bash disable=SC2034,SC2154,SC1090,SC1091
# lib.sh - helpers for the lane's guest scenarios (sourced by run.sh; bash, runs as root in the guest).
# Results: $OUT/results.tsv, one line per scenario:
#   SCENARIO <TAB> PASS|FAIL|SKIP <TAB> key=value key=value ... <TAB> reason (empty on PASS)
# Snapshots for testdata: $OUT/snap/<step>/ laid out like an arcadvise --root (proc/..., sys/module/zfs/...).

K=${LANE_ARCSTATS:-/proc/spl/kstat/zfs/arcstats}   # LANE_*: only for trying the scripts on a snapshot
MEMINFO=${LANE_MEMINFO:-/proc/meminfo}
ZFSVER=${LANE_ZFSVER:-/sys/module/zfs/version}
P=/sys/module/zfs/parameters
AA=${LANE_ARCADVISE:-/usr/local/bin/arcadvise}
MiB=1048576

ts()  { date -u +%FT%T.%3NZ; }
say() { echo "[$(ts)] $*"; echo "lane: $*" >/dev/kmsg 2>/dev/null || true; }
arcget() { awk -v k="$1" '$1==k{print $3}' "$K"; }
memkb()  { awk -v k="$1:" '$1==k{print $2}' /proc/meminfo; }
vmget()  { awk -v k="$1" '$1==k{print $2}' /proc/vmstat; }
# sum of the allocstall_* counters (kernel direct reclaim entries, one per zone type)
allocstall() { awk '$1 ~ /^allocstall_/{s+=$2}END{print s+0}' /proc/vmstat; }
# PSI memory total stall in microseconds: psi some|full
psi_total() { awk -v w="$1" '$1==w{for(i=2;i<=NF;i++){split($i,x,"=");if(x[1]=="total")print x[2]}}' /proc/pressure/memory; }
has_flag() { "$AA" --help 2>&1 | grep -q -- "$1"; }
min() { if (( $1 < $2 )); then echo "$1"; else echo "$2"; fi; }
max() { if (( $1 > $2 )); then echo "$1"; else echo "$2"; fi; }
mib() { awk -v b="$1" 'BEGIN{printf "%.1f", b/1048576}'; }

# result SCENARIO STATUS NUMBERS [REASON]
# boot1_state SCENARIO: in the second boot, the state the first boot of SCENARIO saved in
# /var/lib/lane/SCENARIO.env, sourced; without it a FAIL row and status 1.
boot1_state() {
  [ -f "/var/lib/lane/$1.env" ] || { result "$1" FAIL - "boot 2 without the state of boot 1"; return 1; }
  # shellcheck disable=SC1090
  . "/var/lib/lane/$1.env"
}

result() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "${3:--}" "${4:-}" >>"$OUT/results.tsv"
  say "RESULT $1 $2 ${3:-} ${4:-}"
}

# Assertions: chk_reset; chk "what" ARITH-EXPR ...; then $CHK_FAILS holds the failed ones ("" = all held).
CHK_FAILS=""
chk_reset() { CHK_FAILS=""; }
chk() { # chk DESCRIPTION EXPR: EXPR is a bash arithmetic expression
  local d=$1 e=$2
  if ! (( e )); then CHK_FAILS="${CHK_FAILS:+$CHK_FAILS; }$d"; say "  check failed: $d [$e]"; fi
}
chk_status() { if [ -z "$CHK_FAILS" ]; then echo PASS; else echo FAIL; fi; }

# snap STEP [NOTE]: a --root-shaped copy of what arcadvise reads, plus notes (small text files only)
snap() {
  local d=$OUT/snap/$1
  mkdir -p "$d/proc/spl/kstat/zfs" "$d/proc/pressure" "$d/sys/module/zfs/parameters"
  cat $K >"$d/proc/spl/kstat/zfs/arcstats"
  cat /proc/meminfo >"$d/proc/meminfo"
  cat /proc/pressure/memory >"$d/proc/pressure/memory"
  cat /proc/vmstat >"$d/proc/vmstat"
  cat /proc/zoneinfo >"$d/proc/zoneinfo"
  mkdir -p "$d/proc/sys/kernel" "$d/proc/sys/vm"; cat /proc/sys/kernel/osrelease >"$d/proc/sys/kernel/osrelease"
  [ -r /proc/sys/vm/watermark_boost_factor ] && cat /proc/sys/vm/watermark_boost_factor >"$d/proc/sys/vm/watermark_boost_factor"   # the free floor's boost (README; Linux 5.0 on)
  cat /proc/cmdline >"$d/proc/cmdline"
  grep -vE '^(sysfs|proc|devtmpfs|devpts|cgroup2?|securityfs|pstore|bpf|debugfs|tracefs|configfs|fusectl|mqueue|hugetlbfs|9p) ' /proc/mounts >"$d/proc/mounts"
  cat /sys/module/zfs/version >"$d/sys/module/zfs/version"
  local p; for p in $P/zfs_arc_* $P/zfs_max_recordsize; do [ -e "$p" ] && cat "$p" >"$d/sys/module/zfs/parameters/${p##*/}"; done  # zfs_max_recordsize: the ARC overrun (README)
  if ls /etc/modprobe.d/*.conf >/dev/null 2>&1; then mkdir -p "$d/etc/modprobe.d"; cp -p /etc/modprobe.d/*.conf "$d/etc/modprobe.d/"; fi
  cp /etc/os-release "$d/os-release" 2>/dev/null && mkdir -p "$d/etc" && mv "$d/os-release" "$d/etc/os-release"
  { ts; uname -r; echo "${2:-}"; } >"$d/NOTE"
  say "snap $1: c=$(arcget c) size=$(arcget size) c_max=$(arcget c_max) ${2:-}"
}

# Timeline of c / size / reclaim counters once a second, in the background (TL = its pid).
TL=""
timeline_start() { # timeline_start FILE
  local f=$1
  # the columns after psi_some_total_us say where the fight starts: free pages and the inactive
  # file pages the module counts as free (arc_free_memory, module/os/linux/zfs/arc_os.c), kswapd's
  # and direct reclaim's scans, and the refaults of evicted file pages (thrashing, a PSI stall);
  # then, from /proc/zoneinfo summed over the zones, the watermark boost in force (the kernel adds
  # it to min, low and high: whether the free floor's boost term was there when a stall came) and
  # the free pages on the per-CPU lists (counted in no zone's free pages)
  printf 't_s\tc\tsize\tc_max\tarc_no_grow\tmemory_direct_count\tmemory_indirect_count\tMemAvailable_kB\tallocstall\tpsi_some_total_us\tMemFree_kB\tInactive_file_kB\tActive_file_kB\tpgscan_kswapd\tpgscan_direct\tworkingset_refault_file\tboost_kB\tpcp_count_kB\n' >"$f"
  ( t0=$(date +%s.%N)
    while :; do
      now=$(date +%s.%N)
      a=$(awk '$1~/^(c|size|c_max|arc_no_grow|memory_direct_count|memory_indirect_count)$/{v[$1]=$3}
               END{printf "%s\t%s\t%s\t%s\t%s\t%s",v["c"],v["size"],v["c_max"],v["arc_no_grow"],v["memory_direct_count"],v["memory_indirect_count"]}' $K)
      printf '%s\t%s\t%s\t%s\t%s' "$(awk -v a="$now" -v b="$t0" 'BEGIN{printf "%.1f",a-b}')" "$a" \
        "$(memkb MemAvailable)" "$(allocstall)" "$(psi_total some)" >>"$f"
      awk '$1=="MemFree:"{f=$2} $1=="Inactive(file):"{i=$2} $1=="Active(file):"{a=$2}
           END{printf "\t%s\t%s\t%s", f, i, a}' /proc/meminfo >>"$f"
      awk '$1=="pgscan_kswapd"{k=$2} $1=="pgscan_direct"{d=$2} $1=="workingset_refault_file"||$1=="workingset_refault"{r=$2}
           END{printf "\t%s\t%s\t%s", k, d, r}' /proc/vmstat >>"$f"
      awk '$1=="boost"{b+=$2} $1=="count:"{c+=$2} END{printf "\t%d\t%d\n", b*4, c*4}' /proc/zoneinfo >>"$f"   # pages of 4 KiB
      sleep 1
    done ) &
  TL=$!
}
timeline_stop() { [ -n "$TL" ] && kill "$TL" 2>/dev/null; wait "$TL" 2>/dev/null; TL=""; }

# Replay recorder (docs/replay.md format): a snapshot of the four files every $2 s into DIR.
RP=""
replay_start() { # replay_start DIR INTERVAL
  local dir=$1 iv=$2
  mkdir -p "$dir"
  ( i=0; t0=$(date +%s.%N)
    printf 'arcadvise replay 1\n# recorded by test/vm (arcadvise real-kernel lane), %s\nstart %s\n' "$(uname -r)" "$(date -u -d @"$t0" +%FT%T.%3NZ)" >"$dir/arcadvise-replay"
    while :; do
      now=$(date +%s.%N); s=$(printf 'snap-%03d' "$i")
      mkdir -p "$dir/$s/proc/spl/kstat/zfs" "$dir/$s/proc/pressure"
      cat $K >"$dir/$s/proc/spl/kstat/zfs/arcstats"; cat /proc/meminfo >"$dir/$s/proc/meminfo"
      cat /proc/pressure/memory >"$dir/$s/proc/pressure/memory"; cat /proc/vmstat >"$dir/$s/proc/vmstat"
      printf '%ss\t%s\n' "$(awk -v a="$now" -v b="$t0" 'BEGIN{printf "%.3f",a-b}')" "$s" >>"$dir/arcadvise-replay"
      i=$((i+1)); sleep "$iv"
    done ) &
  RP=$!; RPDIR=$dir
}
replay_stop() { # stop the recorder, drop a snapshot it was writing when stopped (not in the manifest)
  local s
  [ -n "$RP" ] && kill "$RP" 2>/dev/null; wait "$RP" 2>/dev/null; RP=""
  for s in "$RPDIR"/snap-*; do
    grep -q "[[:space:]]${s##*/}\$" "$RPDIR/arcadvise-replay" || rm -rf "$s"
  done
}

# Pool with incompressible data larger than RAM (made once per boot-1; later scenarios reuse it).
POOL=lane
pool_ready() { zpool list "$POOL" >/dev/null 2>&1 && [ -f "/$POOL/.filled" ]; }
pool_create() {
  zpool list "$POOL" >/dev/null 2>&1 && return 0
  zpool create -f -o ashift=12 -O compression=off -O atime=off -O recordsize=1M -m "/$POOL" "$POOL" /dev/vdb
}
# pool_fill NFILES FILE_MIB: write NFILES files of FILE_MIB from /dev/urandom
pool_fill() {
  local n=$1 mb=$2 i t=$SECONDS
  pool_create || return 1
  pool_ready && return 0
  for i in $(seq 1 "$n"); do dd if=/dev/urandom of="/$POOL/f$i" bs=1M count="$mb" status=none || return 1; done
  zpool sync "$POOL"
  echo "$n $mb" >"/$POOL/.filled"
  say "pool: wrote $((n*mb)) MiB in $((SECONDS-t))s"
}
read_all() { local f; for f in /$POOL/f*; do cat "$f" >/dev/null; done; }
