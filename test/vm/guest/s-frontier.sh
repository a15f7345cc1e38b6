# shellcheck shell=bash disable=SC2034,SC2154,SC1090,SC1091
# s-frontier.sh - scenario j (frontier, opt-in): where is the largest cap that never fights the
# workload? A ladder of caps in steps of FRONTIER_STEP (256 MiB), from two steps below arcadvise's
# recommendation (at least 256 MiB) upwards, until a rung fights the workload (or the module's
# default); then FRONTIER_FINE (64 MiB) steps from C* up to the first cap that fought, so that C*
# is known to 64 MiB; plus arcadvise's own recommendation when it is not a rung. Per cap,
# the same warm-up and the same window:
#   warm-up: set zfs_arc_max, read the working set W in order until the ARC holds the cap;
#   window:  fio reads 1 MiB records at random over W (the pool's recordsize) for FRONTIER_WINDOW_S,
#            and 3 s in, the workload allocates (KIND, below) for the rest of the window.
# Per cap (frontier.tsv, one line each): deltas over the window of arcstats memory_direct_count,
# memory_indirect_count, demand data hits/misses, mru/mfu ghost hits, vmstat allocstall_* and
# oom_kill, PSI memory some/full total; the lowest c (sampled each second); fio's read throughput.
# W is larger than every cap under test (the default cap + 1 GiB, at least 4 GiB), so cache size
# matters to the reader.
#
# The workload, KIND (the lane's variable, kind= in the env file), R = RESERVE:
#   vm        stress-ng --vm 1 --vm-bytes R --vm-keep, all at once; arcadvise --reserve R.
#   steps     the same R in four steps of R/4, 6 s apart (a workload that grows); --reserve R.
#   huge      R held in huge pages from before the ladder (HugePages_Total = R, every page used
#             through a hugetlbfs file, as a hugepage-backed VM holds its memory); nothing else
#             allocates in the window; arcadvise --reserve 0 (the hugepages term counts R).
#   declared  stress-ng as in vm, in lane.slice, where a unit started with systemd-run
#             --slice=lane.slice -p MemoryMin=R declares R (the slice has MemoryMin=R too, so
#             that the kernel holds it); arcadvise --reserve auto.
#
# C* is the largest cap whose window has no direct reclaim (memory_direct_count + allocstall = 0),
# no OOM kill, and PSI some <= FRONTIER_PSI_MS (default 20 ms), below the lowest cap whose window
# fought (a clean window above that was luck: the ARC can hold there what fought below): under TCG the guest's scheduler
# noise alone stays below 20 ms per window, measured in the model scenario's capped windows (0 ms
# on both variants) and the same threshold the model scenario uses; any real reclaim stall the lane
# has seen was above 100 ms.
#
# arcadvise runs before the ladder as on a host at work (ARC warm at the default cap, the reader
# going, the workload's declaration in place, nothing allocating): `--format json` gives the recommendation; `--sample` over the
# default cap's window gives the what-if (its predicted C*). Both are checked against C*:
#   PASS: recommendation window clean (no direct reclaim, no OOM), recommendation >= 0.9 x C*,
#         what-if predicted C* within 5% of the measured C*.

FRONTIER_STEP=${FRONTIER_STEP:-$((256*MiB))}
FRONTIER_FINE=${FRONTIER_FINE:-$((64*MiB))}
FR_KIND=$(sed -n 's/^kind=//p' "${L:-/nonexistent}/env" 2>/dev/null | head -1); FR_KIND=${FR_KIND:-vm}
FR_RES=()   # arcadvise's workload flags for this KIND (fr_setup)
FRONTIER_WINDOW_S=${FRONTIER_WINDOW_S:-40}
# The default cap's window, which --sample watches for the what-if, is longer: there the workload
# fights the ARC for all its memory and, on the 8 GiB guest, had taken 4.7 of its 5 GiB when a
# 40 s window ended (2.3.2, 2026-12-07 13:49: 150 MiB/s against 600 and more under a cap), so
# the what-if never saw it whole.
FRONTIER_SAMPLE_S=${FRONTIER_SAMPLE_S:-80}
FRONTIER_PSI_MS=${FRONTIER_PSI_MS:-20}

fr_counters() { # fr_counters PREFIX
  printf '%s_direct=%s %s_indirect=%s %s_allocstall=%s %s_oom=%s %s_psi_some_us=%s %s_psi_full_us=%s %s_hits=%s %s_misses=%s %s_mru_ghost=%s %s_mfu_ghost=%s\n' \
    "$1" "$(arcget memory_direct_count)" "$1" "$(arcget memory_indirect_count)" "$1" "$(allocstall)" "$1" "$(vmget oom_kill)" \
    "$1" "$(psi_total some)" "$1" "$(psi_total full)" "$1" "$(arcget demand_data_hits)" "$1" "$(arcget demand_data_misses)" \
    "$1" "$(arcget mru_ghost_hits)" "$1" "$(arcget mfu_ghost_hits)"
}

