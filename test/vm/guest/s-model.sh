# shellcheck shell=bash disable=SC2034,SC2154,SC1090,SC1091
# s-model.sh - scenario d (model) and e (sample).
# d: a workload that really holds RESERVE (stress-ng --vm 1 --vm-bytes R --vm-keep, 60 s) beside a
#    reader that streams files larger than RAM from the pool; once with the module's default cap,
#    once with the cap arcadvise recommends for R. Deltas over each window: arcstats
#    memory_direct_count / memory_indirect_count, vmstat allocstall_* (sum) and oom_kill, PSI
#    memory some/full total stall; the lowest c (sampled once a second).
# e: `arcadvise --sample 60s --reserve R --format json` over the same two windows.
#
# PASS for d (thresholds, see docs/real-kernel.md for why):
#   1. the default run shows pressure: ARC reclaim callbacks (direct+indirect) >= 50, or direct
#      reclaim (memory_direct_count + allocstall) >= 1, or PSI some >= 20 ms; otherwise the
#      workload proved nothing and the scenario fails;
#   2. the capped run has no OOM kill;
#   3. direct reclaim (memory_direct_count + allocstall) with the cap <= 1/4 of the default run's;
#   4. ARC reclaim callbacks (memory_indirect_count) with the cap <= 1/4 of the default run's;
#   5. PSI some stall with the cap <= 1/4 of the default run's + 20 ms (scheduler noise under TCG).
# PASS for e: the default window's pressure.level is moderate or high, the capped one's none or low.

WINDOW_S=${WINDOW_S:-60}
DATA_FILES=${DATA_FILES:-5}          # x 1024 MiB of incompressible data: more than the 4 GiB of RAM
FILE_MB=${FILE_MB:-1024}

counters() { # counters PREFIX: print PREFIX_key=value for the deltas' inputs
  printf '%s_direct=%s %s_indirect=%s %s_throttle=%s %s_allocstall=%s %s_oom=%s %s_psi_some_us=%s %s_psi_full_us=%s %s_pgscan_direct=%s %s_pgscan_kswapd=%s %s_c=%s\n' \
    "$1" "$(arcget memory_direct_count)" "$1" "$(arcget memory_indirect_count)" "$1" "$(arcget memory_throttle_count)" \
    "$1" "$(allocstall)" "$1" "$(vmget oom_kill)" "$1" "$(psi_total some)" "$1" "$(psi_total full)" \
    "$1" "$(vmget pgscan_direct)" "$1" "$(vmget pgscan_kswapd)" "$1" "$(arcget c)"
}

