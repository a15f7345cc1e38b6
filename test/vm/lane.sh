#!/usr/bin/env bash
# lane.sh - arcadvise's real-kernel test lane: the stock Debian bookworm kernel and the real OpenZFS
# module (2.1.11 from bookworm/contrib, 2.3.2 from bookworm-backports/contrib) in a QEMU guest.
#
#   test/vm/lane.sh                          build what is missing, run every scenario on both variants,
#                                            print the table, write docs/real-kernel.md and testdata/vm/
#   test/vm/lane.sh build [2.1|2.3|all]      build or reuse the cached guest image(s) only
#   test/vm/lane.sh run [2.1|2.3|all] [SCENARIO...]
#                                            boot, run the scenarios (default: all), collect, report
#   test/vm/lane.sh report                   print the table and rewrite the report from the last results
#   test/vm/lane.sh ci                       what .ci/run calls: the whole lane when ARCADVISE_VM=1, else skip
#   test/vm/lane.sh info                     variants, images and timings
#
# Scenarios: parse (a), live (b), persist (c), model (d), sample (e), timing (f); frontier (g) only when
# named. See test/vm/README.md.
# Exit status: 0 every selected scenario passed, 1 a scenario failed or did not report (a guest
# killed by VM_TIMEOUT is a FAIL "boot" row), 2 usage error, 3 a build step failed (named),
# 130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP (the guest's qemu is stopped, its overlay and
# pool image removed).
#
# Big files live under $LAB (default /var/tmp/zfslab, shared with ../shared/lab/zfslab.sh: same layout
# and stamp files, so images built by either are reused). Environment: LAB, MIRROR, SECMIRROR, ACCEL
# (auto|kvm|tcg), MEM (MiB, default 4096), SMP (2), VM_TIMEOUT (seconds per run, default 2400),
# FORCE=1 (rebuild a variant), REPO (checkout, default: this script's ../..), NICE (default 19),
# RESERVE (the R of scenarios a, c, d, e, f, g, h, i, j; default 2G), KIND (the frontier's workload:
# vm, steps, huge, declared; guest/s-frontier.sh), HELD_OUT (the frontier: this run is the
# configuration's held-out one, kept in held-out.env; the text says how it was chosen; a
# configuration has one), PCP_FRACTION (the frontier: the guest's
# vm.percpu_pagelist_high_fraction, which bounds the free pages held on per-CPU lists, pages that
# MemFree, the zone watermarks and the ARC's free memory do not count; the configuration's name
# gets -pcpN), BOOST_FACTOR (the frontier: the guest's vm.watermark_boost_factor, how far the
# kernel raises its watermarks after a fragmentation event, default 15000, 0 off; the
# configuration's name gets -boostN), SHRINKER_LIMIT (the frontier: the module's
# zfs_arc_shrinker_limit, set at run time: how many pages the ARC offers the kernel's shrinker per
# call, 10000 by default up to 2.2.x, 0 (no limit) from 2.3.0; the configuration's name gets
# -shrinkN), TIMING_RUNS / TIMING_SLOW_RUNS (f: 21 / 7).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=${REPO:-$(cd "$HERE/../.." && pwd)}
LAB=${LAB:-/var/tmp/zfslab}
BASE=$LAB/rootfs-base
SUITE=bookworm
MEM=${MEM:-4096}
SMP=${SMP:-2}
ACCEL=${ACCEL:-auto}
VM_TIMEOUT_SET=${VM_TIMEOUT:-}
VM_TIMEOUT=${VM_TIMEOUT:-2400}
POOLDISK_SIZE=${POOLDISK_SIZE:-12G}
IMG_SIZE=${IMG_SIZE:-8G}
NICE=${NICE:-19}
# shellcheck source=test/vm/lib-host.sh
. "$HERE/lib-host.sh"      # VARIANTS, SCENARIOS, OPT_SCENARIOS, resfield, envval
# shellcheck source=test/lib-apt.sh
. "$HERE/../lib-apt.sh"    # apt_install: waits for another apt's lock, reports a failed update
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
renice -n "$NICE" -p $$ >/dev/null 2>&1 || true     # everything the lane starts inherits it

