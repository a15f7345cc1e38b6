#!/usr/bin/env bash
# report.sh - writes docs/real-kernel.md (to stdout) from the lane's last results per variant,
# $LAB/lane/results/<variant>/{results.tsv,env,model.env,...}. Called by lane.sh (run, report).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=${LAB:-/var/tmp/zfslab}
REPO=${REPO:-$(cd "$HERE/../.." && pwd)}
RES=$LAB/lane/results
# shellcheck source=test/vm/lib-host.sh
. "$HERE/lib-host.sh"      # VARIANTS, SCENARIOS, resfield (a results.tsv column), envval (a run setting)

have() { [[ -e $RES/$1/results.tsv ]]; }
file1() { head -1 "$RES/$1/$2" 2>/dev/null || true; }
mv_() { sed -n "s/^$2=//p" "$RES/$1/model.env" 2>/dev/null | tail -1 | tr -d '"' || true; }
tv_() { sed -n "s/^$2=//p" "$RES/$1/timing.env" 2>/dev/null | tail -1 | tr -d '"' || true; }
num() { resfield "$1" "$2" 3 | tr ' ' '\n' | sed -n "s/^$3=//p" | tail -1; }  # num VARIANT SCENARIO KEY
mibs() { [[ -n $1 ]] && awk -v b="$1" 'BEGIN{printf "%.0f MiB", b/1048576}' || echo "-"; }

cat <<'EOF'
# arcadvise on a real kernel

This file is written by `test/vm/lane.sh` from what the lane measured; do not edit it by hand.
The lane boots a QEMU guest with the stock Debian bookworm kernel and the real OpenZFS module
built by DKMS from Debian's packages (2.1.11 from bookworm/contrib, 2.3.2 from bookworm-backports/contrib),
copies in an arcadvise built from the checkout (static, linux/amd64), runs the scenarios as root at
boot, reboots the guest once for the persist scenario, and collects the results through a 9p share.
How to run it and what each scenario does: `test/vm/README.md`.

## Variants

| variant | zfs-dkms | /sys/module/zfs/version | kernel | guest | accelerator | arcadvise | run (UTC) | wall |
|---|---|---|---|---|---|---|---|---|
EOF
for v in "${VARIANTS[@]}"; do
  have "$v" || { echo "| $v | not run | | | | | | | |"; continue; }
  acc=$(envval "$v" accel); case $acc in *tcg*) acc="TCG (software)";; *kvm*) acc="KVM";; esac
  dirty=$(envval "$v" dirty); [[ ${dirty:-0} != 0 ]] && dirty=" + uncommitted changes" || dirty=""
  echo "| $v | $(envval "$v" zfs_dkms) | $(file1 "$v" zfs_version) | $(file1 "$v" kernel) | $(envval "$v" mem_mib) MiB, $(envval "$v" smp) vCPU | $acc | $(file1 "$v" arcadvise_version | sed 's/^arcadvise //') ($(envval "$v" commit)$dirty) | $(envval "$v" date) | $(file1 "$v" wall_seconds) s |"
done

