#!/bin/bash
# One scenario run per exclusive hold of /work/coord/quiet.lock.
OUT=/work/wt-floors/bench/results/evening2-2026-12-04/floors
cd /work/wt-floors
one() { # name, env, args...
  local name=$1; shift; local envv=$1; shift
  echo "$(date -u +%H:%M:%S) start $name (waiting for lock)" >> $OUT/runs.txt
  flock /work/coord/quiet.lock bash -c "echo \"\$(date -u +%H:%M:%S) got lock $name load \$(cut -d' ' -f1-3 /proc/loadavg)\" >> $OUT/runs.txt; env $envv timeout 280 npm run bench -- $* --out $OUT/$name.json > $OUT/$name.log 2>&1; echo \"\$(date -u +%H:%M:%S) done $name rc \$?\" >> $OUT/runs.txt"
  sleep 5
}
for r in 1 2 3 4; do
  one s2-50k-r$r WARREN_BENCH_S2_FLOOR=relay 2 --no-peers
  one s2-300k-r$r WARREN_BENCH_S2_FLOOR=relay 2 --no-peers --count 300000
  one s1-r$r X=1 1 --no-peers
done
for r in 1 2; do
  for s in 3 4 6 7; do one s$s-peers-r$r X=1 $s; done
done
echo "$(date -u +%H:%M:%S) all done" >> $OUT/runs.txt
