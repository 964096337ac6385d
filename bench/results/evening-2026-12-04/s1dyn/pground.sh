#!/bin/bash
# one ABBA round, traced, paging window 16384 (WARREN_BENCH_BROKER_OPTIONS), 300k: p<N>-<pos><side>.json
n=$1; pos=1
for side in A B B A; do
  tree=/work/wt-base; [ $side = B ] && tree=/work/wt-s1dyn
  /work/coord/s1dyn-data/trun.sh $tree pw/p$n-$pos$side WARREN_BENCH_BROKER_OPTIONS='{"pagingWindow":16384}' | grep "delivered ("
  pos=$((pos+1))
done