# model_window NAME: one 60 s window; writes $OUT/model/NAME.env (shell-sourceable key=value)
model_window() {
  local name=$1 d=$OUT/model reader st sp=0 src=0 sarc=0 t
  mkdir -p "$d"
  t=$SECONDS; read_all; say "$name: warm read of $((DATA_FILES*FILE_MB)) MiB in $((SECONDS-t))s, size=$(arcget size) c=$(arcget c) c_max=$(arcget c_max)"
  if [ "$name" = default ]; then
    snap 10-arc-filled "ARC warm, default cap"
    [ "$WANT_PARSE" = 1 ] && parse_moment filled $((16*MiB))
  fi
  ( while :; do read_all; done ) & reader=$!
  sleep 3
  counters b >"$d/$name.before"
  timeline_start "$d/$name-timeline.tsv"
  replay_start "$OUT/replay/$name" 10
  if [ "$WANT_SAMPLE" = 1 ] && has_flag --sample; then
    "$AA" --sample "${WINDOW_S}s" --reserve "$RESERVE" --format json >"$d/$name-sample.json" 2>"$d/$name-sample.err" & sp=$!
  fi
  say "$name: stress-ng --vm 1 --vm-bytes $RESERVE --vm-keep --timeout ${WINDOW_S}s (+ reader)"
  stress-ng --vm 1 --vm-bytes "$RESERVE" --vm-keep --timeout "${WINDOW_S}s" --metrics-brief >"$d/$name-stress.log" 2>&1 & st=$!
  sleep 25
  if [ "$name" = default ]; then
    snap 20-default-pressure "stress-ng holding $RESERVE for 25 s + reader, default cap"
    [ "$WANT_PARSE" = 1 ] && parse_moment pressure $((64*MiB))
  else
    snap 30-capped-pressure "stress-ng holding $RESERVE for 25 s + reader, cap $(arcget c_max)"
  fi
  wait "$st"; src=$?
  counters a >"$d/$name.after"
  if [ "$sp" != 0 ]; then wait "$sp"; sarc=$?; fi
  kill "$reader" 2>/dev/null; wait "$reader" 2>/dev/null
  timeline_stop; replay_stop
  local cmin
  cmin=$(awk -F'\t' 'NR>1 && $2!="" {if(m==""||$2<m)m=$2}END{print m}' "$d/$name-timeline.tsv")
  ( . "$d/$name.before"; . "$d/$name.after"   # b_* and a_*
    echo "${name}_c_max=$(arcget c_max)"
    echo "${name}_direct=$((a_direct - b_direct))"
    echo "${name}_indirect=$((a_indirect - b_indirect))"
    echo "${name}_throttle=$((a_throttle - b_throttle))"
    echo "${name}_allocstall=$((a_allocstall - b_allocstall))"
    echo "${name}_oom_kill=$((a_oom - b_oom))"
    echo "${name}_psi_some_ms=$(( (a_psi_some_us - b_psi_some_us) / 1000 ))"
    echo "${name}_psi_full_ms=$(( (a_psi_full_us - b_psi_full_us) / 1000 ))"
    echo "${name}_pgscan_direct=$((a_pgscan_direct - b_pgscan_direct))"
    echo "${name}_pgscan_kswapd=$((a_pgscan_kswapd - b_pgscan_kswapd))"
    echo "${name}_c_start=$b_c"
    echo "${name}_c_min=${cmin:-$a_c}"
    echo "${name}_stress_rc=$src"
    echo "${name}_sample_rc=$sarc"
  ) >"$d/$name.env"
  say "$name: $(tr '\n' ' ' <"$d/$name.env")"
  sleep 10   # let memory settle before the next step
}

model_main() {
  local d=$OUT/model rc rec how lrc applied
  mkdir -p "$d"
  pool_fill "$DATA_FILES" "$FILE_MB" || { result model FAIL - "could not create or fill the pool"; return; }
  "$AA" --reserve "$RESERVE" --format json >"$d/recommend.json" 2>"$d/recommend.err"; rc=$?
  rec=$(jq -r '.recommendation.zfs_arc_max_bytes // 0' "$d/recommend.json" 2>/dev/null)
  if [ "$rc" = 3 ]; then
    result model FAIL "reserve=$RESERVE" "arcadvise says over-committed (exit 3) for --reserve $RESERVE: lower RESERVE"
    return
  fi
  if [ "$rc" != 0 ] || [ "${rec:-0}" -le 0 ]; then
    result model FAIL "reserve=$RESERVE" "arcadvise --reserve $RESERVE --format json exit $rc, recommendation '${rec}'"
    return
  fi
  echo "recommended=$rec" >"$d/model.env"
  echo "default_cap=$(arcget c_max)" >>"$d/model.env"
  model_window default
  # apply the recommended cap: arcadvise --live when it exists, else the sysfs write it would do
  if has_flag --live; then
    # the cap --live computes and applies now: the host is measured again, so it can differ by a
    # rounding step from the one read before the default window; the capped window runs at this one
    "$AA" --reserve "$RESERVE" --live --format json >"$d/apply-live.json" 2>"$d/apply-live.err"; lrc=$?
    how="arcadvise --reserve $RESERVE --live (exit $lrc)"
    applied=$(jq -r '.recommendation.zfs_arc_max_bytes // 0' "$d/apply-live.json" 2>/dev/null)
    if [ "${applied:-0}" -gt 0 ] && [ "$applied" != "$rec" ]; then
      echo "recommended_before_default_window=$rec" >>"$d/model.env"; rec=$applied
      echo "recommended=$rec" >>"$d/model.env"
    fi
  else
    lrc=0; printf '%s\n' "$rec" >"$P/zfs_arc_max" || lrc=$?; how="echo $rec > $P/zfs_arc_max (exit $lrc)"
  fi
  sleep 2
  echo "apply=\"$how\"" >>"$d/model.env"
  say "capped: applied with $how, c_max=$(arcget c_max)"
  model_window capped
  cat "$d/default.env" "$d/capped.env" >>"$d/model.env"
  model_verdict "$lrc"
  [ "$WANT_SAMPLE" = 1 ] && sample_verdict
}