# fr_fill CAP: read the working set in order until the ARC holds CAP (less 32 MiB) or all of W was read
fr_fill() {
  local f
  for f in /$POOL/f*; do
    [ "$(arcget size)" -ge $(( $1 - 32*MiB )) ] && return 0
    cat "$f" >/dev/null
  done
}

fr_files() { local f s=""; for f in /$POOL/f*; do s="${s:+$s:}$f"; done; echo "$s"; }

# fr_window CAP LABEL [SAMPLE]: one warm-up + window at CAP bytes (0: the module's default); one line to frontier.tsv
fr_window() {
  local cap=$1 label=$2 sample=${3:-} d=$OUT/frontier fio st sp=0 t cmin bw c_max win=$FRONTIER_WINDOW_S
  [ -n "$sample" ] && win=$FRONTIER_SAMPLE_S
  printf '%s\n' "$cap" >"$P/zfs_arc_max" || { say "frontier: cannot set zfs_arc_max=$cap"; return 1; }
  sleep 1
  c_max=$(arcget c_max)
  t=$SECONDS; fr_fill "$c_max"
  say "frontier $label: cap $(mib "$c_max") MiB, warm-up $((SECONDS-t))s, size=$(mib "$(arcget size)") MiB"
  fio --name=ws --filename="$(fr_files)" --readonly --rw=randread --bs=1M --ioengine=psync \
    --file_service_type=random --time_based --runtime="$win" --output-format=json \
    >"$d/$label-fio.json" 2>"$d/$label-fio.err" & fio=$!
  sleep 1
  fr_counters b >"$d/$label.before"
  timeline_start "$d/$label-timeline.tsv"
  if [ -n "$sample" ]; then
    "$AA" --sample "$((win-4))s" "${FR_RES[@]}" --format json >"$d/whatif.json" 2>"$d/whatif.err" & sp=$!
  fi
  sleep 2
  fr_workload "$((win-4))" >"$d/$label-stress.log" 2>&1 & st=$!
  wait "$st"
  fr_counters a >"$d/$label.after"
  [ "$sp" != 0 ] && wait "$sp"
  wait "$fio"
  timeline_stop
  cmin=$(awk -F'\t' 'NR>1 && $2!="" {if(m==""||$2<m)m=$2}END{print m}' "$d/$label-timeline.tsv")
  bw=$(jq -r '.jobs[0].read.bw_bytes // 0' "$d/$label-fio.json" 2>/dev/null)
  ( . "$d/$label.before"; . "$d/$label.after"
    h=$((a_hits - b_hits)); m=$((a_misses - b_misses))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$c_max" \
      "$((a_direct - b_direct))" "$((a_indirect - b_indirect))" "$((a_allocstall - b_allocstall))" "$((a_oom - b_oom))" \
      "$(( (a_psi_some_us - b_psi_some_us) / 1000 ))" "$(( (a_psi_full_us - b_psi_full_us) / 1000 ))" \
      "${cmin:-0}" "$(awk -v h="$h" -v m="$m" 'BEGIN{if(h+m>0)printf "%.4f", h/(h+m); else print 0}')" \
      "$((a_mru_ghost - b_mru_ghost + a_mfu_ghost - b_mfu_ghost))" "${bw:-0}" "$((h + m))"
  ) | tee -a "$d/frontier.tsv" | sed 's/^/frontier: /' | while read -r l; do say "$l"; done
  sleep 3
}

# fr_setup: the workload's declaration, before anything is measured; sets FR_RES
fr_setup() {
  local pages
  case $FR_KIND in
    vm|steps) FR_RES=(--reserve "$RESERVE") ;;
    huge)
      pages=$((RESERVE_BYTES / (2 * MiB)))
      echo "$pages" >/proc/sys/vm/nr_hugepages
      [ "$(memkb HugePages_Total)" = "$pages" ] || { say "frontier: only $(memkb HugePages_Total) of $pages huge pages"; return 1; }
      mkdir -p /mnt/huge && mount -t hugetlbfs -o pagesize=2M none /mnt/huge &&
        fallocate -l "$RESERVE_BYTES" /mnt/huge/held || return 1
      [ "$(memkb HugePages_Free)" = 0 ] || { say "frontier: $(memkb HugePages_Free) huge pages still free"; return 1; }
      FR_RES=(--reserve 0) ;;
    declared)
      systemd-run --quiet --unit=lane-work --slice=lane.slice -p MemoryMin="$RESERVE" sleep infinity || return 1
      systemctl set-property --runtime lane.slice MemoryMin="$RESERVE" || return 1
      sleep 1
      FR_RES=(--reserve auto) ;;
    *) say "frontier: unknown kind $FR_KIND"; return 1 ;;
  esac
}

