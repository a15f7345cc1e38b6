# shellcheck shell=bash disable=SC2034,SC2154,SC1090,SC1091
# s-live.sh - scenario b (live): `--live` applies the recommendation now and c_max follows. A value
# the module ignores (below 64 MiB) is refused without --force (exit 2); with --force it is written
# and arcadvise detects from arcstats c_max that the module ignored it: exit 4. A value at or below
# c_min: the module ignores it when written alone (shown with a raw sysfs write); arcadvise lowers
# zfs_arc_min first, so the module accepts it: exit 0.
# LIVE_RESERVE differs from RESERVE so that the recommendation differs from the c_max the model
# scenario left behind. c_max must equal what --live applied (its own JSON: the recommendation of
# its own reading), and that must be within 64 MiB of a separate `--reserve` reading just before:
# two readings of a live host differ (the measured host in use moves with the ARC and the page
# cache), and since the cap is rounded to steps of at most 1/64 of it (16 MiB here) a few MiB of
# difference can cross a step; on 2026-12-07 (2.1.11) the two gave 2080374784 and 2063597568.

LIVE_RESERVE=${LIVE_RESERVE:-1536M}

live_main() {
  local d=$OUT/live rec liverec rc1 rc2 rc3 rc4 cmax0 cmax1 cmax2 cmax3 cmax4 cmin cmin4 low p2 p3
  mkdir -p "$d"
  if ! has_flag --live; then result live SKIP - "this arcadvise has no --live"; return; fi
  "$AA" --reserve "$LIVE_RESERVE" --format json >"$d/recommend.json" 2>"$d/recommend.err"
  rec=$(jq -r '.recommendation.zfs_arc_max_bytes // 0' "$d/recommend.json" 2>/dev/null)
  cmax0=$(arcget c_max); cmin=$(arcget c_min)
  # 1. the recommendation, live
  "$AA" --reserve "$LIVE_RESERVE" --live --format json >"$d/1-live.json" 2>"$d/1-live.err"; rc1=$?
  liverec=$(jq -r '.recommendation.zfs_arc_max_bytes // 0' "$d/1-live.json" 2>/dev/null)
  sleep 1; cmax1=$(arcget c_max)
  # 2. 16 MiB (below the module's 64 MiB floor) without --force: refused, nothing written
  "$AA" --arc-max 16M --live >"$d/2-refused.txt" 2>&1; rc2=$?
  p2=$(cat $P/zfs_arc_max)
  # 3. the same with --force: written, ignored by the module, detected from c_max
  "$AA" --arc-max 16M --live --force >"$d/3-16M-force.txt" 2>&1; rc3=$?
  sleep 1; cmax2=$(arcget c_max); p3=$(cat $P/zfs_arc_max)
  snap 40-live-ignored "after arcadvise --arc-max 16M --live --force: parameter $p3, c_max $cmax2"
  # 4. a value at or below c_min (c_min rounded down to a MiB; above 64 MiB on a 4 GiB guest).
  # 4a. written straight to sysfs, the module ignores it: c_max does not move (the rule itself).
  low=$(( cmin / MiB ))
  printf '%s\n' $((low * MiB)) >"$P/zfs_arc_max"
  sleep 1; cmax3=$(arcget c_max)
  # 4b. arcadvise lowers zfs_arc_min first so the module accepts it (issue 3: "zfs_arc_min first
  # when it must go down"), no --force needed: exit 0, c_min below the value, c_max == the value.
  "$AA" --arc-max "${low}M" --live >"$d/4-le-cmin.txt" 2>&1; rc4=$?
  sleep 1; cmax4=$(arcget c_max); cmin4=$(arcget c_min)
  dmesg | grep -i 'ignoring tunable' | tail -3 >"$d/dmesg-ignoring.txt"
  chk_reset
  chk "--reserve $LIVE_RESERVE --live exit $rc1 == 0" "$rc1 == 0"
  chk "c_max $cmax1 == what --live applied, its recommendation ${liverec:-none} (was $cmax0)" "${liverec:-0} > 0 && $cmax1 == ${liverec:-0}"
  chk "--live's recommendation ${liverec:-none} within 64 MiB of the reading before ($rec)" "${rec:-0} > 0 && ${liverec:-0} >= ${rec:-0} - 64 * MiB && ${liverec:-0} <= ${rec:-0} + 64 * MiB"
  chk "recommendation differs from the c_max before ($cmax0), so the change is visible" "${liverec:-0} != $cmax0"
  chk "--arc-max 16M --live (no --force) exit $rc2 == 2" "$rc2 == 2"
  chk "refused write left the parameter alone ($p2 != 16777216)" "$p2 != 16777216"
  chk "--arc-max 16M --live --force exit $rc3 == 4" "$rc3 == 4"
  chk "c_max unchanged after 16M ($cmax2 == $cmax1)" "$cmax2 == $cmax1"
  chk "raw sysfs write of ${low}M (<= c_min $cmin) ignored by the module: c_max $cmax3 == $cmax1" "$cmax3 == $cmax1"
  chk "--arc-max ${low}M --live exit $rc4 == 0 (zfs_arc_min lowered first)" "$rc4 == 0"
  chk "c_min lowered below the value ($cmin4 < $((low * MiB)))" "$cmin4 < $((low * MiB))"
  chk "c_max $cmax4 == ${low}M ($((low * MiB)))" "$cmax4 == $((low * MiB))"
  result live "$(chk_status)" "rec=$rec live_rec=${liverec:-none} c_max:$cmax0->$cmax1 exit:live=$rc1 16M=$rc2 16M+force=$rc3(param=$p3,c_max=$cmax2) raw-${low}M:c_max=$cmax3 ${low}M=$rc4(c_min:$cmin->$cmin4,c_max=$cmax4)" "$CHK_FAILS"
}
