#!/usr/bin/env bash
# footprint.sh - what a run costs under TCG, without booting a guest: the guest instructions QEMU
# translates (qemu-x86_64 -d in_asm) for `arcadvise --version`, a JSON run and a text run on one
# root, and the packages the extra comes from.
#
# Why this figure: under TCG (the lane's guests) a program that runs for a few milliseconds spends
# most of its time translating code it runs once, so the time of a one-shot run follows how much
# distinct code it runs, not how many instructions it executes or how many system calls it makes.
# Measured on 2026-12-07 (docs: README "Speed"): cutting a JSON run's system calls from 700 to 564
# changed neither its time under qemu-x86_64 nor its translated instructions, and the ratio of
# translated instructions (JSON 1.47 x --version, text 1.53 x) matches the lane's timing ratios
# (1.46-1.49 x and 1.54-1.59 x). The count is deterministic to about 1%, where timings in the guest
# spread by 50%.
#
# Usage: test/vm/footprint.sh [ROOT] [TOP]   (ROOT: a snapshot root, default the lane's 2.3.2 4 GiB
# guest at rest; TOP: packages listed, default 15). Needs qemu-x86_64 (Debian: qemu-user) and Go.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
root=${1:-$repo/testdata/vm/2.3.2-2~bpo12+2/50-frontier-rest-4096M}
top=${2:-15}
command -v qemu-x86_64 >/dev/null || { echo "footprint: needs qemu-x86_64 (apt install qemu-user)" >&2; exit 3; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$tmp/arcadvise" ./cmd/arcadvise)

# trace NAME ARGS...: one run, its translated blocks logged; prints the instruction count
trace() {
  local name=$1; shift
  qemu-x86_64 -d in_asm -D "$tmp/$name.log" "$tmp/arcadvise" "$@" >/dev/null 2>&1 || true
  grep -c '^0x' "$tmp/$name.log"
}
# bypkg NAME: translated instructions per Go package ("IN: symbol" heads each block)
bypkg() {
  awk '/^IN:/ { s = $2; sub(/\[.*/, "", s); n = split(s, p, "/"); last = p[n]; i = index(last, ".");
                pkg = (i > 0) ? substr(s, 1, length(s) - length(last) + i - 1) : s; next }
       /^0x/ { c[pkg]++ } END { for (k in c) print k "\t" c[k] }' "$tmp/$1.log" | sort
}

v=$(trace version --version)
j=$(trace json --root "$root" --reserve 2G --format json)
t=$(trace text --root "$root" --reserve 2G)
awk -v v="$v" -v j="$j" -v t="$t" 'BEGIN {
  printf "translated instructions: --version %d, JSON %d (%.2f x), text %d (%.2f x)\n", v, j, j / v, t, t / v }'
for run in json text; do
  echo "$run: the packages of the extra over --version (instructions)"
  join -t $'\t' -a 2 -e 0 -o 0,1.2,2.2 <(bypkg version) <(bypkg "$run") |
    awk -F'\t' '{ d = $3 - $2; if (d > 0) print d "\t" $1 }' | sort -rn | head -"$top" | sed 's/^/  /'
done
