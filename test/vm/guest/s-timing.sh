# shellcheck shell=bash disable=SC2034,SC2154,SC1090,SC1091
# s-timing.sh - scenario f (timing): the whole run of arcadvise as a process, wall clock from
# before the fork to after the wait, against `cat` of exactly the files a one-shot run reads,
# against arc_summary, against /bin/true (the cost of starting any process) and against
# `arcadvise --version` (the cost of starting this binary: the Go runtime and every package's init,
# no host file read), so text - version is what arcadvise's own work costs.
# Runs at boot 1 right after the 00-boot snapshot: a quiet guest, ARC nearly empty, no pool yet.
#
# How: the binary is $AA (/usr/local/bin/arcadvise, installed on the guest's own disk by run.sh;
# never the 9p share, whose page faults go to the host). No cache is dropped. TIMING_WARMUP runs
# of each command first (not timed), then TIMING_RUNS rounds of true, cat, version, text, JSON interleaved
# (a transient slowdown hits all four alike), then arc_summary TIMING_SLOW_RUNS times on its own
# (python; it would evict the other commands' translated code under TCG if interleaved). Every
# run's stdout and stderr go to /dev/null; the times stay in memory until the end (nothing is
# written to the 9p share while timing). Clock: bash's EPOCHREALTIME (µs).
# PASS: every arcadvise run (warm-up included) exited 0, and cat did. The ratios are printed, not
# asserted. $OUT/timing/: timing.env (median, min, max per command), runs.tsv (every run),
# text.txt / json.json / *.err (the first warm-up's output).
# A control, in timing.env only: QEMU's TCG (7.2) finds translated code by virtual address, so
# with ASLR a PIE program (cat and true: ld.so, libc) is translated again at every exec while the
# static, non-PIE arcadvise is not. The same rounds once more with ASLR off (randomize_va_space=0,
# restored after) show how much of cat's and true's time that is (aslr_off_*).

# TIMING_RUNS, TIMING_SLOW_RUNS, TIMING_WARMUP: the environment, else the lane's env file (lane.sh
# writes timing_runs= and timing_slow_runs= from the host's TIMING_RUNS, TIMING_SLOW_RUNS), else defaults.
tm_env() { # tm_env VAR KEY DEFAULT: a whole number >= 1
  local v=${!1:-}
  [ -n "$v" ] || v=$(sed -n "s/^$2=//p" "${L:-/nonexistent}/env" 2>/dev/null | head -1)
  case $v in ''|*[!0-9]*|0) v=$3 ;; esac
  printf -v "$1" '%s' "$v"
}
tm_env TIMING_RUNS timing_runs 21
tm_env TIMING_SLOW_RUNS timing_slow_runs 7
tm_env TIMING_WARMUP timing_warmup 3
PARAMS=${LANE_PARAMS:-$P}       # LANE_PARAMS: only for trying the script without the module
ASLR=${LANE_ASLR:-/proc/sys/kernel/randomize_va_space}   # LANE_ASLR: a stand-in file for a dry run

# timing_files: the files arcadvise reads for a one-shot run (those that exist), one per line:
# the counters (host.ReadCounters), the module's parameters, then what host.ReadSystem reads once:
# the kernel release, the boost sysctl, os-release (osinfo), the mounts, PID 1's environment
# (container.Detect), the next boot's command line sources (nextboot: /proc/cmdline, grub's
# defaults, kernel-install's and grubenv where they exist), the modprobe.d files and the crash
# capture's files (crashcap: kexec_crash_loaded, the pstore backend, the panic sysctls).
# Directory listings (/boot, the modprobe.d directories, loader entries) and probes of files that
# do not exist are arcadvise's alone: cat has no equivalent.
# modprobe.d: the *.conf files of kmod's directories, in its order, a name seen once (an earlier
# directory hides the same name in a later one; /lib is /usr/lib on a merged-/usr system).
timing_files() {
  local f seen=" "
  for f in "$K" "$MEMINFO" /proc/pressure/memory /proc/vmstat "$ZFSVER" \
           "$PARAMS/zfs_arc_max" "$PARAMS/zfs_arc_min" "$PARAMS/zfs_arc_sys_free" \
           "$PARAMS/zfs_arc_shrinker_limit" "$PARAMS/zfs_arc_meta_limit_percent" \
           "$PARAMS/zfs_arc_pc_percent" "$PARAMS/zfs_max_recordsize" \
           /proc/cmdline /proc/mounts /proc/zoneinfo /proc/sys/kernel/osrelease \
           /proc/sys/vm/watermark_boost_factor /etc/os-release /proc/1/environ \
           /etc/default/grub /etc/kernel/cmdline /usr/lib/kernel/cmdline /boot/grub/grubenv \
           /sys/kernel/kexec_crash_loaded /sys/module/pstore/parameters/backend \
           /proc/sys/kernel/panic /proc/sys/kernel/panic_on_oops /proc/sys/kernel/hung_task_panic; do
    # one that cannot be read (PID 1's environment without CAP_SYS_PTRACE's reach) is left out:
    # arcadvise notes it and goes on, cat would fail
    [ -f "$f" ] && cat "$f" >/dev/null 2>&1 && printf '%s\n' "$f"
  done
  for f in /etc/modprobe.d/*.conf /run/modprobe.d/*.conf /usr/local/lib/modprobe.d/*.conf \
           /usr/lib/modprobe.d/*.conf /lib/modprobe.d/*.conf; do
    [ -f "$f" ] || continue
    case $seen in *" ${f##*/} "*) continue ;; esac
    seen="$seen${f##*/} "
    printf '%s\n' "$f"
  done
}

