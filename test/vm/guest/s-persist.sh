# shellcheck shell=bash disable=SC2034,SC2154,SC1090,SC1091
# s-persist.sh - scenario c (persist): before the write `--check` exits 1 (drift); `--write` puts the
# recommendation into modprobe.d; after a real reboot of the guest c_max equals the value written
# and the check command `--write` printed (the reservation, and the host terms pinned with
# --host-base as they were measured at the write) exits 0. The value written is the recommendation
# of --write's own reading, within 64 MiB of a separate `--reserve` reading just before: two
# readings of a live host differ (on 2026-12-07, 2.3.2: 1493172224 and 1459617792, two 16 MiB
# steps apart).

persist_boot1() {
  local d=$OUT/persist rec rc0 rc1 rc2 written
  mkdir -p "$d" /var/lib/lane
  if ! has_flag --write || ! has_flag --check; then result persist SKIP - "this arcadvise has no --write/--check"; return 1; fi
  "$AA" --reserve "$RESERVE" --format json >"$d/recommend.json" 2>"$d/recommend.err"
  rec=$(jq -r '.recommendation.zfs_arc_max_bytes // 0' "$d/recommend.json" 2>/dev/null)
  "$AA" --reserve "$RESERVE" --check >"$d/1-check-before.txt" 2>&1; rc0=$?
  "$AA" --reserve "$RESERVE" --write >"$d/2-write.txt" 2>&1; rc1=$?
  "$AA" --reserve "$RESERVE" --diff >"$d/3-diff-after-write.txt" 2>&1; rc2=$?
  { echo "# /etc/modprobe.d after --write"; grep -H . /etc/modprobe.d/* 2>&1; } >"$d/modprobe.d.txt"
  written=$(sed -n 's/^options zfs .*zfs_arc_max=\([0-9]*\).*/\1/p' /etc/modprobe.d/*.conf 2>/dev/null | tail -1)
  snap 50-persist-written "after arcadvise --reserve $RESERVE --write, before the reboot"
  check_cmd=$(sed -n 's/.*after the reboot, check: .*\(arcadvise --check[^;]*\)$/\1/p' "$d/2-write.txt" | tail -1)
  printf 'rec=%s\nwritten=%s\ncheck_before=%s\nwrite=%s\ndiff_after=%s\ncheck_cmd="%s"\n' "$rec" "${written:-0}" "$rc0" "$rc1" "$rc2" "$check_cmd" >/var/lib/lane/persist.env
  cp /var/lib/lane/persist.env "$d/boot1.env"
  say "persist: check before=$rc0 write=$rc1 diff after write=$rc2 rec=$rec written=${written:-none}; rebooting"
  return 0
}

persist_boot2() {
  local d=$OUT/persist rc3 cmax pv
  mkdir -p "$d"
  boot1_state persist || return
  [ -d /sys/module/zfs ] || modprobe zfs
  cmax=$(arcget c_max); pv=$(cat $P/zfs_arc_max)
  # the check --write told the admin to run after the reboot
  # shellcheck disable=SC2086
  if [ -n "${check_cmd:-}" ]; then "$AA" ${check_cmd#arcadvise } >"$d/4-check-after-reboot.txt" 2>&1; rc3=$?
  else "$AA" --reserve "$RESERVE" --check >"$d/4-check-after-reboot.txt" 2>&1; rc3=$?; fi
  snap 60-after-reboot "boot 2, after the reboot with the modprobe.d file arcadvise wrote"
  chk_reset
  chk "--check before the write exit $check_before == 1" "$check_before == 1"
  chk "--write exit $write == 0" "$write == 0"
  chk "the value written ${written:-none} within 64 MiB of the reading before ($rec)" "${rec:-0} > 0 && ${written:-0} >= $rec - 64 * MiB && ${written:-0} <= $rec + 64 * MiB"
  chk "c_max after reboot $cmax == the value written ${written:-none}" "${written:-0} > 0 && $cmax == ${written:-0}"
  chk "parameter after reboot $pv == ${written:-none}" "$pv == ${written:-0}"
  chk "'${check_cmd:-arcadvise --reserve $RESERVE --check}' after reboot exit $rc3 == 0" "$rc3 == 0"
  result persist "$(chk_status)" "rec=$rec written=${written:-none} check_before=$check_before write=$write c_max_after_reboot=$cmax param=$pv check_after=$rc3" "$CHK_FAILS"
}
