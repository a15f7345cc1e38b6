#!/usr/bin/env bash
# plot.sh DIR - draws DIR/frontier.svg from DIR/frontier.tsv and DIR/frontier.env (written by the
# lane's frontier scenario, test/vm/guest/s-frontier.sh) with gnuplot (Debian's gnuplot-nox):
# memory stall (PSI some, ms per window) and the reader's ARC hit ratio against the cap, with the
# module's default cap, the measured C* and arcadvise's recommendation marked. PNG=1 also writes
# frontier.png (to look at; the SVG is what the docs link).
set -euo pipefail
d=${1:?usage: plot.sh DIR}
[[ -e $d/frontier.tsv && -e $d/frontier.env ]] || { echo "plot.sh: $d has no frontier.tsv/frontier.env" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot missing (apt-get install gnuplot-nox)" >&2; exit 3; }
get() { sed -n "s/^$1=//p" "$d/frontier.env" | tail -1; }
MiB=1048576
def=$(get default_cap); rec=$(get recommended); cstar=$(get c_star); pred=$(get predicted)
title="$(sed -n 's/^zfs=//p' "$d/run.env" 2>/dev/null) · $(sed -n 's/^mem_mib=//p' "$d/run.env" 2>/dev/null) MiB guest · R = $(get reserve)"
# the data sorted by cap, in MiB, one row per window
awk -F'\t' -v M=$MiB 'NR>1{printf "%.0f\t%s\t%s\t%s\t%.2f\t%s\n", $2/M, $7, $3+$5, $6, $10*100, $1}' "$d/frontier.tsv" |
  sort -n >"$d/.plot.dat"
ymax=$(awk -F'\t' '{if($2>m)m=$2}END{print (m<50?50:m*1.15)}' "$d/.plot.dat")
mark() { # mark X LABEL COLOR HEIGHT [SIDE]: a vertical line with its label, left of it (or right: SIDE=1)
  [[ -n $1 && $1 != 0 ]] || return 0
  local off=-0.6; [[ ${5:-0} = 1 ]] && off=1.2
  printf 'set arrow from %s, graph 0 to %s, graph 1 nohead lw 1.5 dt 2 lc rgb "%s" front\n' "$(($1 / MiB))" "$(($1 / MiB))" "$3"
  printf 'set label "%s" at %s, graph %s rotate by 90 right offset %s,0 textcolor rgb "%s" font ",9" front\n' "$2" "$(($1 / MiB))" "$4" "$off" "$3"
}
term="svg size 880,480 dynamic font 'sans,11' background rgb 'white'"
out=$d/frontier.svg
plot() {
  gnuplot <<EOF
set terminal $1
set output "$2"
set termoption noenhanced
set title "$title"
set xlabel "zfs_arc_max (MiB)"
set ylabel "memory stall in the window: PSI some (ms)"
set y2label "reader's ARC hit ratio (%)"
set yrange [0:$ymax]
set y2range [0:100]
set ytics nomirror
set y2tics 0,10,100
set grid xtics ytics lc rgb "#dddddd"
set key below
set xrange [0:$(( def / MiB + 320 ))]
set style fill solid 0.35
set boxwidth 150
$(mark "$def" "module default $((def / MiB)) MiB" "#555555" 0.98)
$(mark "$cstar" "measured C* $((cstar / MiB)) MiB" "#1a7f37" 0.98 1)
$(mark "$rec" "arcadvise $((rec / MiB)) MiB" "#0550ae" 0.98)
$(mark "$pred" "what-if C* $((pred / MiB)) MiB" "#8250df" 0.98 1)
plot "$d/.plot.dat" using 1:2 with boxes lc rgb "#cf222e" title "PSI some (ms)", \\
     "" using 1:(\$3 > 0 ? \$2 : 1/0) with points pt 7 ps 1.1 lc rgb "#82071e" title "direct reclaim in the window", \\
     "" using 1:5 axes x1y2 with linespoints pt 5 lw 2 lc rgb "#0550ae" title "ARC hit ratio (%)"
EOF
}
plot "$term" "$out"
if [[ ${PNG:-0} = 1 ]]; then plot "pngcairo size 880,480 font 'sans,10'" "$d/frontier.png" 2>/dev/null || plot "png size 880,480" "$d/frontier.png"; fi
rm -f "$d/.plot.dat"
echo "$out"