# tm CMD...: run CMD once, stdout and stderr to /dev/null; TM_US = its wall time in µs.
# Returns CMD's exit status. EPOCHREALTIME has 6 decimals; the separator follows the locale.
TM_US=0
tm() {
  local t0 t1 rc
  t0=${EPOCHREALTIME//[!0-9]/}
  "$@" >/dev/null 2>&1; rc=$?
  t1=${EPOCHREALTIME//[!0-9]/}
  TM_US=$((t1 - t0))
  return "$rc"
}

# tm_stats US...: "median min max" in ms (2 decimals) of µs values; "- - -" when none
tm_stats() {
  [ $# -gt 0 ] || { echo "- - -"; return; }
  printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1}
    END{m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
        printf "%.2f %.2f %.2f\n", m/1000, v[1]/1000, v[NR]/1000}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (a == "-" || b == "-" || b <= 0) print "-"; else printf "%.2f", a/b}'; }
# floor_x VERSION CAT TRUE: (VERSION + CAT - TRUE) / VERSION, medians in ms ("-" when one is missing):
# what a program that started as arcadvise --version does and then only read the files cat reads
# would take, against --version
floor_x() { ratio "$(awk -v v="$1" -v c="$2" -v t="$3" 'BEGIN{if (v == "-" || c == "-" || t == "-") print "-"; else printf "%.2f", v + c - t}')" "$1"; }

# aa_check LABEL RC: count an arcadvise run that did not exit 0 (AA_BAD: how many, AA_FIRST: the first)
AA_BAD=0; AA_FIRST=""
aa_check() { [ "$2" = 0 ] && return 0; AA_BAD=$((AA_BAD + 1)); [ -n "$AA_FIRST" ] || AA_FIRST="$1 exit $2"; }

# tm_rounds SUFFIX TRUE CAT VERSION TEXT JSON: TIMING_RUNS rounds of the five commands,
# interleaved (a transient slowdown hits all alike); each time goes to the array named for its
# command, each run to log as "COMMAND$SUFFIX ROUND US EXIT".
tm_rounds() {
  local sfx=$1 i rc
  local -n r_true=$2 r_cat=$3 r_ver=$4 r_text=$5 r_json=$6
  for ((i = 1; i <= TIMING_RUNS; i++)); do
    tm /bin/true; rc=$?; r_true+=("$TM_US"); log+=("true$sfx $i $TM_US $rc")
    tm cat "${files[@]}"; rc=$?; r_cat+=("$TM_US"); log+=("cat$sfx $i $TM_US $rc")
    [ "$rc" = 0 ] || bad_cat=${bad_cat:-cat run $i$sfx exit $rc}
    tm "$AA" --version; rc=$?; r_ver+=("$TM_US"); log+=("version$sfx $i $TM_US $rc")
    aa_check "version run $i$sfx" "$rc"
    tm "$AA" --reserve "$RESERVE"; rc=$?; r_text+=("$TM_US"); log+=("text$sfx $i $TM_US $rc")
    aa_check "text run $i$sfx" "$rc"
    tm "$AA" --reserve "$RESERVE" --format json; rc=$?; r_json+=("$TM_US"); log+=("json$sfx $i $TM_US $rc")
    aa_check "json run $i$sfx" "$rc"
  done
}

timing_main() {
  local d=$OUT/timing w=/run/lane-timing files=() summary="" fstype i rc
  local -a us_true=() us_cat=() us_text=() us_json=() us_sum=() us_ver=() log=()
  local -a na_true=() na_cat=() na_text=() na_json=() na_ver=()
  local bad_cat="" sum_note="" err
  AA_BAD=0; AA_FIRST=""
  mkdir -p "$d" "$w"
  [ -n "${EPOCHREALTIME:-}" ] || { result timing FAIL - "this bash has no EPOCHREALTIME (bash >= 5 needed)"; return; }
  mapfile -t files < <(timing_files)
  [ "${#files[@]}" -gt 0 ] || { result timing FAIL - "none of the files arcadvise reads exists"; return; }
  # the binary must be on the guest's own disk, not the 9p share
  fstype=$(stat -f -c %T "$AA" 2>/dev/null || echo missing)
  case $fstype in
    missing) result timing FAIL - "$AA not found"; return ;;
    v9fs|9p) result timing FAIL - "$AA is on the 9p share ($fstype): its page faults go to the host"; return ;;
  esac
  for i in /usr/sbin/arc_summary /usr/bin/arc_summary; do [ -x "$i" ] && { summary=$i; break; }; done
  [ -n "$summary" ] || summary=$(command -v arc_summary 2>/dev/null || true)
  say "timing: $AA ($fstype), ${#files[@]} files, ${TIMING_WARMUP} warm-up + ${TIMING_RUNS} runs (arc_summary: ${summary:-missing}, ${TIMING_SLOW_RUNS} runs)"

  # warm-up: page cache, dentries, and under TCG the translated code; the first run's output is kept
  "$AA" --reserve "$RESERVE" >"$w/text.txt" 2>"$w/text.err"; aa_check "text warm-up" $?
  "$AA" --reserve "$RESERVE" --format json >"$w/json.json" 2>"$w/json.err"; aa_check "json warm-up" $?
  cat "${files[@]}" >/dev/null 2>"$w/cat.err"; rc=$?
  [ "$rc" = 0 ] || bad_cat="cat warm-up exit $rc"
  for ((i = 1; i < TIMING_WARMUP; i++)); do
    tm /bin/true; tm cat "${files[@]}"; tm "$AA" --version
    tm "$AA" --reserve "$RESERVE"; aa_check "text warm-up" $?
    tm "$AA" --reserve "$RESERVE" --format json; aa_check "json warm-up" $?
  done

  # timed rounds, interleaved
  tm_rounds "" us_true us_cat us_ver us_text us_json

  # the control: the same rounds with ASLR off
  local aslr0 aslr_note=""
  aslr0=$(cat "$ASLR" 2>/dev/null)
  if [ -z "$aslr0" ]; then
    aslr_note="no $ASLR"
  elif ! echo 0 >"$ASLR" 2>/dev/null; then
    aslr_note="cannot write $ASLR"
  else
    tm /bin/true; tm cat "${files[@]}"; tm "$AA" --version; tm "$AA" --reserve "$RESERVE"; tm "$AA" --reserve "$RESERVE" --format json
    tm_rounds "-aslr-off" na_true na_cat na_ver na_text na_json
    echo "$aslr0" >"$ASLR"
  fi

  # arc_summary on its own, fewer runs; missing or failing: "-" (not a failure of this scenario)
  if [ -z "$summary" ]; then
    sum_note="arc_summary not installed"
  else
    "$summary" >/dev/null 2>"$w/arc_summary.err"; rc=$?
    if [ "$rc" != 0 ]; then
      sum_note="$summary exit $rc: $(head -c 160 "$w/arc_summary.err" | tr '\t\n"' '  ')"
    else
      tm "$summary"
      for ((i = 1; i <= TIMING_SLOW_RUNS; i++)); do
        tm "$summary"; rc=$?; us_sum+=("$TM_US"); log+=("arc_summary $i $TM_US $rc")
      done
    fi
  fi
  [ -z "$sum_note" ] || say "timing: $sum_note"

  # only now write to the share
  cp -f "$w"/* "$d/" 2>/dev/null
  { echo "command run us exit"; printf '%s\n' "${log[@]}"; } | tr ' ' '\t' >"$d/runs.tsv"
  local st_true st_cat st_text st_json st_sum st_ver na_st_ver
  read -r -a st_ver < <(tm_stats "${us_ver[@]}")
  read -r -a na_st_ver < <(tm_stats "${na_ver[@]}")
  read -r -a st_true < <(tm_stats "${us_true[@]}")
  read -r -a st_cat < <(tm_stats "${us_cat[@]}")
  read -r -a st_text < <(tm_stats "${us_text[@]}")
  read -r -a st_json < <(tm_stats "${us_json[@]}")
  read -r -a st_sum < <(tm_stats "${us_sum[@]}")
  local na_st_true na_st_cat na_st_text na_st_json
  read -r -a na_st_true < <(tm_stats "${na_true[@]}")
  read -r -a na_st_cat < <(tm_stats "${na_cat[@]}")
  read -r -a na_st_text < <(tm_stats "${na_text[@]}")
  read -r -a na_st_json < <(tm_stats "${na_json[@]}")
  local txc jxc txv jxv n s
  txc=$(ratio "${st_text[0]}" "${st_cat[0]}"); jxc=$(ratio "${st_json[0]}" "${st_cat[0]}")
  # against --version: what arcadvise's own work (reading, deciding, printing) adds to its start
  txv=$(ratio "${st_text[0]}" "${st_ver[0]}"); jxv=$(ratio "${st_json[0]}" "${st_ver[0]}")
  # The floor under those two ratios: a program that started like arcadvise --version and then
  # only read the same files, as cat reads them, would take version + (cat - true); against
  # --version that is read_floor_x_version. What text and JSON take above the floor is the parsing,
  # the policy and the printing (and the probes and listings cat does not make).
  local floorx
  floorx=$(floor_x "${st_ver[0]}" "${st_cat[0]}" "${st_true[0]}")
  { echo "runs=$TIMING_RUNS"; echo "slow_runs=${#us_sum[@]}"; echo "warmup=$TIMING_WARMUP"
    echo "files=${#files[@]}"; echo "file_list=\"${files[*]}\""; echo "binary=\"$AA ($fstype)\""
    echo "arc_summary=\"${summary:--}\""; echo "arc_summary_note=\"$sum_note\""
    for n in true cat version text json arc_summary; do
      case $n in true) s=("${st_true[@]}");; cat) s=("${st_cat[@]}");; text) s=("${st_text[@]}");;
                 json) s=("${st_json[@]}");; arc_summary) s=("${st_sum[@]}");; version) s=("${st_ver[@]}");; esac
      echo "${n}_median_ms=${s[0]}"; echo "${n}_min_ms=${s[1]}"; echo "${n}_max_ms=${s[2]}"
    done
    echo "text_x_cat=$txc"; echo "json_x_cat=$jxc"; echo "text_x_version=$txv"; echo "json_x_version=$jxv"
    echo "text_x_cat_min=$(ratio "${st_text[1]}" "${st_cat[1]}")"; echo "json_x_cat_min=$(ratio "${st_json[1]}" "${st_cat[1]}")"
    echo "read_floor_x_version=$floorx"
    echo "aslr=$aslr0"; echo "aslr_off_note=\"$aslr_note\""
    for n in true cat version text json; do
      case $n in true) s=("${na_st_true[@]}");; cat) s=("${na_st_cat[@]}");; text) s=("${na_st_text[@]}");;
                 json) s=("${na_st_json[@]}");; version) s=("${na_st_ver[@]}");; esac
      echo "aslr_off_${n}_median_ms=${s[0]}"; echo "aslr_off_${n}_min_ms=${s[1]}"
    done
    echo "aslr_off_text_x_cat=$(ratio "${na_st_text[0]}" "${na_st_cat[0]}")"; echo "aslr_off_json_x_cat=$(ratio "${na_st_json[0]}" "${na_st_cat[0]}")"
    echo "aslr_off_read_floor_x_version=$(floor_x "${na_st_ver[0]}" "${na_st_cat[0]}" "${na_st_true[0]}")"
  } >"$d/timing.env"
  rm -rf "$w"

  local nums reason=""
  nums="cat_ms=${st_cat[0]} version_ms=${st_ver[0]} text_ms=${st_text[0]} json_ms=${st_json[0]} arc_summary_ms=${st_sum[0]} true_ms=${st_true[0]} text_x_cat=$txc json_x_cat=$jxc text_x_version=$txv json_x_version=$jxv read_floor_x_version=$floorx runs=$TIMING_RUNS arc_summary_runs=${#us_sum[@]}"
  say "timing: median arcadvise --version=${st_ver[0]} ms (ASLR off ${na_st_ver[0]})"
  say "timing: min cat=${st_cat[1]} text=${st_text[1]} json=${st_json[1]} arc_summary=${st_sum[1]} true=${st_true[1]} ms"
  say "timing: ASLR off${aslr_note:+ ($aslr_note)}: median cat=${na_st_cat[0]} text=${na_st_text[0]} json=${na_st_json[0]} true=${na_st_true[0]} ms"
  if [ "$AA_BAD" -gt 0 ]; then
    err=$(cat "$d/text.err" "$d/json.err" 2>/dev/null | head -1 | cut -c1-160)
    reason="arcadvise exited non-zero in $AA_BAD runs (first: $AA_FIRST${err:+: $err})"
  fi
  [ -n "$bad_cat" ] && reason="${reason:+$reason; }$bad_cat"
  if [ -z "$reason" ]; then
    result timing PASS "$nums"
  else
    result timing FAIL "$nums" "$reason"
  fi
}
