#!/bin/bash
# One ABBA round (guard on, 16B-none flood, 128 MiB, cap 30 s / 300,000): A = integ (wt-memalarm-a), B = memalarm.
# usage: flock /work/coord/quiet.lock ./ab.sh ROUND
r=$1; cd /work/wt-memalarm/bench
for side in A B B A; do
  tree=/work/wt-memalarm; [ $side = A ] && tree=/work/wt-memalarm-a
  n=1; [ -e /work/coord/memalarm-data/ab-$r-$side-1.log ] && n=2
  timeout 80 node --import tsx memalarm-probe.mts $tree 1 30 > /work/coord/memalarm-data/ab-$r-$side-$n.log 2>&1
  echo "$r $side$n $(grep -E "^[0-9.]+ \{" /work/coord/memalarm-data/ab-$r-$side-$n.log | tail -1)"
done
