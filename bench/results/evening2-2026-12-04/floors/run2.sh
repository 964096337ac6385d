#!/bin/bash
# run3.sh (after run2.sh, with 4515b7f): the same loop for r in 9 10 11 12, the 300k run only.
OUT=/work/wt-floors/bench/results/evening2-2026-12-04/floors
cd /work/wt-floors
while kill -0 $(cat /tmp/floors-run.pid) 2>/dev/null; do sleep 5; done
one() {
  local name=$1; shift; local envv=$1; shift
  echo "$(date -u +%H:%M:%S) start $name (waiting for lock)" >> $OUT/runs.txt
  flock /work/coord/quiet.lock bash -c "echo \"\$(date -u +%H:%M:%S) got lock $name load \$(cut -d' ' -f1-3 /proc/loadavg)\" >> $OUT/runs.txt; env $envv timeout 280 npm run bench -- $* --out $OUT/$name.json > $OUT/$name.log 2>&1; echo \"\$(date -u +%H:%M:%S) done $name rc \$?\" >> $OUT/runs.txt"
  sleep 5
}
for r in 5 6 7 8; do
  one s2-300k-r$r WARREN_BENCH_S2_FLOOR=relay 2 --no-peers --count 300000
  one s2-50k-r$r WARREN_BENCH_S2_FLOOR=relay 2 --no-peers
done
echo "$(date -u +%H:%M:%S) all2 done" >> $OUT/runs.txt
