#!/bin/bash
# usage: round.sh N DIR [BTREE]: one ABBA round of scenario 1 (300k, no peers): A = /work/wt-base, B = BTREE (default /work/wt-s1dyn)
n=$1; dir=$2; btree=${3:-/work/wt-s1dyn}; atree=${4:-/work/wt-base}
pos=1
for side in A B B A; do
  tree=$atree; [ $side = B ] && tree=$btree
  echo "s2 round $n pos $pos $side $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  (cd $tree && npm run bench -- 2 --no-peers --out $dir/r$n-$pos$side.json 2>&1 | grep -E "delivered \(" )
  pos=$((pos+1))
done
