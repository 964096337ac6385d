#!/bin/bash
# One A/B pair in one exclusive hold of the quiet lock: pair.sh N ORDER (ORDER = AB or BA).
# A = /work/wt-base (main), B = /work/wt-tasks24. The brief's command, BullMQ rows in the same invocation.
N=$1; ORDER=$2
D=/work/wt-tasks24/bench/results/evening-2026-12-04/tasks24
flock /work/coord/quiet.lock bash -c "
  echo \"pair $N $ORDER hold \$(date -u +%H:%M:%S) load \$(cut -d' ' -f1 /proc/loadavg)\" >> $D/holds.log
  for S in \$(echo $ORDER | grep -o .); do
    if [ \$S = A ]; then T=/work/wt-base; else T=/work/wt-tasks24; fi
    cd \$T/bench && node --import tsx e2e/tasks.ts --workers 1,8 --jobs 20000 --out $D/p$N-\$S.json > $D/p$N-\$S.log 2>&1
  done
  echo \"pair $N release \$(date -u +%H:%M:%S)\" >> $D/holds.log
"
