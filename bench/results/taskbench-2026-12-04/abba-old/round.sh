#!/bin/bash
# ABBA, Warren only: A = /work/wt-base (main d111c73), B = /work/wt-taskbench-old (8759425, the late-night
# taskwarm merge: before taskcpu's broker flags, kvbroker and the 08:03-09:38 task-layer commits).
# One round (A B B A) per exclusive hold. usage: round.sh R
R=$1
D=/work/coord/taskbench-data/abba-old
flock /work/coord/quiet.lock bash -c "
  echo hold \$(date -u +%T); i=0
  for s in A B B A; do i=\$((i+1));
    if [ \$s = A ]; then cd /work/wt-base/bench; else cd /work/wt-taskbench-old/bench; fi
    BENCH_ONLY=warren node --import tsx e2e/tasks.ts --workers 1,8 --jobs 20000 --out $D/r$R-\$i-\$s.json > $D/r$R-\$i-\$s.log 2>&1
  done
  echo release \$(date -u +%T)"