log()  { printf '[lane %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die()  { log "ERROR: $1"; exit "${2:-1}"; }
usage() { awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$HERE/lane.sh"; }

# A build step that fails stops the lane with exit 3 and names the step. The step runs in a subshell
# with set -e armed, so any command in it that fails ends it (a failed depmod in variant_zfs, say).
# Not `( set -e; "$@" ) || rc=$?`: bash ignores set -e in everything run as the left side of || or &&,
# subshells and functions included ("If a compound command or shell function executes in a context
# where -e is being ignored, none of the commands executed within [it] will be affected by the -e
# setting", bash(1), the set builtin, -e), so step turns -e off in the lane around the subshell.
# The subshell's EXIT trap unmounts a chroot the step left mounted. A step function runs in that
# subshell: it cannot set the lane's variables, and none does (chroot_mount's CHROOT stays inside).
step() { # step LABEL cmd...: run cmd, append its wall time to timings.log, die naming LABEL on failure
  local label=$1; shift; local t0=$SECONDS rc
  log "start: $label"
  set +e
  ( set -e; trap chroot_umount EXIT; "$@" )
  rc=$?
  set -e
  printf '%s\t%-40s\t%5ds\trc=%d\n' "$(date -u +%FT%TZ)" "lane: $label" $((SECONDS - t0)) "$rc" >>"$LAB/timings.log"
  log "done:  $label ($((SECONDS - t0))s, rc=$rc)"
  [[ $rc = 0 ]] || die "build step failed: $label (rc=$rc)" 3
}

# The guest run in flight, for the traps: timeout's pid (qemu runs under it, in timeout's own process
# group, so a Ctrl-C at the terminal never reaches it) and that run's overlay and pool image (never
# the cached images). On SIGINT, SIGTERM or SIGHUP the lane exits 128+signal; on any exit, cleanup
# sends timeout a TERM, which timeout passes on to qemu and follows with a KILL 10 s later
# (--kill-after; coreutils timeout(1)), waits for it, and removes the two files. A signal that
# comes during a build step (run in the foreground) is acted on when the step ends; a Ctrl-C at the
# terminal reaches the step's commands too.
RUN_PID=""
RUN_SCRATCH=()
cleanup() {
  if [[ -n $RUN_PID ]]; then
    kill -TERM "$RUN_PID" 2>/dev/null || true
    wait "$RUN_PID" 2>/dev/null || true
    RUN_PID=""
  fi
  if ((${#RUN_SCRATCH[@]} > 0)); then rm -f "${RUN_SCRATCH[@]}"; RUN_SCRATCH=(); fi
}
trap cleanup EXIT
trap 'log "interrupted (SIGINT)"; exit 130' INT
trap 'log "interrupted (SIGTERM)"; exit 143' TERM
trap 'log "interrupted (SIGHUP)"; exit 129' HUP

need_root() { [[ $EUID = 0 ]] || die "must run as root (debootstrap, chroot, mounts)" 2; }

apt_uris() {
  { grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -h '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}'; } | sed 's#/*$##'
}
mirrors() {
  MIRROR=${MIRROR:-$(apt_uris 2>/dev/null | grep -E '/debian$' | head -1 || true)}
  SECMIRROR=${SECMIRROR:-$(apt_uris 2>/dev/null | grep -E '/debian-security$' | head -1 || true)}
  [[ -n $MIRROR && -n $SECMIRROR ]] || die "set MIRROR and SECMIRROR (no Debian mirror found in apt's sources)" 3
}

accel_args() {
  local a=$ACCEL
  if [[ $a = auto ]]; then
    # /dev/kvm served by kvm_pvm (no kvm_intel/kvm_amd) cannot run a stock kernel: use TCG there.
    if [[ -r /dev/kvm && ( -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ) ]]; then a=kvm; else a=tcg; fi
  fi
  if [[ $a = kvm ]]; then
    echo "-enable-kvm -cpu ${CPU:-host,-arch-capabilities}"
  else
    echo "-accel tcg,thread=multi,tb-size=512 -cpu ${CPU:-max}"
  fi
}

# ---------------------------------------------------------------- chroot helpers
CHROOT=""
chroot_mount() {
  local r=$1
  mkdir -p "$LAB/cache/apt-archives/partial"
  mountpoint -q "$r/proc"    || mount -t proc proc "$r/proc"
  mountpoint -q "$r/sys"     || mount -t sysfs sys "$r/sys"
  mountpoint -q "$r/dev"     || mount --bind /dev "$r/dev"
  mountpoint -q "$r/dev/pts" || mount -t devpts devpts "$r/dev/pts"
  mountpoint -q "$r/var/cache/apt/archives" || mount --bind "$LAB/cache/apt-archives" "$r/var/cache/apt/archives"
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"; chmod +x "$r/usr/sbin/policy-rc.d"
  CHROOT=$r
}
chroot_umount() {
  local r=${1:-$CHROOT}
  [[ -n $r ]] || return 0
  for d in var/cache/apt/archives dev/pts dev sys proc; do
    if mountpoint -q "$r/$d"; then umount -l "$r/$d" || true; fi
  done
  rm -f "$r/usr/sbin/policy-rc.d"
  CHROOT=""
}
in_chroot() { local r=$1; shift; chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
kver_of() { find "$1/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -1; }

# ---------------------------------------------------------------- build (same layout and stamps as lab/zfslab.sh)
# Each function below is a step's (see step): set -e is on, and a chroot left mounted is unmounted.
base_debootstrap() {
  rm -rf "$BASE"
  debootstrap --variant=minbase --components=main,contrib --cache-dir="$LAB/cache/debootstrap" \
    --include=systemd-sysv,udev,kmod,procps,ca-certificates,initramfs-tools,zstd \
    "$SUITE" "$BASE" "$MIRROR"
}
base_kernel() {
  cat >"$BASE/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main contrib
deb $MIRROR $SUITE-updates main contrib
deb $SECMIRROR $SUITE-security main contrib
deb $MIRROR $SUITE-backports main contrib
EOF
  echo zfslab >"$BASE/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 zfslab\n' >"$BASE/etc/hosts"
  printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$BASE/etc/fstab"
  sed -i 's/^root:[^:]*:/root::/' "$BASE/etc/shadow"        # lab guest only: no network, serial console
  printf 'virtio_pci\nvirtio_blk\next4\n' >>"$BASE/etc/initramfs-tools/modules"
  # MODULES=most: MODULES=dep would look at the host's kernel, not the guest's
  sed -i 's/^MODULES=.*/MODULES=most/' "$BASE/etc/initramfs-tools/initramfs.conf"
  chroot_mount "$BASE"
  in_chroot "$BASE" apt-get -q --error-on=any update     # an unreachable mirror fails here, not as "no such package"
  in_chroot "$BASE" apt-get install -y -q --no-install-recommends \
    linux-image-amd64 linux-headers-amd64 stress-ng procps psmisc less util-linux kmod
  chroot_umount "$BASE"
}
build_base() {
  mkdir -p "$LAB/cache/debootstrap"
  if [[ ! -e $BASE/.stamp-debootstrap ]]; then
    step "debootstrap bookworm minbase" base_debootstrap
    touch "$BASE/.stamp-debootstrap"
  fi
  if [[ ! -e $BASE/.stamp-kernel ]]; then
    step "install kernel, headers, stress-ng (base)" base_kernel
    touch "$BASE/.stamp-kernel"
  fi
}

variant_zfs() { # variant_zfs V R: install zfs-dkms + zfsutils, make sure the module is built for the guest kernel
  local v=$1 R=$2 KVER ZVER aptsel=()
  [[ $v = 2.3 ]] && aptsel=(-t "$SUITE-backports")
  KVER=$(kver_of "$R")
  chroot_mount "$R"
  # zfs-dkms' postinst builds for the newest kernel in /boot; a non-zero exit is checked below
  in_chroot "$R" apt-get install -y -q --no-install-recommends "${aptsel[@]}" zfs-dkms zfsutils-linux ||
    log "apt-get returned non-zero; checking dkms state"
  # shellcheck disable=SC2016 # dpkg-query's own ${Version}
  ZVER=$(in_chroot "$R" dpkg-query -W -f='${Version}' zfs-dkms | sed 's/-.*//')
  if ! in_chroot "$R" dkms status -k "$KVER" zfs 2>/dev/null | grep -q installed; then
    in_chroot "$R" dkms install "zfs/$ZVER" -k "$KVER"
    in_chroot "$R" dpkg --configure -a
  fi
  ls "$R/lib/modules/$KVER/updates/dkms/zfs.ko"* >/dev/null 2>&1 || { log "zfs.ko missing for $KVER"; return 1; }
  in_chroot "$R" depmod -a "$KVER"
  chroot_umount "$R"
}
variant_tools() { # jq: the guest scenarios read arcadvise's JSON with it; fio: the frontier's reader
  local R=$1
  chroot_mount "$R"
  in_chroot "$R" apt-get install -y -q --no-install-recommends jq fio
  chroot_umount "$R"
}
# The stick scenario: zfs-initramfs (the same release as zfsutils-linux) puts the zfs module in the
# image, and kexec-tools boots the guest into the image it rebuilt (the lane's qemu boots a copy of
# the first one, -kernel/-initrd). kexec-tools is told not to take over reboots (load_kexec false):
# the persist scenario's reboot stays a plain one. With an ext4 root the new image carries zfs but
# does not load it (conf/modules lists it only when the stick scenario asks), so every other
# scenario boots as before.
variant_stick() {
  local v=$1 R=$2 aptsel=()
  [[ $v = 2.3 ]] && aptsel=(-t "$SUITE-backports")
  chroot_mount "$R"
  echo 'kexec-tools kexec-tools/load_kexec boolean false' | in_chroot "$R" debconf-set-selections
  in_chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${aptsel[@]}" zfs-initramfs kexec-tools
  chroot_umount "$R"
}
# shellcheck disable=SC2016 # dpkg-query's own ${Version}
variant_boot() { # the boot hook (the same files lab/zfslab.sh bakes in), kernel + initrd for -kernel/-initrd
  local v=$1 R=$2 vd=$LAB/$1 KVER
  install_if_changed "$HERE/guest/zfslab-hook" "$R/usr/local/sbin/zfslab-hook" 0755 &&
  install_if_changed "$HERE/guest/zfslab.service" "$R/etc/systemd/system/zfslab.service" 0644 &&
  ln -sf /etc/systemd/system/zfslab.service "$R/etc/systemd/system/multi-user.target.wants/zfslab.service" &&
  ln -sf /dev/null "$R/etc/systemd/system/serial-getty@ttyS0.service" &&
  mkdir -p "$R/mnt/host" || return 1
  KVER=$(kver_of "$R"); [[ -n $KVER && -e $R/boot/vmlinuz-$KVER && -e $R/boot/initrd.img-$KVER ]] || return 1
  { cmp -s "$R/boot/vmlinuz-$KVER" "$vd/vmlinuz" || cp -f "$R/boot/vmlinuz-$KVER" "$vd/vmlinuz"; } &&
  { cmp -s "$R/boot/initrd.img-$KVER" "$vd/initrd.img" || cp -f "$R/boot/initrd.img-$KVER" "$vd/initrd.img"; } &&
  in_chroot "$R" dpkg-query -W -f='${Version}\n' zfs-dkms >"$vd/zfs-version.new" &&
  mv "$vd/zfs-version.new" "$vd/zfs-version" &&
  echo "$KVER" >"$vd/kernel-version"
}
install_if_changed() { # install_if_changed SRC DST MODE: keep the old mtime when the content is the same
  local src=$1 dst=$2 mode=$3
  cmp -s "$src" "$dst" && return 0
  install -D -m "$mode" "$src" "$dst"
}
build_variant() {
  local v=$1 vd=$LAB/$1 R=$LAB/$1/rootfs KVER img
  is_variant "$v" || die "unknown variant $v (${VARIANTS[*]})" 2
  if [[ ${FORCE:-0} = 1 ]]; then rm -rf "$vd"; fi
  mkdir -p "$vd"
  if [[ ! -e $R/.stamp-copy ]]; then
    rm -rf "$R"
    step "copy base rootfs -> $v" cp -a "$BASE" "$R"
    touch "$R/.stamp-copy"
  fi
  if [[ ! -e $R/.stamp-zfs ]]; then
    step "apt install zfs-dkms zfsutils-linux + dkms build ($v)" variant_zfs "$v" "$R"
    touch "$R/.stamp-zfs"
  fi
  if [[ ! -e $R/.stamp-lane-tools || ! -e $R/.stamp-lane-fio ]]; then
    step "apt install jq fio ($v)" variant_tools "$R"
    touch "$R/.stamp-lane-tools" "$R/.stamp-lane-fio"
  fi
  if [[ ! -e $R/.stamp-lane-stick ]]; then
    step "apt install zfs-initramfs kexec-tools ($v)" variant_stick "$v" "$R"
    touch "$R/.stamp-lane-stick"
  fi
  step "boot hook, kernel and initrd ($v)" variant_boot "$v" "$R"
  KVER=$(kver_of "$R")
  img=$vd/rootfs.img
  if [[ ! -e $img || $R/usr/local/sbin/zfslab-hook -nt $img || $R/etc/systemd/system/zfslab.service -nt $img ||
        $R/.stamp-zfs -nt $img || $R/.stamp-lane-tools -nt $img || $R/.stamp-lane-fio -nt $img ||
        $R/.stamp-lane-stick -nt $img ]]; then
    image_busy "$img" && die "image $img is in use by a running qemu; wait for it to end" 3
    rm -f "$img"
    step "mkfs.ext4 -d image ($v)" mkfs.ext4 -q -F -L zfslab-root -d "$R" "$img" "$IMG_SIZE"
  fi
  log "variant $v ready: kernel $KVER, zfs-dkms $(cat "$vd/zfs-version") ($img)"
}
image_busy() { # is a qemu running on an overlay of this image?
  local p
  for p in $(pgrep -x qemu-system-x86_64 2>/dev/null || true); do
    grep -qF "$1" "/proc/$p/cmdline" 2>/dev/null && return 0
    # overlays name their backing file inside the qcow2, not on the command line
    tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -o 'file=[^,]*overlay.qcow2' | cut -d= -f2 | while read -r ov; do
      qemu-img info "$ov" 2>/dev/null | grep -qF "backing file: $1" && echo busy
    done | grep -q busy && return 0
  done
  return 1
}
host_tools() {
  command -v debootstrap >/dev/null && command -v qemu-system-x86_64 >/dev/null && command -v qemu-img >/dev/null &&
    command -v mkfs.ext4 >/dev/null && command -v jq >/dev/null && command -v gnuplot >/dev/null &&
    command -v go-md2man >/dev/null && return 0
  apt_install qemu-system-x86 qemu-utils debootstrap e2fsprogs jq gnuplot-nox go-md2man
}
cmd_build() {
  local what=${1:-all} v
  need_root
  mkdir -p "$LAB"
  step "host tools (qemu, debootstrap, jq)" host_tools
  mirrors
  build_base
  if [[ $what = all ]]; then
    for v in "${VARIANTS[@]}"; do build_variant "$v"; done
  else
    is_variant "$what" || die "unknown variant $what (${VARIANTS[*]} all)" 2
    build_variant "$what"
  fi
}

# ---------------------------------------------------------------- arcadvise binary
build_arcadvise() { # static linux/amd64 binary from the checkout
  local out=$1
  (cd "$REPO" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o "$out" ./cmd/arcadvise)
}
build_deb() { # the .deb of packaging/build.sh, which the guests install with dpkg
  rm -rf "$LAB/lane/dist"
  DIST=$LAB/lane/dist bash "$REPO/packaging/build.sh" >/dev/null
  cp -f "$LAB"/lane/dist/*.deb "$LAB/lane/arcadvise.deb"
}

# ---------------------------------------------------------------- run one variant
# Boots a fresh qcow2 overlay over the variant image plus a fresh sparse pool disk; the share holds
# run.sh (the guest driver), the scenario scripts, arcadvise and the list of scenarios; the guest
# writes share/out/ (results.tsv, snapshots, logs), reboots itself once for the persist scenario.
run_variant() {
  local v=$1; shift
  local vd=$LAB/$v run rc=0 t0 wall
  [[ -e $vd/rootfs.img && -e $vd/zfs-version ]] || die "variant $v is not built (test/vm/lane.sh build $v)" 3
  run=$LAB/lane/runs/$v/$(date -u +%Y%m%dT%H%M%SZ)
  mkdir -p "$run/share/out" "$run/share/lane"
  cp -f "$HERE/guest/run.sh" "$run/share/run.sh"
  cp -f "$HERE"/guest/lib.sh "$HERE"/guest/s-*.sh "$run/share/lane/"
  cp -f "$LAB/lane/arcadvise" "$run/share/lane/arcadvise"
  [[ -e $LAB/lane/arcadvise.deb ]] && cp -f "$LAB/lane/arcadvise.deb" "$run/share/lane/arcadvise.deb"
  printf '%s\n' "$@" >"$run/share/lane/scenarios"
  { echo "variant=$v"; echo "zfs_dkms=$(cat "$vd/zfs-version")"; echo "kernel=$(cat "$vd/kernel-version")"
    echo "date=$(date -u +%FT%TZ)"; echo "accel=$(accel_args)"; echo "mem_mib=$MEM"; echo "smp=$SMP"; echo "reserve=${RESERVE:-2G}"; echo "kind=${KIND:-vm}"; echo "pcp_fraction=${PCP_FRACTION:-}"; echo "boost_factor=${BOOST_FACTOR:-}"; echo "shrinker_limit=${SHRINKER_LIMIT:-}"
    echo "timing_runs=${TIMING_RUNS:-21}"; echo "timing_slow_runs=${TIMING_SLOW_RUNS:-7}"
    echo "commit=$BUILD_COMMIT"; echo "dirty=$BUILD_DIRTY"; } >"$run/share/lane/env"
  RUN_SCRATCH=("$run/overlay.qcow2" "$run/pool.img")   # the trap removes them if the lane is stopped
  qemu-img create -q -f qcow2 -F raw -b "$vd/rootfs.img" "$run/overlay.qcow2"
  truncate -s "$POOLDISK_SIZE" "$run/pool.img"
  log "booting $v ($(accel_args), ${MEM} MiB, $SMP vCPUs, timeout ${VM_TIMEOUT}s): $*"
  log "run dir $run (console: $run/console.log)"
  t0=$SECONDS
  # in the background, so that the lane's traps run at once on a signal (bash runs a trap only after
  # the foreground command ends) and can stop qemu (see cleanup)
  # shellcheck disable=SC2046
  timeout --kill-after=10 "$VM_TIMEOUT" qemu-system-x86_64 $(accel_args) -m "$MEM" -smp "$SMP" \
    -nographic -nic none -no-user-config -nodefaults -serial stdio -monitor none \
    -kernel "$vd/vmlinuz" -initrd "$vd/initrd.img" \
    -append "console=ttyS0 root=/dev/vda rw panic=10 systemd.show_status=1 zfslab=1" \
    -drive "file=$run/overlay.qcow2,if=virtio,format=qcow2,cache=unsafe" \
    -drive "file=$run/pool.img,if=virtio,format=raw,cache=unsafe,discard=unmap" \
    -virtfs "local,path=$run/share,mount_tag=host0,security_model=passthrough,id=host0" \
    </dev/null >"$run/console.log" 2>&1 &
  RUN_PID=$!
  wait "$RUN_PID" || rc=$?
  RUN_PID=""
  wall=$((SECONDS - t0))
  printf '%s\t%-40s\t%5ds\trc=%d\n' "$(date -u +%FT%TZ)" "lane: boot $v $*" "$wall" "$rc" >>"$LAB/timings.log"
  rm -f "${RUN_SCRATCH[@]}"; RUN_SCRATCH=()
  echo "$wall" >"$run/wall_seconds"
  local res=$run/share/out/results.tsv
  touch "$res"
  if [[ $rc = 124 || $rc = 137 ]]; then
    log "VM TIMED OUT after ${VM_TIMEOUT}s (killed); console: $run/console.log"
    printf 'boot\tFAIL\twall_s=%s\tguest killed after VM_TIMEOUT=%ss\n' "$wall" "$VM_TIMEOUT" >>"$res"
  elif [[ $rc != 0 ]]; then
    printf 'boot\tFAIL\twall_s=%s\tqemu exited %s\n' "$wall" "$rc" >>"$res"
  fi
  # a selected scenario that wrote no line did not finish
  local s
  for s in "$@"; do
    grep -q "^$s	" "$res" || printf '%s\tFAIL\t-\tno result (guest did not finish it; see %s)\n' "$s" "$run/console.log" >>"$res"
  done
  log "qemu exited rc=$rc after ${wall}s"
  # the latest result of each scenario on this variant (the report is made from these): this run's
  # rows replace those of the scenarios it ran, the other scenarios keep the run they came from
  # (runs.tsv says which: scenario, date, commit, uncommitted changes, reserve, guest MiB, run dir)
  local rv=$LAB/lane/results/$v
  mkdir -p "$rv"
  merge_rows "$rv/results.tsv" "$res" "$@"
  local runrows=$run/runs.tsv
  : >"$runrows"
  for s in "$@"; do
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$(sed -n 's/^date=//p' "$run/share/lane/env")" "$BUILD_COMMIT" \
      "$BUILD_DIRTY" "${RESERVE:-2G}" "$MEM" "$run" >>"$runrows"
  done
  merge_rows "$rv/runs.tsv" "$runrows" "$@"
  cp -f "$run/share/lane/env" "$run/wall_seconds" "$rv/"
  if [[ -d $run/share/out/model ]]; then cp -f "$run/share/out/model"/*.env "$LAB/lane/results/$v/" 2>/dev/null || true; fi
  [[ -e $run/share/out/frontier/frontier.tsv ]] && export_frontier "$v" "$run"
  if [[ -e $run/share/out/timing/timing.env ]]; then cp -f "$run/share/out/timing/timing.env" "$LAB/lane/results/$v/"; fi
  local f
  for f in zfs_version kernel arcadvise_version boot1_seconds crash_capture.json textfile.rc textfile/arcadvise.prom deb-install.txt; do
    [[ -e $run/share/out/$f ]] && cp -f "$run/share/out/$f" "$LAB/lane/results/$v/"
  done
  echo "$run" >"$LAB/lane/results/$v/rundir"
  export_testdata "$v" "$run"
}

# merge_rows DST NEW SCENARIO...: DST (a results.tsv or runs.tsv, first column the scenario) without
# its rows for the SCENARIOs and for boot, then the rows of NEW.
merge_rows() {
  local dst=$1 new=$2 tmp; shift 2
  tmp=$dst.new
  { if [[ -e $dst ]]; then
      awk -F'\t' -v list="boot $*" 'BEGIN{n=split(list, a, " "); for (i = 1; i <= n; i++) drop[a[i]] = 1} !($1 in drop)' "$dst"
    fi
    cat "$new"; } >"$tmp" && mv -f "$tmp" "$dst"
}

# Snapshots taken by the guest (root layout: proc/..., sys/module/zfs/...) go to testdata/vm/<zfs-version>/.
export_testdata() {
  local v=$1 run=$2 zver dst src
  zver=$(cat "$run/share/out/zfs_version" 2>/dev/null || true)
  [[ -n $zver && -d $run/share/out/snap ]] || return 0
  dst=$REPO/testdata/vm/$zver
  for src in "$run/share/out/snap"/*/; do
    src=${src%/}
    rm -rf "${dst:?}/$(basename "$src")"
    mkdir -p "$dst"
    cp -a "$src" "$dst/"
  done
  for src in "$run/share/out/replay"/*/; do
    [[ -e $src/arcadvise-replay ]] || continue
    src=${src%/}
    rm -rf "${dst:?}/replay-$(basename "$src")"
    cp -a "$src" "$dst/replay-$(basename "$src")"
  done
  find "$dst" -type f -size +256k -delete
  log "snapshots: $dst ($(find "$dst" -type f | wc -l) files)"
}

# The frontier's data go to docs/frontier/<config>/ (config: variant, guest memory, R), where the
# report and its picture are made from; a later run of other scenarios leaves them alone.
export_frontier() {
  local v=$1 run=$2 cfg dst f
  cfg="$v-${MEM}M-R${RESERVE:-2G}"
  [[ ${KIND:-vm} = vm ]] || cfg="$cfg-$KIND"   # the frontier's workload kind (s-frontier.sh)
  [[ -z ${PCP_FRACTION:-} ]] || cfg="$cfg-pcp$PCP_FRACTION"
  [[ -z ${BOOST_FACTOR:-} ]] || cfg="$cfg-boost$BOOST_FACTOR"
  [[ -z ${SHRINKER_LIMIT:-} ]] || cfg="$cfg-shrink$SHRINKER_LIMIT"
  dst=$REPO/docs/frontier/$cfg
  # every run of the configuration keeps its line in history.tsv: one run is a sample (C* moves
  # between runs of one configuration), and the report shows them all
  local hist="" wins="" held=""
  [[ -s $dst/history.tsv ]] && hist=$(cat "$dst/history.tsv")
  # every window of every run (windows.tsv: the run's date, whether it settled after the default
  # cap's window, then its frontier.tsv row), so that the report can read the runs together; and
  # which run was the held-out one (held-out.env), which a later run of the configuration keeps
  [[ -s $dst/windows.tsv ]] && wins=$(cat "$dst/windows.tsv")
  [[ -s $dst/held-out.env ]] && held=$(cat "$dst/held-out.env")
  rm -rf "$dst"; mkdir -p "$dst"
  for f in frontier.tsv frontier.env recommend.txt recommend.json whatif.json; do
    [[ -e $run/share/out/frontier/$f ]] && cp -f "$run/share/out/frontier/$f" "$dst/"
  done
  { echo "variant=$v"; echo "zfs=$(cat "$run/share/out/zfs_version" 2>/dev/null)"; echo "kernel=$(cat "$run/share/out/kernel" 2>/dev/null)"
    echo "mem_mib=$MEM"; echo "date=$(sed -n 's/^date=//p' "$run/share/lane/env")"; echo "commit=$BUILD_COMMIT"; echo "dirty=$BUILD_DIRTY"
    echo "result=$(awk -F'\t' '$1=="frontier"{print $2}' "$run/share/out/results.tsv")"; } >"$dst/run.env"
  if [[ -n $held ]]; then   # a configuration has one held-out run, its first
    printf '%s\n' "$held" >"$dst/held-out.env"
    [[ -z ${HELD_OUT:-} ]] || log "frontier: $cfg already has a held-out run ($(sed -n 's/^date=//p' <<<"$held")): this one is not held out"
  elif [[ -n ${HELD_OUT:-} ]]; then
    { echo "date=$(sed -n 's/^date=//p' "$dst/run.env")"; echo "commit=$BUILD_COMMIT"; echo "note=$HELD_OUT"; } >"$dst/held-out.env"
  fi
  { if [[ -n $hist ]]; then printf '%s\n' "$hist"; else printf '%s\n' "$FR_HISTORY_HEADER"; fi
    frontier_history_row "$dst"; } >"$dst/history.tsv"
  { if [[ -n $wins ]]; then printf '%s\n' "$wins"; else printf '%s\n' "$FR_WINDOWS_HEADER"; fi
    frontier_windows_rows "$dst"; } >"$dst/windows.tsv"
  REPO=$REPO bash "$HERE/plot.sh" "$dst" || log "frontier plot failed for $cfg (gnuplot)"
  log "frontier: $dst"
}

# ---------------------------------------------------------------- table and report (resfield, envval: lib-host.sh)
print_table() {
  local v s st
  printf '\n%-9s' "scenario"
  for v in "${VARIANTS[@]}"; do printf '| %-28s' "$v $(envval "$v" zfs_dkms)"; done; printf '\n'
  for s in boot "${SCENARIOS[@]}"; do
    if [[ $s = boot ]] && ! grep -qs '^boot	' "$LAB"/lane/results/*/results.tsv; then continue; fi
    printf '%-9s' "$s"
    for v in "${VARIANTS[@]}"; do st=$(resfield "$v" "$s" 2); printf '| %-28s' "${st:-not run}"; done
    printf '\n'
    for v in "${VARIANTS[@]}"; do
      st=$(resfield "$v" "$s" 3); if [[ -n $st && $st != - ]]; then printf '    %s: %s\n' "$v" "$st"; fi
      st=$(resfield "$v" "$s" 4); if [[ -n $st ]]; then printf '    %s: %s\n' "$v" "$st"; fi
    done
  done
  printf '\n'
}

all_pass() { # all_pass SCENARIO...: every variant that ran has PASS for each
  local v s ok=0
  for v in "${VARIANTS[@]}"; do
    [[ -e $LAB/lane/results/$v/results.tsv ]] || continue
    grep -q '^boot	FAIL' "$LAB/lane/results/$v/results.tsv" && ok=1
    for s in "$@"; do [[ $(resfield "$v" "$s" 2) = PASS ]] || ok=1; done
  done
  return $ok
}

cmd_report() {
  print_table
  REPO=$REPO LAB=$LAB bash "$HERE/report.sh" >"$REPO/docs/real-kernel.md.new" && mv "$REPO/docs/real-kernel.md.new" "$REPO/docs/real-kernel.md"
  log "report: $REPO/docs/real-kernel.md"
}

cmd_run() {
  local vs=() sc=() a v
  need_root
  for a in "$@"; do
    if [[ $a = all ]]; then vs+=("${VARIANTS[@]}")
    elif is_variant "$a"; then vs+=("$a")
    elif is_scenario "$a"; then sc+=("$a")
    else die "unknown variant or scenario '$a' (variants: ${VARIANTS[*]} all; scenarios: ${SCENARIOS[*]}; opt-in: ${OPT_SCENARIOS[*]})" 2
    fi
  done
  [[ ${#vs[@]} -gt 0 ]] || vs=("${VARIANTS[@]}")
  [[ ${#sc[@]} -gt 0 ]] || sc=("${SCENARIOS[@]}")
  # the frontier's ladder takes 1-2 minutes a step under TCG: a longer leash unless one is set
  [[ " ${sc[*]} " = *" frontier "* && -z ${VM_TIMEOUT_SET:-} ]] && VM_TIMEOUT=$((VM_TIMEOUT > 7200 ? VM_TIMEOUT : 7200))
  mkdir -p "$LAB/lane"
  # the checkout as it was when the binary was built (edits made while the guests run do not count)
  BUILD_COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo none)
  BUILD_DIRTY=$(git -C "$REPO" status --porcelain -- . ':!testdata/vm' ':!docs/real-kernel.md' ':!docs/frontier' 2>/dev/null | grep -c . || true)
  step "go build arcadvise (static linux/amd64)" build_arcadvise "$LAB/lane/arcadvise"
  rm -f "$LAB/lane/arcadvise.deb"
  if command -v go-md2man >/dev/null; then step "packaging/build.sh (.deb)" build_deb; else log "no go-md2man: the guests install no .deb"; fi
  local joint=() solo=() s
  for s in "${sc[@]}"; do if is_solo "$s"; then solo+=("$s"); else joint+=("$s"); fi; done
  for v in "${vs[@]}"; do
    [[ ${#joint[@]} -eq 0 ]] || run_variant "$v" "${joint[@]}"
    for s in "${solo[@]}"; do run_variant "$v" "$s"; done
  done
  cmd_report
  all_pass "${sc[@]}"
}

cmd_info() {
  grep 'lane:' "$LAB/timings.log" 2>/dev/null | tail -20 || true
  for v in "${VARIANTS[@]}"; do
    if [[ -e $LAB/$v/zfs-version ]]; then
      echo "variant $v: zfs-dkms $(cat "$LAB/$v/zfs-version") kernel $(cat "$LAB/$v/kernel-version") image $LAB/$v/rootfs.img" \
        "$([[ -e $LAB/$v/rootfs/.stamp-lane-tools ]] && echo '(lane tools in)' || echo '(lane tools missing: lane.sh build)')"
    else
      echo "variant $v: not built"
    fi
  done
}

main() {
  case ${1:-all} in
    all)    cmd_build all; cmd_run all ;;
    build)  shift; cmd_build "${1:-all}" ;;
    run)    shift; cmd_run "$@" ;;
    report) cmd_report ;;
    info)   cmd_info ;;
    ci)
      if [[ ${ARCADVISE_VM:-} != 1 ]]; then
        echo "real-kernel lane skipped (set ARCADVISE_VM=1 to run test/vm/lane.sh, tens of minutes under emulation)"
        exit 0
      fi
      cmd_build all; cmd_run all ;;
    -h|--help|help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
}

# Sourced (test/vm/lane_test.go), the file stops here: it has defined the functions and the traps.
(return 0 2>/dev/null) && return 0
# one line: bash has parsed it whole before main runs, so editing this file during a run is harmless
main "$@"; exit $?