echo
echo "## Scenarios"
echo
desc() {
  case $1 in
    parse)   echo "a. \`--format json\` agrees with arcstats and meminfo read just before and after it (idle, ARC filled, under pressure)";;
    live)    echo "b. \`--live\` moves c_max to the recommendation of its own reading (within 64 MiB of a reading just before: two readings of a live host differ by a step or two); 16 MiB is refused without \`--force\` (exit 2), and with it written, ignored by the module and reported from c_max (exit 4); a value ≤ c_min is ignored by the module when written alone, and \`--live\` lowers zfs_arc_min first so it takes (exit 0)";;
    persist) echo "c. \`--check\` exits 1, \`--write\` (its cap within 64 MiB of a reading just before), real reboot, then c_max = the value written and \`--check\` exits 0";;
    model)   echo "d. a workload holding R beside a reader of more than RAM: with the recommended cap no OOM kill, direct reclaim and memory stall clearly lower";;
    sample)  echo "e. \`--sample 60s\` over the same windows: pressure named in the default run, none or low with the cap";;
    timing)  echo "f. the whole run as a process, median wall time against \`cat\` of the same files, \`arc_summary\` and \`/bin/true\` (quiet guest after boot); asserts only that every arcadvise run exits 0, the ratio is measured";;
    declare) echo "g. a unit started with \`systemd-run --slice=lane.slice -p MemoryMin=R\` declares the workload: on one snapshot \`--reserve auto\` gives the cap of \`--reserve R\` and names lane.slice as what bounds the kernel's protection (gone once the slice has MemoryMin= too); \`--check\` exits 1, \`--write\`, reboot (the unit starts again), c_max = the cap and the printed check exits 0";;
    stick)   echo "h. zfs loads from the initramfs: \`--write --live\` says the image needs \`update-initramfs -u\`, the check exits 1 naming it, 0 once rebuilt; the guest boots that image (kexec), zfs loads before the root is mounted, c_max = the cap, the check exits 0";;
    guard)   echo "i. the ARC filled at the default cap, the packaged libvirt hook run as libvirtd runs it for a domain of R: c_max lowered to the cap before the guest allocates; R allocated beside a reader for 60 s with no direct reclaim and no OOM kill";;
    boot)    echo "the guest booted and finished in time";;
  esac
}
printf '| scenario | what it asserts |'; for v in "${VARIANTS[@]}"; do printf ' %s |' "$v"; done; echo
printf '|---|---|'; for v in "${VARIANTS[@]}"; do printf -- '---|'; done; echo
for s in boot "${SCENARIOS[@]}"; do
  if [[ $s = boot ]] && ! grep -qs '^boot	' "$RES"/*/results.tsv; then continue; fi
  printf '| %s | %s |' "$s" "$(desc "$s")"
  for v in "${VARIANTS[@]}"; do st=$(resfield "$v" "$s" 2); printf ' %s |' "${st:-not run}"; done; echo
done

echo
echo "Each scenario's latest run (the lane keeps, per variant, the last result of every scenario):"
echo
echo "| scenario | variant | run (UTC) | arcadvise commit | guest | R |"
echo "|---|---|---|---|---|---|"
for s in "${SCENARIOS[@]}" "${OPT_SCENARIOS[@]}"; do
  for v in "${VARIANTS[@]}"; do
    d=$(runval "$v" "$s" 2); [[ -n $d ]] || continue
    dirty=$(runval "$v" "$s" 4); [[ ${dirty:-0} != 0 ]] && dirty=" + uncommitted changes" || dirty=""
    echo "| $s | $v | $d | $(runval "$v" "$s" 3)$dirty | $(runval "$v" "$s" 6) MiB | $(runval "$v" "$s" 5) |"
  done
done
echo
echo "Measured numbers per scenario and variant (\`results.tsv\` written in the guest):"
echo
for s in "${SCENARIOS[@]}"; do
  for v in "${VARIANTS[@]}"; do
    have "$v" || continue
    st=$(resfield "$v" "$s" 2); [[ -n $st ]] || continue
    n=$(resfield "$v" "$s" 3); r=$(resfield "$v" "$s" 4)
    echo "- **$s, $v: $st**. $n${r:+ — **failed:** $r}"
  done
done

cat <<'EOF'

The guard scenario on 2.3.2, every run of 2026-12-07 (one result is kept per scenario, the latest
above): 08:05 (848dbb0) the hook set 1424 MiB, 2 allocstalls, PSI 52 ms, FAIL; 09:01 (51f2ef1)
1424 MiB, 3 allocstalls, PSI 92 ms, FAIL; 11:17 (dcf4e03) 1408 MiB, 3 allocstalls, PSI 28 ms,
FAIL; 11:22 (dcf4e03) 1408 MiB, no direct reclaim, PSI 99 ms, PASS. The two runs of dcf4e03 keep a
`--reserve R` reading taken a second before the hook's own (1-prehook.json): 1392 MiB in both,
the same as the reading before the reader started; the hook's reading gave one 16 MiB step more
(the sum lands 1–4 MiB under a step: what the reader moves between two readings decides the
step). On 2.3.2 at 4 GiB the frontier's C\* has been 1344–1536 MiB, and 1408 MiB fought in some of its windows: the cap the guard
set was the recommendation for R alone, and there that lies at C\*. The window held R and 40–110 MiB
more (stress-ng's processes, their page tables, the page cache they pull in). From 10328d2 a
declared VM counts its QEMU's own memory too, 64 MiB + RAM/512 (oVirt's static overhead; README,
"--reserve auto"), 68 MiB for this 2 GiB domain: 12:25 and 12:29 (10328d2) the hook set 1328 MiB,
no direct reclaim, PSI 0 ms, PASS both (the readings before the hook gave the same 1328 MiB).

## Scenario d: the model under load

One boot per variant: a pool on a 12 GiB virtio disk with 5 × 1 GiB of incompressible data
(more than the guest's 4 GiB of RAM), read once to fill the ARC; then for 60 s
`stress-ng --vm 1 --vm-bytes R --vm-keep` (a workload that holds R) beside a loop that keeps
reading the 5 GiB. First with the module's default cap, then with the cap `arcadvise --reserve R`
recommends (applied with `--live`, or the same sysfs write when the binary has no `--live`),
each window after the same warm-up read. Deltas over each window:

EOF
cols=()
for v in "${VARIANTS[@]}"; do [[ -e $RES/$v/model.env ]] && cols+=("$v"); done
if [[ ${#cols[@]} -eq 0 ]]; then
  echo "(not run yet)"
else
  printf '| |'; for v in "${cols[@]}"; do printf ' %s default cap | %s recommended cap |' "$v" "$v"; done; echo
  printf '|---|'; for v in "${cols[@]}"; do printf -- '---|---|'; done; echo
  row() { # row LABEL KEY [mib]
    printf '| %s |' "$1"
    for v in "${cols[@]}"; do
      for r in default capped; do
        x=$(mv_ "$v" "${r}_$2")
        if [[ ${3:-} = mib ]]; then x=$(mibs "$x"); fi
        printf ' %s |' "${x:--}"
      done
    done; echo
  }
  printf '| R (--reserve) |'; for v in "${cols[@]}"; do r=$(runval "$v" model 5); r=${r:-$(envval "$v" reserve)}; printf ' %s | %s |' "$r" "$r"; done; echo
  printf '| c_max (zfs_arc_max) |'; for v in "${cols[@]}"; do printf ' %s | %s |' "$(mibs "$(mv_ "$v" default_cap)")" "$(mibs "$(mv_ "$v" recommended)")"; done; echo
  row "arcstats memory_direct_count" direct
  row "arcstats memory_indirect_count" indirect
  row "vmstat allocstall_* (sum)" allocstall
  row "vmstat pgscan_direct" pgscan_direct
  row "vmstat pgscan_kswapd" pgscan_kswapd
  row "vmstat oom_kill" oom_kill
  row "PSI memory some (ms)" psi_some_ms
  row "PSI memory full (ms)" psi_full_ms
  row "c at window start" c_start mib
  row "lowest c (1 s samples)" c_min mib
  row "stress-ng exit" stress_rc
fi

cat <<'EOF'

**Pass thresholds** (asserted in the guest, `test/vm/guest/s-model.sh`):

1. The default run must show pressure: ARC reclaim callbacks (memory_direct_count +
   memory_indirect_count) ≥ 50, or direct reclaim ≥ 1, or PSI some ≥ 20 ms. Without it the
   workload proved nothing, and the scenario fails rather than pass on two quiet runs.
2. No OOM kill with the recommended cap. That is the promise of the model: the declared workload fits.
3. Direct reclaim (arcstats memory_direct_count + vmstat allocstall_*) with the cap at most a
   quarter of the default run's. Direct reclaim is what stalls the workload's own allocations;
   "clearly lower" is a factor of 4, far outside run-to-run noise, while the premise check
   measured a drop to zero. With a default-run count of 0 to 3 the cap must reach 0.
4. ARC shrink requests from kswapd (memory_indirect_count) with the cap at most a quarter of the
   default run's: the ARC is no longer what the kernel has to take memory back from.
5. PSI memory some stall with the cap at most a quarter of the default run's plus 20 ms.
   The 20 ms allow for scheduler noise: under TCG emulation a single slow page fault can
   register a few milliseconds of stall without any reclaim.

Under TCG the guest runs many times slower than on hardware, so absolute rates are lower than
on a real host; the comparison between the two runs, on the same guest, is what the scenario asserts.

## Scenario e: `--sample` verdicts

EOF
for v in "${VARIANTS[@]}"; do
  have "$v" || continue
  st=$(resfield "$v" sample 2); [[ -n $st ]] || continue
  echo "- $v: **$st**: $(resfield "$v" sample 3)"
done

cat <<'EOF'

## Scenario f: the whole run as a process

At the start of boot 1, right after the module is loaded and before any other scenario (no pool,
the ARC nearly empty, nothing else running), wall time of whole processes started from bash, from
before the fork to after the wait (bash's `EPOCHREALTIME`), stdout and stderr to /dev/null:
`cat` of the files a one-shot `arcadvise` run reads (arcstats, /proc/meminfo,
/proc/pressure/memory, /proc/vmstat, /proc/zoneinfo, /sys/module/zfs/version, the module's
parameters, /proc/cmdline, /proc/mounts, the modprobe.d files, os-release, the crash-capture files;
the list is under the table), `arcadvise --reserve R`
(text), `arcadvise --reserve R --format json`, `arc_summary` (OpenZFS' own report, Python), and
`/bin/true` (the cost of starting any process) and `arcadvise --version` (the cost of starting
this binary: the Go runtime and every package's init, no host file read; text minus this is
arcadvise's own work). The binary runs from the guest's own disk, not the
9p share; no cache is dropped; a few warm-up runs of each, then the runs interleaved round by round
(true, cat, version, text, JSON), then `arc_summary` on its own with fewer runs. Medians and minimums in ms:

EOF
tcols=()
for v in "${VARIANTS[@]}"; do [[ -n $(resfield "$v" timing 3) ]] && tcols+=("$v"); done
if [[ ${#tcols[@]} -eq 0 ]]; then
  echo "(not run yet)"
else
  printf '| |'; for v in "${tcols[@]}"; do printf ' %s median | %s min |' "$v" "$v"; done; echo
  printf '|---|'; for v in "${tcols[@]}"; do printf -- '---:|---:|'; done; echo
  trow() { # trow LABEL KEY_IN_RESULTS KEY_IN_TIMING_ENV
    printf '| %s |' "$1"
    for v in "${tcols[@]}"; do x=$(num "$v" timing "$2"); y=$(tv_ "$v" "$3"); printf ' %s | %s |' "${x:--}" "${y:--}"; done; echo
  }
  nf=$(tv_ "${tcols[0]}" files)
  trow "\`cat\` of the ${nf:-} files" cat_ms cat_min_ms
  trow "\`arcadvise --reserve R\` (text)" text_ms text_min_ms
  trow "\`arcadvise --reserve R --format json\`" json_ms json_min_ms
  trow "\`arc_summary\`" arc_summary_ms arc_summary_min_ms
  trow "\`/bin/true\`" true_ms true_min_ms
  erow() { # erow LABEL MEDIAN_KEY MIN_KEY: both from timing.env
    printf '| %s |' "$1"
    for v in "${tcols[@]}"; do x=$(tv_ "$v" "$2"); y=$(tv_ "$v" "$3"); printf ' %s | %s |' "${x:--}" "${y:--}"; done; echo
  }
  if [[ -n $(tv_ "${tcols[0]}" version_median_ms) ]]; then
    erow "\`arcadvise --version\` (start-up only)" version_median_ms version_min_ms
  fi
  trow "text ÷ cat" text_x_cat text_x_cat_min
  trow "JSON ÷ cat" json_x_cat json_x_cat_min
  if [[ -n $(tv_ "${tcols[0]}" text_x_version) ]]; then
    erow "text ÷ \`--version\` (target ≤ 1.3)" text_x_version -
    erow "JSON ÷ \`--version\` (target ≤ 1.3)" json_x_version -
  fi
  if [[ -n $(tv_ "${tcols[0]}" read_floor_x_version) ]]; then
    erow "the floor: (\`--version\` + \`cat\` − \`true\`) ÷ \`--version\`" read_floor_x_version -
  fi
  if [[ -n $(tv_ "${tcols[0]}" aslr_off_cat_median_ms) ]]; then
    erow "control, ASLR off: \`cat\`" aslr_off_cat_median_ms aslr_off_cat_min_ms
    erow "control, ASLR off: \`arcadvise\` text" aslr_off_text_median_ms aslr_off_text_min_ms
    erow "control, ASLR off: \`arcadvise\` JSON" aslr_off_json_median_ms aslr_off_json_min_ms
    erow "control, ASLR off: \`/bin/true\`" aslr_off_true_median_ms aslr_off_true_min_ms
    [[ -z $(tv_ "${tcols[0]}" aslr_off_version_median_ms) ]] ||
      erow "control, ASLR off: \`arcadvise --version\`" aslr_off_version_median_ms aslr_off_version_min_ms
    erow "control, ASLR off: text ÷ cat" aslr_off_text_x_cat -
    erow "control, ASLR off: JSON ÷ cat" aslr_off_json_x_cat -
    [[ -z $(tv_ "${tcols[0]}" aslr_off_read_floor_x_version) ]] ||
      erow "control, ASLR off: the floor ÷ \`--version\`" aslr_off_read_floor_x_version -
  fi
  printf '| runs (arc_summary), warm-up |'
  for v in "${tcols[@]}"; do printf ' %s (%s), %s | |' "$(num "$v" timing runs)" "$(num "$v" timing arc_summary_runs)" "$(tv_ "$v" warmup)"; done; echo
  for v in "${tcols[@]}"; do
    n=$(tv_ "$v" arc_summary_note); [[ -z $n ]] || printf '\n%s: %s.\n' "$v" "$n"
  done
  n=$(tv_ "${tcols[0]}" file_list)
  # shellcheck disable=SC2016 # markdown's backquotes
  [[ -z $n ]] || printf '\nThe files (%s): `%s`.\n' "${tcols[0]}" "$n"
fi

cat <<'EOF'

Under TCG every instruction is emulated, so the absolute times are many times a real host's.
The ratios are skewed too: QEMU 7.2's TCG finds the code it has already translated by virtual
address, so with ASLR a PIE program (`cat`, `/bin/true`: ld.so and libc at new addresses at each
exec) is translated again at every run, while the static, non-PIE arcadvise reuses its
translations. The control rows repeat the same rounds right after, with ASLR off
(`randomize_va_space=0`, restored after): what `cat` and `/bin/true` lose there is the emulator's
cost, not theirs, so the control ratios are the closer estimate of what a real host would show.
The floor row is what a program would take that started as arcadvise does (`--version`) and then
only read the same files as `cat` reads them (`cat` − `true`), against `--version`: about the
least the text and JSON ratios can be with these inputs, before any parsing, deciding or printing
(`cat` − `true` is opening and reading the files, the kernel generating the /proc and /sys ones) (from
the run of 2026-12-08, whose `cat` reads every file a one-shot run reads on the guest: os-release,
PID 1's environment, the crash-capture files and the module's other parameters as well; before,
16 of them). Issue 19's target, 1.3, leaves what lies between the floor and 1.3 for the parsing,
the policy and the printing: nothing where the floor is above it.
The scenario fails only when an arcadvise run exits non-zero; the ratio is a goal, not an
assertion. Every run: `out/timing/runs.tsv` in the lane's run directory.
EOF

cat <<'EOF'

## The frontier: the largest cap that never fights the workload

Scenario j, opt-in (`MEM=... RESERVE=... KIND=... test/vm/lane.sh run 2.3 frontier`): the lane's
answer to "how much cache does the recommended cap give away?". A workload takes R beside a reader
that keeps a working set busy: `fio` reading 1 MiB records (the pool's recordsize) at random over
W bytes of pool data, W larger than every cap under test (the default cap + 1 GiB, at least
4 GiB), so cache size matters to it. The workload, `KIND`: `vm` holds R at once (`stress-ng --vm 1
--vm-bytes R --vm-keep`), `steps` takes R in four steps 6 s apart, `huge` holds R in huge pages
from before the ladder (HugePages_Total = R, all in use through a hugetlbfs file, as a
hugepage-backed VM; arcadvise `--reserve 0`: its hugepages term counts them), `declared` is `vm`
inside lane.slice where a unit with `MemoryMin=R` declares R (arcadvise `--reserve auto`).
The module's default cap and arcadvise's recommendation first, then a ladder of caps in 256 MiB
steps from two steps below the recommendation upwards until a rung fights the workload, then
64 MiB steps from C\* up to the first cap that fought, so that C\* is known to 64 MiB (since
eb8cac6; before, the ladder went on until two rungs in a row fought). The default cap's window,
which `--sample` watches for the what-if, lasts 80 s (59f18cc: at 8 GiB the workload fighting
the default cap had not taken all its memory in 40 s); after it the lane settles the guest (since
e7f05e9: until no zone's watermarks are boosted, then the workload's and the reader's programs
run once), because the recommendation's window right after that fight paid for it: 365 and 389
refaults and kswapd awake with 197 and 305 MiB free at least, PSI 35 and 31 ms (the held-out
6 GiB run and a rerun of 2.3-8192M-R5G, both at 59f18cc), where the ladder's windows had 0–18. Each cap gets the same warm-up (the ARC filled to the cap) and the same 40 s window, the
workload allocating in the last 36 s. Per window: deltas of arcstats `memory_direct_count` and
`memory_indirect_count`, vmstat `allocstall_*` and `oom_kill`, PSI memory some/full total stall;
the lowest target c (sampled each second); the reader's ARC hit ratio
(`demand_data_hits / (hits + misses)`) and throughput.

**C\*** is the largest cap whose window has no direct reclaim (`memory_direct_count` +
`allocstall` = 0), no OOM kill, and PSI some at most 20 ms, below the lowest cap whose window
fought (since eb8cac6): with a cap at or above one that fought the ARC can hold what fought
there, so a clean window above it was luck, not a cap that never fights. (Before, C\* was the
largest clean window of all; the runs before eb8cac6 keep the C\* they had in history.tsv.) The 20 ms is above the TCG guest's
scheduler noise: the windows with no reclaim at all measured 0 ms (the model scenario's capped
windows, the low rungs of every ladder here), and the one clean window with a few kswapd shrinks
of the ARC (2.3.2, 4 GiB, 1536 MiB) 11 ms; the smallest stall among the windows that fought was
25 ms (2.1.11, 1536 MiB: 2 allocstalls), most were above 100 ms. arcadvise runs before the
ladder on the host at work (ARC warm at the default cap, the reader going, the workload's
declaration in place, nothing allocating): it gives the recommendation, and `--sample` over the default cap's window gives the
what-if's predicted C\*. PASS: the recommendation's window is clean, the recommendation is at least
0.9 × C\*, and predicted C\* is within 5% of C\*.

One run is one sample. The same configuration run again moves C\* by a rung or two (the
workload's and the reader's timing in an emulated guest decide when kswapd falls behind), and,
until the model counted the kernel's per-CPU free lists up to their bound (848dbb0: the per-CPU
lists and ARC overrun terms, README "The arithmetic"), the recommendation moved by a 16 MiB step
or more with what those lists held at the reading (6 to 61 MiB of their 82.5 MiB; the configuration
with the lists bounded, -pcp100000, shows that their bound is not itself what C\* pays: there C\*
stayed at 1408 MiB and the recommendation, its per-CPU term near 0, fought): the lane keeps every run
of a configuration in `docs/frontier/<config>/history.tsv` and lists them under its table, with the
range C\* took on the 64 MiB ladder and the lowest cap whose window fought in each run: it can lie
below C\* (a clean window above one that fought), one window being one sample too. Every window
of every run is kept as well (`windows.tsv`), and the report takes a configuration's runs since
the settle (e7f05e9, below) together: the lowest cap that fought in any of them, and the largest
cap measured below it, the one none of them saw fight; that is closer to what C\* means ("never")
than one run's, and the summary table's last column gives it with the verdict against it.

The model (eb8cac6, README "The arithmetic"): the free floor is where kswapd wakes and calls the
ARC's shrinker, the zones' low watermarks plus the most the watermark boost adds, 1.5 × their
high watermarks with the default vm.watermark_boost_factor: 231 MiB on every guest here (THP's
min_free_kbytes, 66 MiB of min). From ea66f12 the boost is read from the sysctl: with the factor
at 0 (the -boost0 configuration) the floor is the low watermarks, 82 MiB; until then it took the
default boost whatever the sysctl said. Before
eb8cac6 the floor was the larger of arc_sys_free and the high watermarks, plus a growth margin of
cap/32: 225 MiB on the 4 GiB guests, 328 MiB on the 6 GiB one and 399 MiB on the 8 GiB one, where
the recommendation sat at 0.84–0.86 × C\*. Below arc_sys_free the ARC gives memory back by
itself (its reap thread), which stalls nobody: on the 6 and 8 GiB guests arc_sys_free, 257 and
332 MiB, lies above the kswapd line, the ARC's target c settled at one level under the workload
whatever the cap (1331–1336 MiB in every window of the held-out 2.1.11 6 GiB run, 2185–2380 MiB
on the 8 GiB 2.3.2 guest), the recommendation lands near that level, and the windows stayed clean
up to caps 90–310 MiB above it: a cap above it lets the ARC hold more when the workload starts,
and the ARC gives the difference back while the workload allocates (the held-out 2.1.11 6 GiB
run's window at 1536 MiB gave back 200 MiB with no call from kswapd; in the configuration's next
run the same window fought). On the
4 GiB guests arc_sys_free, 181 MiB, lies below the line: kswapd wakes first, and the first stall
came with 101–148 MiB free at the sampled low point (the allocations run ahead of the one-second
readings); the line at 231 MiB clears it. With the boost off, the settled runs' largest clean cap
lay 144 MiB higher (1536 against 1392 MiB), about the 148 MiB the boost no longer takes.

How the what-if predicts C\*: the same sum with the window's peak of non-ARC memory in place of
the reservation and the host terms, and no rounding (README "What if"). Where the window sees the
workload whole, it lands near the recommendation, a little above it, so it misses C\* by what the
recommendation leaves: on the 6 and 8 GiB guests what the ARC gives back by itself above the
kswapd line while the workload allocates, a race between the two that one reading cannot size. Where the window does not see the workload whole it runs
high: until 59f18cc the default cap's window, which `--sample` watches, lasted 40 s, and on the
8 GiB guests the workload, fighting the default cap for all its memory, had not taken it when the
window ended (the peak was the window's last reading, which the what-if now flags: `peak_at_end`);
from 59f18cc that window lasts 80 s.

Retired: 2.1-8192M-R3G-declared (docs/frontier-retired/, its last run 2026-12-07 at e396d2a). There
the module's default cap, half of the 8 GiB on 2.1.11, never fought the 3 GiB workload, so C\* lay
above the default, where the ladder does not go, and no verdict could be had (the recommendation,
4096 MiB and 4352 MiB after eb8cac6, is above the default too: on that guest the advice is to
raise the cap). The same guest with a workload that makes the default fight, R = 5G declared
(2.1-8192M-R5G-declared), took its place.

EOF
FR=$REPO/docs/frontier
# he KEY: a value of the held-out run's record (held-out.env: date, commit, note), for $d
he() { sed -n "s/^$1=//p" "$d/held-out.env" 2>/dev/null | tail -1; }
# frontier_held DIR: "" or the configuration's held-out mark: " (held out)" when its latest run is
# the held-out one, else " (held out: the run of DATE)"
frontier_held() {
  local d=$1
  [[ -e $d/held-out.env ]] || return 0
  if [[ $(he date) = "$(re date)" ]]; then echo " (held out)"; else echo " (held out: the run of $(he date))"; fi
}
# frontier_pooled_vals DIR: the runs of a configuration together (windows.tsv), those that settled
# after the default cap's window (e7f05e9), when there are two or more: "RUNS WINDOWS F C AT FOUGHT
# VERDICT", F the lowest cap that fought in any of their windows (AT windows at F, FOUGHT of them
# fought), C the largest cap measured below it, which none of them saw fight (0 0 when no cap
# fought), and the verdict of the latest recommendation and what-if against C by the pass rule,
# with "below F" for "its window clean" (a cap at or above F fought in some run); nothing for fewer
# than two runs
frontier_pooled_vals() {
  local d=$1
  [[ -s $d/windows.tsv ]] || return 0
  awk -F'\t' -v rec="$(fe recommended)" -v pred="$(fe predicted)" "$FR_CLEAN_AWK"' NR>1 && $2==1 {
      n = split($0, x, "\t"); for (i = 4; i <= n; i++) y[i-3] = x[i]
      runs[$1] = 1; w++; cap[w] = $5; ok[w] = clean(y, $3)
      if (!ok[w] && (!F || $5 < F)) F = $5 }
    END {
      nr = 0; for (r in runs) nr++
      if (nr < 2) exit
      for (i = 1; i <= w; i++) { if (F && cap[i] < F && cap[i] > C) C = cap[i]; if (cap[i] == F) { at++; if (!ok[i]) bad++ } }
      v = (F && C && rec < F && rec*100 >= C*90 && pred*100 >= C*95 && pred*100 <= C*105) ? "PASS" : "FAIL"
      printf "%d %d %.0f %.0f %d %d %s\n", nr, w, F, C, at, bad, v }' "$d/windows.tsv"
}
# frontier_pooled DIR: the paragraph of frontier_pooled_vals
frontier_pooled() {
  local d=$1 nr w f c at bad v
  read -r nr w f c at bad v < <(frontier_pooled_vals "$d") || return 0
  awk -v M=1048576 -v nr="$nr" -v w="$w" -v F="$f" -v C="$c" -v at="$at" -v bad="$bad" -v v="$v" -v rec="$(fe recommended)" -v pred="$(fe predicted)" 'BEGIN {
      if (!F) { printf "Over its %d runs since the settle taken together no window fought, the default cap'"'"'s included: C\\* lies above the default, where the ladder does not go.\n\n", nr; exit }
      if (!C) { printf "Over its %d runs since the settle taken together every window fought, down to %.0f MiB: no C\\* from them.\n\n", nr, F/M; exit }
      printf "Over the %d runs since the settle (e7f05e9) taken together (windows.tsv, %d windows): the lowest cap that fought in any is %.0f MiB (%d of its %d windows fought), and the largest measured below it, %.0f MiB, is the cap none of them saw fight. Against it the latest recommendation, %.0f MiB, is %.2f × and %s every cap that fought, and the latest what-if is %+.1f%%: %s by the pass rule.\n\n",
        nr, w, F/M, bad, at, C/M, rec/M, rec/C, (rec < F ? "below" : "not below"), 100*(pred-C)/C, v }'
}
shopt -s nullglob
frs=("$FR"/*/frontier.tsv)
if [[ ${#frs[@]} -eq 0 ]]; then
  echo "(not run yet)"
fi
if [[ ${#frs[@]} -gt 0 ]]; then
  echo "The latest run of each configuration (its section below has the table, the picture and every run):"
  echo
  echo "| configuration | run (UTC) | arcadvise | C\\* | recommendation | its window | what-if | verdict | the settled runs together: C\\*, verdict |"
  echo "|---|---|---|---:|---:|---|---:|---|---|"
  for f in "${frs[@]}"; do
    d=$(dirname "$f"); cfg=$(basename "$d")
    cs=$(fe c_star); rc=$(fe recommended); pr=$(fe predicted)
    win=$(frontier_rec_window "$d")
    held=$(frontier_held "$d")
    pooled=$(frontier_pooled_vals "$d")
    awk -v M=1048576 -v c="$cfg$held" -v t="$(re date)" -v k="$(re commit)" -v cs="${cs:-0}" -v rc="${rc:-0}" -v pr="${pr:-0}" -v w="$win" -v v="$(re result)" -v pl="$pooled" 'BEGIN{
      split(pl, q, " "); p = pl == "" ? "fewer than 2 runs" : (q[4] > 0 ? sprintf("%.0f MiB (%d runs): %s", q[4]/M, q[1], q[7]) : sprintf("none (%d runs): FAIL", q[1]))
      printf "| %s | %s | %s | %.0f MiB | %.0f MiB (%.2f × C*) | %s | %.0f MiB (%+.1f%%) | %s | %s |\n", c, t, k, cs/M, rc/M, cs ? rc/cs : 0, w, pr/M, cs ? 100*(pr-cs)/cs : 0, v, p }'
  done
  echo
fi
for f in "${frs[@]}"; do
  d=$(dirname "$f"); cfg=$(basename "$d")
  cs=$(fe c_star); rc=$(fe recommended); pr=$(fe predicted); dc=$(fe default_cap); kind=$(fe kind)
  ratio=$(awk -v r="${rc:-0}" -v c="${cs:-0}" 'BEGIN{if(c>0)printf "%.2f", r/c; else print "-"}')
  perr=$(awk -v p="${pr:-0}" -v c="${cs:-0}" 'BEGIN{if(c>0)printf "%+.1f%%", 100*(p-c)/c; else print "-"}')
  dirty=$(re dirty); [[ ${dirty:-0} != 0 ]] && dirty=" + uncommitted changes" || dirty=""
  held=$(frontier_held "$d")
  # the runs on the 64 MiB ladder (history.tsv): how many, and how many passed
  read -r n64 pass64 < <(awk -F'\t' 'NR>1 && $3==64 {n++; if($8=="PASS")p++} END{print n+0, p+0}' "$d/history.tsv" 2>/dev/null || echo 0 0)
  runs=""
  [[ ${n64:-0} -gt 1 ]] && runs=" (the latest run; $pass64 of the $n64 runs on the 64 MiB ladder PASS)"
  echo "### $cfg$held: $(re result)$runs"
  echo
  if [[ -e $d/held-out.env ]]; then
    hd=$(he date)
    hv=$(awk -F'\t' -v t="$hd" '$1==t {print $8}' "$d/history.tsv")
    later=""; [[ $held = " (held out)" ]] || later=" The runs after it are not held out."
    echo "Held out: the run of $hd (arcadvise $(he commit)), run once and reported as it came out, $(he note). Its verdict: ${hv:-not in history.tsv}.$later"
    echo
  fi
  echo "OpenZFS $(re zfs), kernel $(re kernel), $(re mem_mib) MiB guest, R = $(fe reserve), workload ${kind:-vm} (arcadvise $(fe arcadvise_args)), run $(re date) (arcadvise $(re commit)$dirty), ladder wall time $(fe wall_s) s."
  pk=$(fe pcp_high_kib)
  if [[ -n $pk ]]; then
    pf=$(fe pcp_fraction)
    echo "Per-CPU free page lists (free pages that MemFree, the zone watermarks and the ARC do not count): up to $(awk -v k="$pk" 'BEGIN{printf "%.1f", k/1024}') MiB, the sum of the zones' pagesets high at the start, with vm.percpu_pagelist_high_fraction ${pf:-at its default (0: a share of the low watermark of each zone)}${pf:+ set by the lane}."
  fi
  bf=$(fe boost_factor)
  [[ -z $bf ]] || echo "Watermark boosting: vm.watermark_boost_factor set to $bf by the lane (the default, 15000, lets the kernel raise its watermarks by up to 1.5 x high after a fragmentation event; 0 turns that off)."
  sl=$(fe shrinker_limit)
  [[ -z $sl ]] || echo "ARC shrinker limit: zfs_arc_shrinker_limit set to $sl by the lane at run time (the most pages the ARC offers the kernel's shrinker per call: 10000 by default up to 2.2.x, 0, no limit, from 2.3.0)."
  for k in stale_note verdict_note dirty_note; do n=$(re $k); [[ -z $n ]] || echo "Note: $n."; done
  echo "Measured **C\* = $(mibs "$cs")**; arcadvise recommends **$(mibs "$rc")** ($ratio × C\*); the what-if predicted C\* = $(mibs "$pr") ($perr); the module's default cap is $(mibs "$dc")."
  echo
  if [[ -e $d/frontier.svg ]]; then echo "![frontier $cfg](frontier/$cfg/frontier.svg)"; echo; fi
  echo "| cap | direct reclaim | allocstall | ARC shrinks by kswapd | OOM kills | PSI some (ms) | PSI full (ms) | lowest c | hit ratio | ghost hits | reader MiB/s | |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  awk -F'\t' -v M=1048576 -v cs="$cs" -v rc="$rc" -v dc="$dc" -v p="$(fe psi_ms)" "$FR_CLEAN_AWK"' NR>1{
      mark=""; if($2==dc) mark="default"; if($2==cs) mark=mark (mark?", ":"") "C*"; if($2==rc) mark=mark (mark?", ":"") "recommended"
      split($0, x, "\t"); bad = clean(x, p) ? "" : " ✗"
      printf "%d\t| %.0f MiB | %s | %s | %s | %s | %s%s | %s | %.0f MiB | %.1f%% | %s | %.1f | %s |\n", $2, $2/M, $3, $5, $4, $6, $7, bad, $8, $9/M, $10*100, $11, $12/M, mark
    }' "$f" | sort -n | cut -f2-
  echo
  if [[ -s $d/history.tsv ]]; then
    echo "Every run of this configuration (history.tsv; ladder: the step near the frontier, 256 MiB for the runs before the 64 MiB refinement, under the pass rule of then):"
    echo
    echo "| run (UTC) | arcadvise | ladder | C\* | lowest cap that fought | recommendation | its window | what-if | verdict |"
    echo "|---|---|---:|---:|---:|---:|---|---:|---|"
    awk -F'\t' -v M=1048576 'NR>1{
        r = $4 > 0 ? sprintf(" (%.2f × C*)", $5/$4) : ""; e = $4 > 0 ? sprintf(" (%+.1f%%)", 100*($7-$4)/$4) : ""
        f = $9 > 0 ? sprintf("%.0f MiB%s", $9/M, $9 < $4 ? " (below C\\*)" : "") : "none"
        printf "| %s | %s | %d MiB | %.0f MiB | %s | %.0f MiB%s | %s | %.0f MiB%s | %s |\n", $1, $2, $3, $4/M, f, $5/M, r, $6, $7/M, e, $8
      }' "$d/history.tsv"
    echo
    if [[ ${n64:-0} -gt 1 ]]; then
      # C*'s range only over the runs whose C* holds under today's rule (the largest clean cap below
      # the lowest that fought, eb8cac6): a run of the older rule (the largest clean cap) with a fight
      # below its C* would have a lower C* now, by how much its rows no longer say
      awk -F'\t' -v M=1048576 'NR>1 && $3==64 && $9>0 && $9<$4 {old++}
        NR>1 && $3==64 && !($9>0 && $9<$4) {n++; if(!lo||$4<lo)lo=$4; if($4>hi)hi=$4; if(!plo||$7<plo)plo=$7; if($7>phi)phi=$7
          if(!rlo||$5<rlo)rlo=$5; if($5>rhi)rhi=$5; if($6=="clean")c++; if($8=="PASS")pp++}
        END{if(old) printf "Left out of the range below: %d run%s whose C\\* (the older rule: the largest clean cap) lies above a cap that fought.\n\n", old, (old > 1 ? "s" : "")
          if(n>1) printf "Over the %d runs on the 64 MiB ladder C\\* ranged %.0f–%.0f MiB (%.0f MiB, %.0f%% of the lowest), the recommendation %.0f–%.0f MiB and the what-if'"'"'s prediction %.0f–%.0f MiB (%.0f%% of its lowest)%s. The recommendation'"'"'s window was clean in %d and the verdict PASS in %d.\n\n", n, lo/M, hi/M, (hi-lo)/M, 100*(hi-lo)/lo, rlo/M, rhi/M, plo/M, phi/M, 100*(phi-plo)/plo,
          (phi-plo < hi-lo ? ": the prediction moved less than C\\* did, so a miss of more than 5% on one run is mostly C\\*'"'"'s own move" : ""), c, pp+0}' "$d/history.tsv"
    fi
    frontier_pooled "$d"
  fi
done
echo "✗: the window fought the workload (direct reclaim, an OOM kill, or PSI some above the threshold)."

# per_variant FILE FORMAT: a bullet per variant with what FORMAT VARIANT PATH
# prints of FILE in its results, or "not recorded".
per_variant() {
  local file=$1 format=$2 v f
  for v in "${VARIANTS[@]}"; do
    f=$RES/$v/$file
    if [[ ! -s $f ]]; then echo "- **$v**: not recorded"; continue; fi
    echo "- **$v**$("$format" "$v" "$f")"
  done
}
crash_line() { echo ": keeps a trace: $(jq -r '.keeps_trace' "$2"); $(jq -r '[.items[] | "\(.name): \(.value)"] | join("; ")' "$2")"; }
prom_line() { echo " (exit $(cat "$RES/$1/textfile.rc" 2>/dev/null || echo '?')): $(grep -v '^#' "$2" | sed 's/^arcadvise_//' | tr '\n' ';' | sed 's/;$//; s/;/; /g')"; }

echo
echo "## Crash capture on the real guest"
echo
echo "What \`arcadvise --reserve R --format json\` said under \`crash_capture\` at boot 1: would the guest keep"
echo "the trace of its next kernel panic? The guest is a minimal image with no kdump, pstore backend or"
echo "netconsole set up, so the expected answer is no, with each item as the real kernel shows it."
echo
per_variant crash_capture.json crash_line

echo
echo "## Fleet metrics on the real guest"
echo
echo "What \`arcadvise --reserve R --textfile DIR\` wrote at boot 1 (after the timing scenario, before any"
echo "other), as node_exporter's textfile collector would read it:"
echo
per_variant arcadvise.prom prom_line

echo
echo "## The .deb on the real guest"
echo
echo "The lane builds the .deb with \`packaging/build.sh\`; at boot 1 each guest installs it with dpkg and runs the"
echo "installed binary:"
echo
for v in "${VARIANTS[@]}"; do
  f=$RES/$v/deb-install.txt
  if [[ ! -s $f ]]; then echo "- **$v**: not recorded"; echo; continue; fi
  echo "- **$v**:"
  echo
  echo '  ```'
  sed 's/^/  /' "$f"
  echo '  ```'
  echo
done

cat <<'EOF'

## Snapshots

Every run copies the guest's snapshots (arcstats, meminfo, memory PSI, vmstat, /proc/cmdline,
/proc/mounts, /sys/module/zfs/version, the zfs_arc_* parameters and zfs_max_recordsize, and /etc/modprobe.d, laid out
like an `arcadvise --root`) and the two 60 s windows as replays (docs/replay.md) to
`testdata/vm/<zfs version>/`; `testdata/vm/README.md` lists them.
EOF
