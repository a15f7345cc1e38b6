# shellcheck shell=bash disable=SC2034
# lib-host.sh - sourced by lane.sh and report.sh (the host side of the lane): the one definition of
# the variants, the scenarios and the reader of the last results, $LAB/lane/results/<variant>/
# (results.tsv: SCENARIO <TAB> PASS|FAIL|SKIP <TAB> numbers <TAB> reason, written in the guest by
# guest/lib.sh's result; env: key=value, written by lane.sh's run_variant). Needs LAB set.

VARIANTS=(2.1 2.3)                                  # 2.1.11 (bookworm/contrib), 2.3.2 (bookworm-backports)
SCENARIOS=(parse live persist model sample timing declare stick guard)  # the default set, in the report's order
OPT_SCENARIOS=(frontier)                            # run only when named (tens of minutes a variant)
# each of these boots a guest of its own (it reboots, or changes the guest's image or memory):
# the others share one boot (persist's reboot ends it)
SOLO_SCENARIOS=(declare stick guard frontier)

is_variant() { local x; for x in "${VARIANTS[@]}"; do [[ $1 = "$x" ]] && return 0; done; return 1; }
is_solo() { local x; for x in "${SOLO_SCENARIOS[@]}"; do [[ $1 = "$x" ]] && return 0; done; return 1; }
is_scenario() { local x; for x in "${SCENARIOS[@]}" "${OPT_SCENARIOS[@]}"; do [[ $1 = "$x" ]] && return 0; done; return 1; }

# resfield VARIANT SCENARIO COLUMN: a column of the variant's last results.tsv (the last line of that
# scenario wins; "" when the variant or the scenario has none). Columns: 2 status, 3 numbers, 4 reason.
resfield() {
  [[ -e $LAB/lane/results/$1/results.tsv ]] || return 0
  awk -F'\t' -v s="$2" -v c="$3" '$1==s{v=$c}END{print v}' "$LAB/lane/results/$1/results.tsv"
}
# runval VARIANT SCENARIO COLUMN: where the scenario's latest result came from (runs.tsv, written by
# lane.sh's run_variant): 2 date, 3 commit, 4 uncommitted changes (count), 5 reserve, 6 guest MiB, 7 run dir.
runval() {
  [[ -e $LAB/lane/results/$1/runs.tsv ]] || return 0
  awk -F'\t' -v s="$2" -v c="$3" '$1==s{v=$c}END{print v}' "$LAB/lane/results/$1/runs.tsv"
}
# envval VARIANT KEY: a value of the variant's last run settings (env; "" when none).
envval() { sed -n "s/^$2=//p" "$LAB/lane/results/$1/env" 2>/dev/null | head -1 || true; }

# fe KEY, re KEY: a value of the frontier run whose data the caller's $d holds (frontier.env from the
# guest, run.env from the host; the last line wins; "" when none). Used by frontier_history_row and
# report.sh.
fe() { sed -n "s/^$1=//p" "$d/frontier.env" 2>/dev/null | tail -1; }
re() { sed -n "s/^$1=//p" "$d/run.env" 2>/dev/null | tail -1; }

# The frontier's rule for a clean window (frontier.tsv columns: 3 direct reclaim, 5 allocstall,
# 6 OOM kills, 7 PSI some ms; p the threshold), as the guest's fr_clean (s-frontier.sh) applies it.
FR_CLEAN_AWK='function clean(r, p) { return r[3] + r[5] == 0 && r[6] == 0 && r[7] <= p }'

# frontier_history_row DIR: one line of DIR/history.tsv for the run whose data DIR holds (date,
# arcadvise commit, ladder step near the frontier, C*, recommendation, its window, what-if, verdict,
# and the lowest cap whose window fought, 0 when none did: since eb8cac6 C* lies below it, before
# that a clean window above one that fought could be C*).
# frontier_rec_window DIR: "clean" or "fought", the recommendation's window in DIR/frontier.tsv by
# FR_CLEAN_AWK at the run's PSI threshold; "-" when no window ran at the recommended cap
frontier_rec_window() {
  local d=$1 rec psi
  rec=$(fe recommended); psi=$(fe psi_ms)
  awk -F'\t' -v r="${rec:-0}" -v p="${psi:-20}" "$FR_CLEAN_AWK"' NR>1 && $2==r {split($0, x, "\t"); w = clean(x, p) ? "clean" : "fought"} END{print w ? w : "-"}' "$d/frontier.tsv"
}

FR_HISTORY_HEADER=$'date\tcommit\tladder\tc_star\trecommended\trec_window\tpredicted\tresult\tfirst_fight'
frontier_history_row() {
  local d=$1 fine rec psi win commit ff
  fine=$(fe fine_step); rec=$(fe recommended); psi=$(fe psi_ms)
  win=$(frontier_rec_window "$d")
  ff=$(awk -F'\t' -v p="${psi:-20}" "$FR_CLEAN_AWK"' NR>1 {split($0, x, "\t"); if (!clean(x, p) && (!f || $2 < f)) f = $2} END{printf "%.0f\n", f}' "$d/frontier.tsv")
  commit=$(re commit)
  [[ $(re dirty) =~ ^[1-9] ]] && commit="$commit+"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(re date)" "$commit" "$(( ${fine:-$(fe step)} / 1048576 ))" \
    "$(fe c_star)" "$rec" "$win" "$(fe predicted)" "$(re result)" "$ff"
}

# frontier_windows_rows DIR: the rows of DIR/windows.tsv for the run whose data DIR holds: every
# window of its frontier.tsv after the run's date, whether it settled after the default cap's window
# (fr_settle, since e7f05e9: before it the window after the default's paid for that window's fight)
# and its PSI threshold, so that the report can take the runs of a configuration together
FR_WINDOWS_HEADER=$'date\tsettled\tpsi_ms\tlabel\tc_max\tdirect\tindirect\tallocstall\toom_kill\tpsi_some_ms\tpsi_full_ms\tc_low\thit_ratio\tghost_hits\tread_bps\treads'
frontier_windows_rows() {
  local d=$1 settled=0
  [[ -n $(fe settle_s) ]] && settled=1
  awk -v pre="$(re date)"$'\t'"$settled"$'\t'"$(fe psi_ms)" 'NR>1 {print pre "\t" $0}' "$d/frontier.tsv"
}
