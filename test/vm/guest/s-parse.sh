# shellcheck shell=bash disable=SC2034,SC2154,SC1090,SC1091
# s-parse.sh - scenario a (parse): arcadvise's JSON on the live system agrees with arcstats and
# /proc/meminfo read at the same moment. Each "moment" reads arcstats+meminfo, runs arcadvise, reads
# them again: fixed values (MemTotal, c_min, c_max, version, hugepages) must match exactly; moving ones
# (arc size, c, MemAvailable) must lie between the two readings, widened by a tolerance TOL.
# The moments: idle after boot, ARC filled, and under pressure (taken by the model scenario).

# parse_moment LABEL TOL_BYTES
parse_moment() {
  local label=$1 tol=$2 d=$OUT/parse rc j
  mkdir -p "$d"
  j=$d/$label.json
  cat $K >"$d/$label.arcstats.1"; cat "$MEMINFO" >"$d/$label.meminfo.1"
  "$AA" --reserve "$RESERVE" --format json >"$j" 2>"$d/$label.err"; rc=$?
  cat $K >"$d/$label.arcstats.2"; cat "$MEMINFO" >"$d/$label.meminfo.2"
  local a1=$d/$label.arcstats.1 a2=$d/$label.arcstats.2 m1=$d/$label.meminfo.1 m2=$d/$label.meminfo.2
  af() { awk -v k="$2" '$1==k{print $3}' "$1"; }
  mf() { awk -v k="$2:" '$1==k{printf "%.0f\n", $2*1024}' "$1"; }
  jf() { jq -r "$1 // empty" "$j" 2>/dev/null; }
  local t1 t2 jt av1 av2 ja s1 s2 js c1 c2 jc cmin1 cmin2 jcmin cmax1 cmax2 jcmax hp1 jhp zv jzv jzraw lvl rb
  t1=$(mf "$m1" MemTotal); t2=$(mf "$m2" MemTotal); jt=$(jf .host.mem_total_bytes)
  av1=$(mf "$m1" MemAvailable); av2=$(mf "$m2" MemAvailable); ja=$(jf .host.mem_available_bytes)
  s1=$(af "$a1" size); s2=$(af "$a2" size); js=$(jf .arc.size_bytes)
  c1=$(af "$a1" c); c2=$(af "$a2" c); jc=$(jf .arc.c_bytes)
  cmin1=$(af "$a1" c_min); cmin2=$(af "$a2" c_min); jcmin=$(jf .arc.c_min_bytes)
  cmax1=$(af "$a1" c_max); cmax2=$(af "$a2" c_max); jcmax=$(jf .arc.c_max_bytes)
  # hugepages: the Hugetlb line when the kernel has it (covers every page size), else HugePages_Total x Hugepagesize
  hp1=$(awk '$1=="Hugetlb:"{h=$2; has=1} $1=="HugePages_Total:"{n=$2} $1=="Hugepagesize:"{sz=$2}
             END{printf "%.0f", (has ? h : n*sz) * 1024}' "$m1")
  jhp=$(jf .host.hugepages_bytes)
  zv=$(cat "$ZFSVER"); jzv=$(jf .zfs.version); jzraw=$(jf .zfs.version_raw)
  lvl=$(jf .pressure.level); rb=$(jf .recommendation.reserve_bytes)
  chk_reset
  chk "exit 0 (got $rc)" "$rc == 0"
  chk "json parsed" "${jt:-0} > 0"
  chk "mem_total ${jt:-?} == MemTotal $t1" "${jt:-0} == $t1 && $t1 == $t2"
  chk "mem_available ${ja:-?} in [$av1,$av2]±$tol" "${ja:-0} >= $(min "$av1" "$av2") - $tol && ${ja:-0} <= $(max "$av1" "$av2") + $tol"
  chk "hugepages ${jhp:-?} == $hp1" "${jhp:--1} == $hp1"
  chk "size ${js:-?} in [$s1,$s2]±$tol" "${js:-0} >= $(min "$s1" "$s2") - $tol && ${js:-0} <= $(max "$s1" "$s2") + $tol"
  chk "c ${jc:-?} in [$c1,$c2]±$tol" "${jc:-0} >= $(min "$c1" "$c2") - $tol && ${jc:-0} <= $(max "$c1" "$c2") + $tol"
  chk "c_min ${jcmin:-?} == $cmin1" "${jcmin:-0} == $cmin1 && $cmin1 == $cmin2"
  chk "c_max ${jcmax:-?} == $cmax1" "${jcmax:-0} == $cmax1 && $cmax1 == $cmax2"
  chk "version_raw '${jzraw}' == '$zv'" "$([ "$jzraw" = "$zv" ] && echo 1 || echo 0)"
  chk "version '${jzv}' is a prefix of '$zv'" "$([ -n "$jzv" ] && [ "${zv#"$jzv"}" != "$zv" ] && echo 1 || echo 0)"
  chk "pressure.level '$lvl' is none|low|moderate|high" "$(case $lvl in none|low|moderate|high) echo 1;; *) echo 0;; esac)"
  chk "reserve_bytes ${rb:-?} == $RESERVE_BYTES" "${rb:-0} == $RESERVE_BYTES"
  # distance of the JSON value from the middle of the two readings (how far the counters moved)
  local dsz dav
  dsz=$(( ${js:-0} - (s1 + s2) / 2 )); dsz=${dsz#-}
  dav=$(( ${ja:-0} - (av1 + av2) / 2 )); dav=${dav#-}
  printf '%s\t%s\tsize=%s(%s..%s) mem_available=%s(%s..%s) c_max=%s d_size=%s d_avail=%s level=%s\t%s\n' \
    "$label" "$(chk_status)" "${js:-?}" "$s1" "$s2" "${ja:-?}" "$av1" "$av2" "${jcmax:-?}" "$dsz" "$dav" "${lvl:-?}" "$CHK_FAILS" >>"$d/moments.tsv"
  say "parse moment $label: $(chk_status) ${CHK_FAILS}"
}

parse_finish() {
  local f=$OUT/parse/moments.tsv n fails labels maxds maxda
  [ -f "$f" ] || { result parse FAIL - "no moment was taken"; return; }
  n=$(wc -l <"$f")
  fails=$(awk -F'\t' '$2!="PASS"{printf "%s%s: %s", (n++?"; ":""), $1, $4}' "$f")
  labels=$(awk -F'\t' '{printf "%s%s", (n++?",":""), $1}' "$f")
  maxds=$(awk -F'\t' '{split($3,a," "); for(i in a){split(a[i],kv,"="); if(kv[1]=="d_size"&&kv[2]>m)m=kv[2]}}END{printf "%.1f", m/1048576}' "$f")
  maxda=$(awk -F'\t' '{split($3,a," "); for(i in a){split(a[i],kv,"="); if(kv[1]=="d_avail"&&kv[2]>m)m=kv[2]}}END{printf "%.1f", m/1048576}' "$f")
  if [ -z "$fails" ] && [ "$n" -ge 2 ]; then
    result parse PASS "moments=$labels max_d_size_MiB=$maxds max_d_avail_MiB=$maxda"
  else
    result parse FAIL "moments=$labels max_d_size_MiB=$maxds max_d_avail_MiB=$maxda" "${fails:-fewer than 2 moments}"
  fi
}
