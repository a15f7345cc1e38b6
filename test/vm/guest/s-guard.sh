# shellcheck shell=bash disable=SC2034,SC2154,SC1090,SC1091
# s-guard.sh - scenario i (guard): a guest about to start declares its memory, and arcadvise's
# libvirt hook makes room before it allocates (issue 23).
# The ARC is filled at the module's default cap (4 x 1 GiB of the pool read, more than the cap).
# A libvirt domain "work" of R (RESERVE) is defined (/etc/libvirt/qemu/work.xml: arcadvise reads
# libvirt's files; no libvirtd runs in the guest). The hook the package installs
# (/usr/share/arcadvise/libvirt/qemu) runs as libvirtd runs it at a start: arguments
# "work prepare begin -", the domain XML on stdin, an environment of LC_ALL=C and PATH only.
# The host is busy as hosts are: from before the hook to the end, the frontier scenario's reader
# (fio, 1 MiB records at random over the pool's 4 GiB: the reader the model is measured against)
# keeps the ARC in use.
# Asserted: the hook exits 0 and says "lowered"; c_max is then below the default and equals the
# cap the hook wrote, within 64 MiB of what `--reserve` recommends on the reading just before for
# R and the domain's QEMU, 64 MiB + R/512 (the guard counts the starting guest so, and nothing
# else is declared here); when the hook
# returns the ARC has come down to the cap (it waits for that, ARCADVISE_GUARD_SETTLE: lowering
# zfs_arc_max evicts nothing until the ARC is next used). Then the guest's memory is allocated
# (stress-ng --vm 1 --vm-bytes R --vm-keep, 60 s) beside the reader; over that window: no direct
# reclaim (vmstat allocstall_* and pgscan_direct, arcstats memory_direct_count) and no OOM kill.

GUARD_FILES=${GUARD_FILES:-4}
GUARD_WINDOW_S=${GUARD_WINDOW_S:-60}

