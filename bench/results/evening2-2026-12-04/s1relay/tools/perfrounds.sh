#!/bin/bash
# perfrounds.sh FROM TO: ABBA perf rounds (A=/work/wt-base, B=/work/wt-s1relay), 300k, each round under one exclusive hold
for n in $(seq $1 $2); do
  flock /work/coord/quiet.lock bash -c "
    /tmp/s1r/tools/perfrun.sh /work/wt-base /tmp/s1r/pp/r$n-A
    /tmp/s1r/tools/perfrun.sh /work/wt-s1relay /tmp/s1r/pp/r$n-B
    /tmp/s1r/tools/perfrun.sh /work/wt-s1relay /tmp/s1r/pp/r$n-B2
    /tmp/s1r/tools/perfrun.sh /work/wt-base /tmp/s1r/pp/r$n-A2"
  echo "$(date -u +%T) perf round $n done" >> /tmp/s1r/pp/progress
  sleep 15
done