# fr_workload SECONDS: what allocates in a window, for SECONDS (see KIND above)
fr_workload() {
  local t=$1 q pids=() i
  case $FR_KIND in
    vm) stress-ng --vm 1 --vm-bytes "$RESERVE" --vm-keep --timeout "${t}s" ;;
    declared) systemd-run --quiet --scope --slice=lane.slice stress-ng --vm 1 --vm-bytes "$RESERVE" --vm-keep --timeout "${t}s" ;;
    steps)
      q=$((RESERVE_BYTES / 4))
      for i in 0 1 2 3; do
        stress-ng --vm 1 --vm-bytes "$q" --vm-keep --timeout "$((t - 6 * i))s" & pids+=($!)
        [ "$i" = 3 ] || sleep 6
      done
      wait "${pids[@]}" ;;
    huge) sleep "$t" ;;   # the huge pages are held all along
  esac
}

# fr_clean CAP: did the window at CAP (a c_max value in frontier.tsv) stay clean?
# FR_CLEAN: the rule (frontier.tsv: 3 direct reclaim, 5 allocstall, 6 OOM kills, 7 PSI some ms, p the
# threshold), for fr_clean and C* alike; the host's report applies the same (FR_CLEAN_AWK, lib-host.sh)
FR_CLEAN='$3+$5==0 && $6==0 && $7<=p'
fr_clean() {
  awk -F'\t' -v c="$1" -v p="$FRONTIER_PSI_MS" "NR>1 && \$2==c {ok = ($FR_CLEAN)} END{exit ok ? 0 : 1}" "$OUT/frontier/frontier.tsv"
}
fr_tested() { awk -F'\t' -v c="$1" 'NR>1 && $2==c {f=1} END{exit f ? 0 : 1}' "$OUT/frontier/frontier.tsv"; }
# fr_first_fight: the lowest cap whose window fought (0: none did). A cap at or above it lets the
# ARC hold what fought there, so a window above it that stayed clean was lucky, not safe.
fr_first_fight() {
  awk -F'\t' -v p="$FRONTIER_PSI_MS" "NR>1 && !($FR_CLEAN)"' {if (!f || $2 < f) f = $2} END{printf "%.0f\n", f}' "$OUT/frontier/frontier.tsv"
}
# fr_cstar: C*, the largest cap whose window stayed clean below the first that fought
fr_cstar() {
  awk -F'\t' -v p="$FRONTIER_PSI_MS" -v f="$(fr_first_fight)" "NR>1 && $FR_CLEAN"' && (f == 0 || $2 < f) {if ($2 > m) m = $2} END{printf "%.0f\n", m}' "$OUT/frontier/frontier.tsv"
}

# fr_settle: after the default cap's window, before the recommendation's. That window's fight
# throws page cache out (the binaries' pages too) and leaves the zones' watermarks boosted; the next
# window then paid for it: at 59f18cc the recommendation's window on the 8 GiB guest had 389 refaults
# and kswapd awake with never less than 305 MiB free, PSI 31 ms, where the ladder's windows had 0-18
# refaults. Wait (30 s at most) until no zone has a boost, then run the workload's and the
# reader's programs once, briefly, so that what they refault is refaulted here.
fr_settle() {
  local i t0=$SECONDS
  for ((i = 0; i < 30; i++)); do
    awk '$1 == "boost" && $2 > 0 {b = 1} END {exit b}' /proc/zoneinfo && break
    sleep 1
  done
  stress-ng --vm 1 --vm-bytes 16M --timeout 2s >/dev/null 2>&1
  fio --name=settle --filename="$(fr_files)" --readonly --rw=randread --bs=1M --ioengine=psync \
    --file_service_type=random --time_based --runtime=2 >/dev/null 2>&1
  echo "settle_s=$((SECONDS - t0))" >>"$OUT/frontier/frontier.env"
}