guard_main() {
  local d=$OUT/guard hook=/usr/share/arcadvise/libvirt/qemu xml=/etc/libvirt/qemu/work.xml
  local cmax0 size0 rec prehook rc cmax1 size1 target t0 st src reader lowered settled
  local vmres=$((RESERVE_BYTES + 64 * MiB + RESERVE_BYTES / 512))  # R and its QEMU's own (README, --reserve auto)
  mkdir -p "$d" /etc/libvirt/qemu
  [ -x "$hook" ] || { result guard SKIP - "$hook missing (the lane installs the .deb when go-md2man is on the host)"; return; }
  has_flag --guard || { result guard SKIP - "this arcadvise has no --guard"; return; }
  pool_fill "$GUARD_FILES" 1024 || { result guard FAIL - "pool fill failed"; return; }
  read_all; read_all
  cmax0=$(arcget c_max); size0=$(arcget size)
  snap 90-guard-filled "ARC filled at the default cap, before the guest starts"
  cat >"$xml" <<EOF
<domain type='kvm'>
  <name>work</name>
  <uuid>6f1e7a0c-5d0b-4b43-9c57-2a1d3b8e9f10</uuid>
  <memory unit='KiB'>$((RESERVE_BYTES / 1024))</memory>
  <currentMemory unit='KiB'>$((RESERVE_BYTES / 1024))</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
</domain>
EOF
  "$AA" --reserve "$vmres" --format json >"$d/0-recommend.json" 2>/dev/null
  rec=$(jq -r '.recommendation.zfs_arc_max_bytes // 0' "$d/0-recommend.json")
  # the host's own I/O, all along (killed after the window)
  fio --name=host --filename="$(fr_files)" --readonly --rw=randread --bs=1M --ioengine=psync \
    --file_service_type=random --time_based --runtime=600 >"$d/fio.log" 2>&1 & reader=$!
  sleep 5
  # what a reading gives at the hook's moment (the reader going), for the report: the hook's own
  # reading follows within a second
  "$AA" --reserve "$vmres" --format json >"$d/1-prehook.json" 2>/dev/null
  prehook=$(jq -r '.recommendation.zfs_arc_max_bytes // 0' "$d/1-prehook.json" 2>/dev/null)
  # as libvirtd runs a hook: qemu <domain> <operation> <sub-operation> <extra>, the XML on stdin
  t0=${EPOCHREALTIME//[!0-9]/}
  env -i LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin "$hook" work prepare begin - <"$xml" >"$d/1-hook.out" 2>"$d/1-hook.err"; rc=$?
  t0=$(( (${EPOCHREALTIME//[!0-9]/} - t0) / 1000 ))
  cmax1=$(arcget c_max); size1=$(arcget size)
  target=$(grep -o 'zfs_arc_max=[0-9]*' "$d/1-hook.err" | head -1 | cut -d= -f2)
  lowered=$(grep -c 'lowered' "$d/1-hook.err")
  say "guard: hook exit $rc in ${t0} ms: c_max $cmax0 -> $cmax1 (target ${target:-none}, --reserve $vmres: $rec), size $size0 -> $size1"
  settled=$(grep -c 'the ARC came down\|already within the cap' "$d/1-hook.err")
  # the guest starts: it allocates R while the host keeps reading the pool
  counters b >"$d/window.before"
  timeline_start "$d/window-timeline.tsv"
  stress-ng --vm 1 --vm-bytes "$RESERVE" --vm-keep --timeout "${GUARD_WINDOW_S}s" --metrics-brief >"$d/stress.log" 2>&1 & st=$!
  sleep 25
  snap 91-guard-window "the guest's R allocated beside the reader, cap lowered by the hook"
  wait "$st"; src=$?
  counters a >"$d/window.after"
  timeline_stop
  kill "$reader" 2>/dev/null; wait "$reader" 2>/dev/null
  . "$d/window.before"; . "$d/window.after"
  local dalloc=$((a_allocstall - b_allocstall)) dpgs=$((a_pgscan_direct - b_pgscan_direct))
  local ddir=$((a_direct - b_direct)) doom=$((a_oom - b_oom)) dpsi=$(( (a_psi_some_us - b_psi_some_us) / 1000 ))
  local lo=$(( ${rec:-0} - 64 * MiB )) hi=$(( ${rec:-0} + 64 * MiB ))
  chk_reset
  chk "hook exit $rc == 0" "$rc == 0"
  chk "the hook says lowered ($lowered)" "$lowered >= 1"
  chk "c_max lowered: $cmax1 < default $cmax0" "$cmax1 < $cmax0"
  chk "c_max $cmax1 == the cap the hook wrote (${target:-none})" "${target:-0} > 0 && $cmax1 == ${target:-0}"
  chk "c_max $cmax1 within 64 MiB of --reserve $vmres's $rec" "${rec:-0} > 0 && $cmax1 >= $lo && $cmax1 <= $hi"
  chk "the hook returned with the ARC down to the cap ($settled; size $size1)" "$settled >= 1"
  chk "stress-ng exit $src == 0" "$src == 0"
  chk "no OOM kill ($doom)" "$doom == 0"
  chk "no direct reclaim: allocstall $dalloc == 0" "$dalloc == 0"
  chk "no direct reclaim: pgscan_direct $dpgs == 0" "$dpgs == 0"
  chk "no direct reclaim: arcstats memory_direct_count $ddir == 0" "$ddir == 0"
  result guard "$(chk_status)" "hook=$rc hook_ms=$t0 settled=$settled c_max:$cmax0->$cmax1 target=${target:-none} rec=$rec prehook=${prehook:-none} size:$size0->$size1 allocstall=$dalloc pgscan_direct=$dpgs memory_direct=$ddir oom=$doom psi_some_ms=$dpsi stress=$src" "$CHK_FAILS"
}
