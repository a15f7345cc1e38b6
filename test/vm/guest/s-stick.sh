# shellcheck shell=bash disable=SC2034,SC2154,SC1090,SC1091
# s-stick.sh - scenario h (stick): the cap written to modprobe.d must also reach the initramfs zfs
# loads from, or the next boot loads the module with what the image holds (issue 21).
# Boot 1: zfs is made to load from the initramfs (zfs-initramfs is in the image; `zfs` in
# /etc/initramfs-tools/modules, as for a module needed before the root is mounted), the image is
# rebuilt without any zfs option. `--reserve R --write --live` writes and applies the cap and
# reports the image stale; the check command it printed exits 1 naming the image; after
# `update-initramfs -u` it exits 0. The guest then boots that very image (kexec: the lane's qemu
# would boot its own -initrd copy on a reboot).
# Boot 2: zfs loaded from the initramfs (before the root file system was mounted, the kernel log
# shows), c_max is the cap, and the check exits 0.

STICK_IMG() { echo "/boot/initrd.img-$(uname -r)"; }

stick_boot1() {
  local d=$OUT/stick img rc_w rc_c1 rc_c2 rec check_cmd t
  mkdir -p "$d" /var/lib/lane
  img=$(STICK_IMG)
  if ! command -v update-initramfs >/dev/null || [ ! -e /usr/share/initramfs-tools/hooks/zfs ]; then
    result stick SKIP - "zfs-initramfs is not in this image (test/vm/lane.sh build)"; return 1
  fi
  command -v kexec >/dev/null || { result stick SKIP - "kexec-tools is not in this image (test/vm/lane.sh build)"; return 1; }
  grep -qx zfs /etc/initramfs-tools/modules || echo zfs >>/etc/initramfs-tools/modules
  # the modules this guest needs (it runs the kernel the image is for), not MODULES=most's every
  # storage driver: mkinitramfs took over 8 minutes an image under TCG with most
  echo MODULES=dep >/etc/initramfs-tools/conf.d/lane-dep
  t=$SECONDS; update-initramfs -u -k "$(uname -r)" >"$d/0-update-initramfs.txt" 2>&1
  say "stick: image with zfs loading from it, $((SECONDS - t)) s"
  "$AA" --reserve "$RESERVE" --write --live >"$d/1-write.txt" 2>&1; rc_w=$?
  rec=$(grep -o 'zfs_arc_max=[0-9]*' /etc/modprobe.d/zfs.conf 2>/dev/null | tail -1 | cut -d= -f2)
  check_cmd=$(sed -n 's/.*after the reboot, check: .*\(arcadvise --check[^;]*\)$/\1/p' "$d/1-write.txt" | tail -1)
  [ -n "$check_cmd" ] || check_cmd="arcadvise --check --reserve $RESERVE"
  # shellcheck disable=SC2086
  "$AA" ${check_cmd#arcadvise } >"$d/2-check-stale.txt" 2>&1; rc_c1=$?
  t=$SECONDS; update-initramfs -u -k "$(uname -r)" >"$d/3-update-initramfs.txt" 2>&1
  say "stick: image rebuilt with the cap, $((SECONDS - t)) s"
  # shellcheck disable=SC2086
  "$AA" ${check_cmd#arcadvise } >"$d/4-check-rebuilt.txt" 2>&1; rc_c2=$?
  "$AA" --reserve "$RESERVE" --format json >"$d/4-after.json" 2>/dev/null
  snap 80-stick-rebuilt "after --write --live and update-initramfs -u"
  printf 'rec=%s\nwrite=%s\ncheck_stale=%s\ncheck_rebuilt=%s\nstale_named=%s\nwrite_says_stale=%s\ncheck_cmd="%s"\n' \
    "${rec:-0}" "$rc_w" "$rc_c1" "$rc_c2" "$(grep -c -F "$img" "$d/2-check-stale.txt")" \
    "$(grep -c 'update-initramfs -u' "$d/1-write.txt")" "$check_cmd" >/var/lib/lane/stick.env
  cp /var/lib/lane/stick.env "$d/boot1.env"
  # boot the image just rebuilt, with the same command line
  if ! kexec -l "/boot/vmlinuz-$(uname -r)" --initrd="$img" --reuse-cmdline >"$d/5-kexec.txt" 2>&1; then
    result stick FAIL "rec=$rec write=$rc_w check_stale=$rc_c1 check_rebuilt=$rc_c2" "kexec -l failed: $(head -c 200 "$d/5-kexec.txt")"
    return 1
  fi
  say "stick: write=$rc_w check stale=$rc_c1 rebuilt=$rc_c2 rec=$rec; kexec into $img"
  return 0
}

stick_boot2() {
  local d=$OUT/stick rc3 cmax pv zfs_line root_line
  mkdir -p "$d"
  boot1_state stick || return
  cmax=$(arcget c_max); pv=$(cat $P/zfs_arc_max)
  dmesg >"$d/6-dmesg.txt"
  # the kernel log's line numbers: zfs loaded, and the root file system mounted
  zfs_line=$(grep -n -m1 -E 'ZFS: Loaded module' "$d/6-dmesg.txt" | cut -d: -f1)
  root_line=$(grep -n -m1 -E 'EXT4-fs \(vda\): mounted filesystem' "$d/6-dmesg.txt" | cut -d: -f1)
  # shellcheck disable=SC2086
  "$AA" ${check_cmd#arcadvise } >"$d/7-check-after-boot.txt" 2>&1; rc3=$?
  snap 81-stick-after-kexec "boot 2, from the rebuilt initramfs"
  chk_reset
  chk "--write --live exit $write == 0" "$write == 0"
  chk "--write says the image needs update-initramfs -u ($write_says_stale)" "${write_says_stale:-0} >= 1"
  chk "check with the image stale exit $check_stale == 1" "$check_stale == 1"
  chk "check names the image ($stale_named)" "${stale_named:-0} >= 1"
  chk "check after update-initramfs -u exit $check_rebuilt == 0" "$check_rebuilt == 0"
  chk "zfs loaded from the initramfs: dmesg line ${zfs_line:-none} before the root mount, line ${root_line:-none}" "${zfs_line:-999999} < ${root_line:-0}"
  chk "c_max after the boot $cmax == $rec" "${rec:-0} > 0 && $cmax == $rec"
  chk "parameter $pv == $rec" "$pv == ${rec:-0}"
  chk "check after the boot exit $rc3 == 0" "$rc3 == 0"
  result stick "$(chk_status)" "rec=$rec write=$write check_stale=$check_stale check_rebuilt=$check_rebuilt zfs_loaded_line=${zfs_line:-none} root_mounted_line=${root_line:-none} c_max_after_boot=$cmax check_after=$rc3" "$CHK_FAILS"
}
