#!/bin/bash
# run.sh - the lane's guest driver. zfslab-hook runs it as root at every boot with ZFSLAB_BOOT=n and
# ZFSLAB_OUT=/mnt/host/out; /mnt/host/lane holds arcadvise, the scenario scripts, the list of
# scenarios to run (scenarios) and the settings (env). Boot 1 runs timing (first, on a quiet guest),
# parse, model+sample, live and the first half of persist (then asks for a reboot); boot 2 runs the
# second half of persist. declare, stick and guard each come in a boot of their own (lane.sh): the
# first halves of declare (then a reboot) and stick (then a kexec into the initramfs it rebuilt) in
# boot 1, their second halves in boot 2; guard in boot 1.
# shellcheck source-path=SCRIPTDIR disable=SC2034
set -u
OUT=${ZFSLAB_OUT:-/mnt/host/out}
BOOT=${ZFSLAB_BOOT:-1}
L=/mnt/host/lane
# shellcheck source=lib.sh
. "$L/lib.sh"
# shellcheck source=s-parse.sh
. "$L/s-parse.sh"
# shellcheck source=s-model.sh
. "$L/s-model.sh"
# shellcheck source=s-live.sh
. "$L/s-live.sh"
# shellcheck source=s-persist.sh
. "$L/s-persist.sh"
# shellcheck source=s-timing.sh
. "$L/s-timing.sh"
# shellcheck source=s-frontier.sh
. "$L/s-frontier.sh"
# shellcheck source=s-declare.sh
. "$L/s-declare.sh"
# shellcheck source=s-stick.sh
. "$L/s-stick.sh"
# shellcheck source=s-guard.sh
. "$L/s-guard.sh"
RESERVE=$(sed -n 's/^reserve=//p' "$L/env"); RESERVE=${RESERVE:-2G}
RESERVE_BYTES=$(awk -v s="$RESERVE" 'BEGIN{n=s+0; u=toupper(substr(s,length(s))); m=1
  if(u=="K")m=1024; else if(u=="M")m=1048576; else if(u=="G")m=1073741824; printf "%.0f", n*m}')
want() { grep -qx "$1" "$L/scenarios"; }
WANT_PARSE=0; want parse && WANT_PARSE=1
WANT_SAMPLE=0; want sample && WANT_SAMPLE=1

install -m 0755 "$L/arcadvise" "$AA"
say "lane boot $BOOT: kernel $(uname -r), zfs $(cat /sys/module/zfs/version 2>/dev/null || echo 'not loaded'), scenarios: $(tr '\n' ' ' <"$L/scenarios"), reserve $RESERVE"

if [ "$BOOT" = 1 ]; then
  T0=$SECONDS
  [ -d /sys/module/zfs ] || modprobe zfs
  cat /sys/module/zfs/version >"$OUT/zfs_version"
  uname -r >"$OUT/kernel"
  "$AA" --version >"$OUT/arcadvise_version" 2>&1
  { echo "# uname -a"; uname -a; echo "# modinfo zfs"; modinfo zfs | grep -E '^(filename|version|vermagic):'
    echo "# free -b"; free -b; echo "# stress-ng"; stress-ng --version; echo "# arcadvise --help"; "$AA" --help; } >"$OUT/sysinfo.txt" 2>&1
  snap 00-boot "fresh module after boot, ARC empty"
  if want timing; then timing_main; fi    # before anything loads the guest: no pool, ARC near empty
  # what arcadvise says about keeping the trace of a panic, on the real guest
  "$AA" --reserve "$RESERVE" --format json 2>/dev/null | jq '.crash_capture // empty' >"$OUT/crash_capture.json" 2>/dev/null
  # the package: dpkg -i, then the installed binary (as an admin would)
  if [ -e "$L/arcadvise.deb" ]; then
    { echo "\$ dpkg -i arcadvise.deb"; dpkg -i "$L/arcadvise.deb" 2>&1 | tail -3; echo "(exit ${PIPESTATUS[0]})"
      echo "\$ /usr/bin/arcadvise --version"; /usr/bin/arcadvise --version 2>&1; echo "(exit $?)"
      echo "\$ /usr/bin/arcadvise --reserve $RESERVE"; /usr/bin/arcadvise --reserve "$RESERVE" >/tmp/aa.out 2>&1; rc=$?; head -3 /tmp/aa.out; echo "(exit $rc)"
      echo "\$ systemctl is-enabled arcadvise-textfile.timer"; systemctl is-enabled arcadvise-textfile.timer 2>&1
      echo "\$ man -w arcadvise"; man -w arcadvise 2>&1 || ls /usr/share/man/man8/arcadvise.8.gz
    } >"$OUT/deb-install.txt" 2>&1
  fi
  # the fleet metrics, as node_exporter's textfile collector would read them
  if has_flag --textfile; then
    mkdir -p "$OUT/textfile"; "$AA" --reserve "$RESERVE" --textfile "$OUT/textfile" >/dev/null 2>"$OUT/textfile.err"
    echo $? >"$OUT/textfile.rc"
  fi
  if want parse; then parse_moment idle $((16*MiB)); fi
  if want model || want sample; then
    model_main            # takes the parse moments "filled" and "pressure" inside the default window
  elif want parse; then
    # the parse scenario on its own still wants a filled ARC
    pool_fill 2 1024 && read_all
    parse_moment filled $((16*MiB))
  fi
  want parse && parse_finish
  want live && live_main
  want frontier && frontier_main   # opt-in, tens of minutes: its own boot in practice
  want guard && guard_main         # each of these three has a boot of its own (lane.sh)
  echo $((SECONDS-T0)) >"$OUT/boot1_seconds"
  if want declare && declare_boot1; then
    touch /run/zfslab-reboot
    exit 0
  fi
  if want stick && stick_boot1; then
    touch /run/zfslab-kexec       # boot the initramfs the scenario rebuilt, not qemu's -initrd copy
    exit 0
  fi
  if want persist && persist_boot1; then
    touch /run/zfslab-reboot
    exit 0
  fi
  touch "$OUT/LANE_DONE"
  exit 0
fi

if [ "$BOOT" = 2 ]; then
  want persist && persist_boot2
  want declare && declare_boot2
  want stick && stick_boot2
  touch "$OUT/LANE_DONE"
  exit 0
fi
say "boot $BOOT: nothing to do"