# fr_ladder REC DEF: the windows after the default's and the recommendation's, for REC the
# recommendation and DEF the module's default cap: rungs of FRONTIER_STEP from two below REC up to the
# first that fights (or DEF), down from there when every rung fought, then FRONTIER_FINE steps from C*
# up to the first cap that fought.
fr_ladder() {
  local rec=$1 def=$2 step lo cap clean ff fine
  # the ladder: from two rungs below the recommendation up to the first rung that fights
  step=$FRONTIER_STEP
  lo=$(( ($rec / step - 2) * step )); [ "$lo" -lt "$step" ] && lo=$step
  for ((cap = lo; cap < def; cap += step)); do
    fr_tested "$cap" || fr_window "$cap" "cap-$((cap / MiB))"
    fr_clean "$cap" || break
  done
  # every rung fought: down until one does not
  cap=$((lo - step))
  while [ "$(fr_cstar)" = 0 ] && [ "$cap" -ge "$step" ]; do
    fr_window "$cap" "cap-$((cap / MiB))"; cap=$((cap - step))
  done
  # finer steps from C* up to the first cap that fought (any window: a rung, the recommendation's,
  # the default's), so that C* is known to the fine step
  fine=$FRONTIER_FINE
  clean=$(fr_cstar); ff=$(fr_first_fight)
  if [ "$clean" -gt 0 ]; then
    for ((cap = clean + fine; cap < def && (ff == 0 || cap < ff); cap += fine)); do
      fr_tested "$cap" || fr_window "$cap" "fine-$((cap / MiB))"
      fr_clean "$cap" || break
    done
  fi
}

frontier_main() {
  local d=$OUT/frontier rc rec def w t0=$SECONDS files fio pcp boost shrink
  mkdir -p "$d"
  # PCP_FRACTION (the lane's variable): bound the per-CPU free lists (kernel
  # Documentation/admin-guide/sysctl/vm.rst, percpu_pagelist_high_fraction; zone_highsize() in
  # mm/page_alloc.c: at least 4 batches), to see how much of C*'s moves between runs they make
  pcp=$(sed -n 's/^pcp_fraction=//p' "$L/env" | head -1)
  if [ -n "$pcp" ]; then
    echo "$pcp" >/proc/sys/vm/percpu_pagelist_high_fraction ||
      { result frontier FAIL - "could not set vm.percpu_pagelist_high_fraction=$pcp"; return; }
  fi
  # BOOST_FACTOR (the lane's variable): the kernel raises min, low and high by watermark_boost
  # after an external fragmentation event, up to high x factor/10000 (boost_watermark() and
  # wmark_pages() in mm/page_alloc.c and include/linux/mmzone.h; sysctl/vm.rst,
  # watermark_boost_factor): the free level where the workload stalls moves with it
  boost=$(sed -n 's/^boost_factor=//p' "$L/env" | head -1)
  if [ -n "$boost" ]; then
    echo "$boost" >/proc/sys/vm/watermark_boost_factor ||
      { result frontier FAIL - "could not set vm.watermark_boost_factor=$boost"; return; }
  fi
  # SHRINKER_LIMIT (the lane's variable): the most pages arc_shrinker_count() offers the kernel's
  # shrinkers per call (module/os/linux/zfs/arc_os.c; 10000 up to 2.2.x, 0 = no limit from 2.3.0,
  # 54126fdb5b #16909). With 10000, do_shrink_slab() (mm/vmscan.c) scans the ARC only once
  # (10000 >> priority) * 4 / seeks, or the count deferred from earlier calls, reaches a batch of
  # 128: not at kswapd's first passes, where the ARC's whole evictable size does. 0 on 2.1.11 shows
  # what the limit does to C*
  shrink=$(sed -n 's/^shrinker_limit=//p' "$L/env" | head -1)
  if [ -n "$shrink" ]; then
    echo "$shrink" >/sys/module/zfs/parameters/zfs_arc_shrinker_limit ||
      { result frontier FAIL - "could not set zfs_arc_shrinker_limit=$shrink"; return; }
  fi
  fr_setup || { result frontier FAIL - "the $FR_KIND workload could not be set up"; return; }
  def=$(arcget c_max)
  w=$(( (def + 1024*MiB + 1024*MiB - 1) / (1024*MiB) )); [ "$w" -lt 4 ] && w=4
  pool_fill "$w" 1024 || { result frontier FAIL - "could not create or fill the pool"; return; }
  read_all
  # arcadvise reads the host as it runs before the workload starts: the ARC warm at the default
  # cap and the host's own reader going (a host's I/O is part of the host; read at a standstill,
  # the reader's memory and the I/O's kernel memory were missing from "host in use": 2.3.2, 4 GiB,
  # 54 MiB more non-ARC memory at the window's peak than at rest, R aside)
  fio --name=host --filename="$(fr_files)" --readonly --rw=randread --bs=1M --ioengine=psync \
    --file_service_type=random --time_based --runtime=60 >/dev/null 2>&1 & fio=$!
  sleep 10
  snap "50-frontier-rest-$(sed -n 's/^mem_mib=//p' "$L/env")M" "before the frontier: ARC warm at the default cap, the reader going, no workload"
  "$AA" "${FR_RES[@]}" --format json >"$d/recommend.json" 2>"$d/recommend.err"; rc=$?
  "$AA" "${FR_RES[@]}" >"$d/recommend.txt" 2>&1
  kill "$fio" 2>/dev/null; wait "$fio" 2>/dev/null
  rec=$(jq -r '.recommendation.zfs_arc_max_bytes // 0' "$d/recommend.json" 2>/dev/null)
  printf 'label\tc_max\tdirect\tindirect\tallocstall\toom_kill\tpsi_some_ms\tpsi_full_ms\tc_low\thit_ratio\tghost_hits\tread_bps\treads\n' >"$d/frontier.tsv"
  { echo "reserve=$RESERVE"; echo "reserve_bytes=$RESERVE_BYTES"; echo "default_cap=$def"; echo "recommended=${rec:-0}"
    echo "recommend_rc=$rc"; echo "mem_total=$(( $(memkb MemTotal) * 1024 ))"; echo "working_set=$((w * 1024 * MiB))"
    echo "window_s=$FRONTIER_WINDOW_S"; echo "sample_window_s=$FRONTIER_SAMPLE_S"; echo "step=$FRONTIER_STEP"; echo "fine_step=$FRONTIER_FINE"; echo "psi_ms=$FRONTIER_PSI_MS"
    echo "kind=$FR_KIND"; echo "arcadvise_args=\"${FR_RES[*]}\""
    echo "boost_factor=$boost"; echo "watermark_boost_factor=$(cat /proc/sys/vm/watermark_boost_factor)"
    echo "shrinker_limit=$shrink"; echo "zfs_arc_shrinker_limit=$(cat /sys/module/zfs/parameters/zfs_arc_shrinker_limit 2>/dev/null)"
    echo "pcp_fraction=$pcp"; echo "pcp_high_kib=$(awk '$1=="high:"{s+=$2} END{print s*4}' /proc/zoneinfo)"; } >"$d/frontier.env"   # zoneinfo counts pages: 4 KiB on x86_64
  # the default first, watched by --sample (the what-if)
  fr_window 0 default sample
  fr_settle
  [ "${rec:-0}" -gt 0 ] && [ "$rec" -lt "$def" ] && fr_window "$rec" recommended
  fr_ladder "${rec:-0}" "$def"
  echo "wall_s=$((SECONDS - t0))" >>"$d/frontier.env"
  frontier_verdict
}

