# shellcheck shell=bash disable=SC2034,SC2154,SC1090,SC1091
# s-declare.sh - scenario g (declare): the workload declares its memory itself, as a systemd unit
# with MemoryMin=, and `--reserve auto` finds it (issue 20).
# Boot 1: a unit started with `systemd-run --slice=lane.slice -p MemoryMin=R` (R = RESERVE) runs;
# on one snapshot of the guest (the files arcadvise reads plus the cgroup tree's memory.min and
# cgroup.events), `--reserve auto` gives the same cap as `--reserve R`, counts R from the unit's
# cgroup, and notes that lane.slice (memory.min 0) bounds what the kernel protects of it. With
# lane.slice given MemoryMin=R too (systemctl set-property), the note is gone and the count is
# still R (the slice's R is what its children count, not more). Then `--check` exits 1, `--write`
# writes the cap; the guest reboots.
# Boot 2: the workload starts again as it would at boot (the same unit, the same slice setting),
# c_max is the cap written, and the check command `--write` printed (`--reserve auto`, with the
# host terms pinned) exits 0.

DECLARE_SLICE=lane.slice
DECLARE_UNIT=lane-work

declare_start() { # the workload: a process in a unit with MemoryMin=, in its own slice
  systemd-run --quiet --unit="$DECLARE_UNIT" --slice="$DECLARE_SLICE" -p MemoryMin="$RESERVE" sleep infinity
}

# snap_cgroups DIR: what --reserve auto reads of the cgroup tree, into a snapshot root
snap_cgroups() {
  local d=$1 f
  mkdir -p "$d/sys/fs/cgroup"
  cp /sys/fs/cgroup/cgroup.controllers "$d/sys/fs/cgroup/"
  while IFS= read -r f; do
    mkdir -p "$d/${f%/*}"
    cat "$f" >"$d/$f"
  done < <(find /sys/fs/cgroup -mindepth 2 \( -name memory.min -o -name cgroup.events \) 2>/dev/null)
}

