#!/bin/bash
# pair.sh N ORDER: one pair in one exclusive hold. A = /work/wt-tasks24 (098ac48), B = /work/wt-review-tasks24.
N=$1; ORDER=$2; D=/tmp/rt24-ab
flock /work/coord/quiet.lock bash -c "
  echo \"pair $N $ORDER hold \$(date -u +%H:%M:%S) load \$(cut -d' ' -f1 /proc/loadavg)\" >> $D/holds.log
  for S in \$(echo $ORDER | grep -o .); do
    if [ \$S = A ]; then T=/work/wt-tasks24; else T=/work/wt-review-tasks24; fi
    cd \$T/bench && BENCH_ONLY=warren timeout 170 node --import tsx e2e/tasks.ts --workers 1 --jobs 20000 --out $D/p$N-\$S.json > $D/p$N-\$S.log 2>&1
  done
  echo \"pair $N release \$(date -u +%H:%M:%S)\" >> $D/holds.log
"