frontier_verdict() {
  local d=$OUT/frontier
  ( . "$d/frontier.env"
    local defclean
    cstar=$(fr_cstar)
    recrow=$(awk -F'\t' -v r="$recommended" 'NR>1 && $2==r' "$d/frontier.tsv" | head -1)
    recclean=0; fr_clean "$recommended" && recclean=1   # the same rule as C*'s rungs
    pred=$(jq -r '.whatif.predicted_c_star_bytes // 0' "$d/whatif.json" 2>/dev/null)
    echo "c_star=$cstar" >>"$d/frontier.env"; echo "predicted=${pred:-0}" >>"$d/frontier.env"
    chk_reset
    chk "recommend exit $recommend_rc is 0" "$recommend_rc == 0"
    chk "measured C* found (${cstar})" "$cstar > 0"
    # the ladder stops at the module's default: when that fought nothing, C* lies above it, unmeasured
    defclean=0; fr_clean "$default_cap" && defclean=1
    chk "the module's default cap fought the workload (else C* is above it, beyond the ladder)" "$defclean == 0"
    chk "recommendation's window measured" "${#recrow} > 0"
    chk "recommendation's window clean (no direct reclaim, no OOM kill, PSI some <= ${psi_ms} ms)" "${recclean:-0} == 1"
    chk "recommendation $(mib "$recommended") MiB >= 0.9 x C* $(mib "$cstar") MiB" "$recommended * 100 >= $cstar * 90"
    chk "what-if predicted C* $(mib "${pred:-0}") MiB within 5% of C* $(mib "$cstar") MiB" \
        "${pred:-0} * 100 >= $cstar * 95 && ${pred:-0} * 100 <= $cstar * 105"
    result frontier "$(chk_status)" "kind=$kind R=$RESERVE default=$default_cap rec=$recommended c_star=$cstar predicted=${pred:-0} windows=$(( $(wc -l <"$d/frontier.tsv") - 1 )) wall_s=$wall_s" "$CHK_FAILS"
  )
}