declare_boot1() {
  local d=$OUT/declare s1 s2 rc cap_auto cap_fixed counted anc cap_auto2 counted2 anc2 rc0 rc1 rec check_cmd
  mkdir -p "$d" /var/lib/lane
  if ! has_flag 'reserve.*auto'; then result declare SKIP - "this arcadvise has no --reserve auto"; return 1; fi
  declare_start || { result declare FAIL - "systemd-run failed"; return 1; }
  sleep 1
  cat "/sys/fs/cgroup/$DECLARE_SLICE/$DECLARE_UNIT.service/memory.min" >"$d/memory.min" 2>&1
  # 1. one reading, both ways
  s1=$OUT/snap/70-declare-unit; snap 70-declare-unit "systemd-run --slice=$DECLARE_SLICE -p MemoryMin=$RESERVE"
  snap_cgroups "$s1"
  "$AA" --root "$s1" --reserve auto --format json >"$d/1-auto.json" 2>"$d/1-auto.err"; rc=$?
  "$AA" --root "$s1" --reserve auto >"$d/1-auto.txt" 2>&1
  "$AA" --root "$s1" --reserve "$RESERVE" --format json >"$d/1-fixed.json" 2>"$d/1-fixed.err"
  cap_auto=$(jq -r '.recommendation.zfs_arc_max_bytes // 0' "$d/1-auto.json" 2>/dev/null)
  cap_fixed=$(jq -r '.recommendation.zfs_arc_max_bytes // 0' "$d/1-fixed.json" 2>/dev/null)
  counted=$(jq -r '.reservation.counted_bytes // 0' "$d/1-auto.json" 2>/dev/null)
  anc=$(jq -r --arg id "$DECLARE_SLICE/$DECLARE_UNIT.service" '.reservation.sources[]? | select(.id == $id) | .ancestor_min // "-"' "$d/1-auto.json" 2>/dev/null)
  # 2. the slice protected too: what the kernel holds; counted once
  systemctl set-property --runtime "$DECLARE_SLICE" MemoryMin="$RESERVE"
  sleep 1
  s2=$OUT/snap/71-declare-slice; snap 71-declare-slice "and systemctl set-property $DECLARE_SLICE MemoryMin=$RESERVE"
  snap_cgroups "$s2"
  "$AA" --root "$s2" --reserve auto --format json >"$d/2-auto.json" 2>"$d/2-auto.err"
  "$AA" --root "$s2" --reserve auto >"$d/2-auto.txt" 2>&1
  "$AA" --root "$s2" --reserve "$RESERVE" --format json >"$d/2-fixed.json" 2>"$d/2-fixed.err"
  cap_auto2=$(jq -r '.recommendation.zfs_arc_max_bytes // 0' "$d/2-auto.json" 2>/dev/null)
  cap_fixed2=$(jq -r '.recommendation.zfs_arc_max_bytes // 0' "$d/2-fixed.json" 2>/dev/null)
  counted2=$(jq -r '.reservation.counted_bytes // 0' "$d/2-auto.json" 2>/dev/null)
  anc2=$(jq -r '[.reservation.sources[]? | select(.ancestor_min != null)] | length' "$d/2-auto.json" 2>/dev/null)
  # 3. on the live guest: check, write
  "$AA" --reserve auto --check >"$d/3-check-before.txt" 2>&1; rc0=$?
  "$AA" --reserve auto --write >"$d/4-write.txt" 2>&1; rc1=$?
  "$AA" --reserve auto --format json >"$d/4-after-write.json" 2>/dev/null
  rec=$(grep -o 'zfs_arc_max=[0-9]*' /etc/modprobe.d/zfs.conf 2>/dev/null | tail -1 | cut -d= -f2)
  check_cmd=$(sed -n 's/.*after the reboot, check: .*\(arcadvise --check[^;]*\)$/\1/p' "$d/4-write.txt" | tail -1)
  { echo "# /etc/modprobe.d after --write"; grep -H . /etc/modprobe.d/* 2>&1; } >"$d/modprobe.d.txt"
  printf 'rc_auto=%s\ncap_auto=%s\ncap_fixed=%s\ncounted=%s\nancestor=%s\ncap_auto2=%s\ncap_fixed2=%s\ncounted2=%s\nancestors2=%s\ncheck_before=%s\nwrite=%s\nrec=%s\ncheck_cmd="%s"\n' \
    "$rc" "$cap_auto" "$cap_fixed" "$counted" "$anc" "$cap_auto2" "$cap_fixed2" "$counted2" "$anc2" "$rc0" "$rc1" "${rec:-0}" "$check_cmd" >/var/lib/lane/declare.env
  cp /var/lib/lane/declare.env "$d/boot1.env"
  say "declare: auto=$cap_auto fixed=$cap_fixed counted=$counted ancestor=$anc; slice protected: auto=$cap_auto2 counted=$counted2; check=$rc0 write=$rc1 rec=$rec; rebooting"
  return 0
}

declare_boot2() {
  local d=$OUT/declare rc3 cmax pv
  mkdir -p "$d"
  boot1_state declare || return
  [ -d /sys/module/zfs ] || modprobe zfs
  # the workload starts again as at every boot
  declare_start; systemctl set-property --runtime "$DECLARE_SLICE" MemoryMin="$RESERVE"; sleep 1
  cmax=$(arcget c_max); pv=$(cat $P/zfs_arc_max)
  # shellcheck disable=SC2086
  if [ -n "${check_cmd:-}" ]; then "$AA" ${check_cmd#arcadvise } >"$d/5-check-after-reboot.txt" 2>&1; rc3=$?
  else "$AA" --reserve auto --check >"$d/5-check-after-reboot.txt" 2>&1; rc3=$?; fi
  snap 72-declare-after-reboot "boot 2: the unit started again, the cap --reserve auto wrote"
  chk_reset
  chk "--reserve auto on the snapshot exit $rc_auto == 0" "$rc_auto == 0"
  chk "--reserve auto cap $cap_auto == --reserve $RESERVE cap $cap_fixed (same reading)" "$cap_auto > 0 && $cap_auto == $cap_fixed"
  chk "counted $counted == $RESERVE ($RESERVE_BYTES)" "$counted == $RESERVE_BYTES"
  chk "the unit's line names lane.slice as the bound ($ancestor)" "$([ "$ancestor" = "$DECLARE_SLICE" ] && echo 1 || echo 0)"
  chk "slice protected too: cap $cap_auto2 == --reserve $RESERVE cap $cap_fixed2" "$cap_auto2 > 0 && $cap_auto2 == $cap_fixed2"
  chk "slice protected too: counted once $counted2 == $RESERVE_BYTES" "$counted2 == $RESERVE_BYTES"
  chk "slice protected too: no bound noted ($ancestors2)" "${ancestors2:-1} == 0"
  chk "--check before the write exit $check_before == 1" "$check_before == 1"
  chk "--write exit $write == 0" "$write == 0"
  chk "c_max after reboot $cmax == written $rec" "${rec:-0} > 0 && $cmax == $rec"
  chk "parameter after reboot $pv == $rec" "$pv == ${rec:-0}"
  chk "'${check_cmd:-arcadvise --reserve auto --check}' after reboot exit $rc3 == 0" "$rc3 == 0"
  result declare "$(chk_status)" "auto=$cap_auto fixed=$cap_fixed counted=$counted bound=$ancestor slice_protected:auto=$cap_auto2,counted=$counted2 check_before=$check_before write=$write c_max_after_reboot=$cmax check_after=$rc3" "$CHK_FAILS"
}
