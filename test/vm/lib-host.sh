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