model_verdict() {
  local lrc=$1
  ( . "$OUT/model/model.env"
    dd=$((default_direct + default_allocstall)); cd=$((capped_direct + capped_allocstall))
    di=$default_indirect; ci=$capped_indirect
    nums="R=$RESERVE rec=$recommended default_cap=$default_cap"
    nums="$nums | default: direct=$default_direct indirect=$default_indirect allocstall=$default_allocstall oom_kill=$default_oom_kill psi_some_ms=$default_psi_some_ms psi_full_ms=$default_psi_full_ms c_min=$default_c_min"
    nums="$nums | capped: direct=$capped_direct indirect=$capped_indirect allocstall=$capped_allocstall oom_kill=$capped_oom_kill psi_some_ms=$capped_psi_some_ms psi_full_ms=$capped_psi_full_ms c_min=$capped_c_min"
    chk_reset
    chk "cap applied (exit $lrc, c_max $capped_c_max == rec $recommended)" "$lrc == 0 && $capped_c_max == $recommended"
    chk "default run shows pressure (reclaim $((default_direct + default_indirect)) >= 50 or direct $dd >= 1 or psi some ${default_psi_some_ms}ms >= 20)" \
        "$default_direct + $default_indirect >= 50 || $dd >= 1 || $default_psi_some_ms >= 20"
    chk "capped: no OOM kill ($capped_oom_kill)" "$capped_oom_kill == 0"
    chk "capped direct reclaim $cd <= default $dd / 4" "$cd <= $dd / 4"
    chk "capped ARC indirect reclaim $ci <= default $di / 4" "$ci <= $di / 4"
    chk "capped PSI some ${capped_psi_some_ms}ms <= default ${default_psi_some_ms}ms / 4 + 20ms" "$capped_psi_some_ms <= $default_psi_some_ms / 4 + 20"
    result model "$(chk_status)" "$nums" "$CHK_FAILS"
  )
}

sample_verdict() {
  local d=$OUT/model dl cl ds cs
  if ! has_flag --sample; then result sample SKIP - "this arcadvise has no --sample"; return; fi
  dl=$(jq -r '.pressure.level // empty' "$d/default-sample.json" 2>/dev/null)
  cl=$(jq -r '.pressure.level // empty' "$d/capped-sample.json" 2>/dev/null)
  ds=$(jq -r '[.pressure.signals[]? | select(.level != "none") | .name] | join(",")' "$d/default-sample.json" 2>/dev/null)
  cs=$(jq -r '[.pressure.signals[]? | select(.level != "none") | .name] | join(",")' "$d/capped-sample.json" 2>/dev/null)
  ( . "$d/model.env"
    chk_reset
    chk "default --sample exit $default_sample_rc is 0 or 3" "$default_sample_rc == 0 || $default_sample_rc == 3"
    chk "capped --sample exit $capped_sample_rc is 0 or 3" "$capped_sample_rc == 0 || $capped_sample_rc == 3"
    chk "window present" "$(jq -e '.window' "$d/default-sample.json" >/dev/null 2>&1 && jq -e '.window' "$d/capped-sample.json" >/dev/null 2>&1 && echo 1 || echo 0)"
    chk "default level '$dl' is moderate|high" "$(case $dl in moderate|high) echo 1;; *) echo 0;; esac)"
    chk "capped level '$cl' is none|low" "$(case $cl in none|low) echo 1;; *) echo 0;; esac)"
    result sample "$(chk_status)" "default=$dl [${ds:-no signal}] | capped=$cl [${cs:-no signal}]" "$CHK_FAILS"
  )
}
