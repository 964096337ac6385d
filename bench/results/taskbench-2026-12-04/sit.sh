#!/bin/bash
# One sitting of taskbench step 1 on /work/wt-base (main d111c73): the three invocations (task layer with all
# three Redis rows, --warren-mode queue, --started-after 50; from run 4 on also --warren-mode success, from run 5 on also --concurrency 32 (full, reference); each with the BullMQ rows) under ONE exclusive
# hold of the quiet lock (~90 s). usage: sit.sh N
N=$1
D=/work/coord/taskbench-data
cd /work/wt-base/bench || exit 1
flock /work/coord/quiet.lock bash -c "
  echo hold \$(date -u +%T);
  node --import tsx e2e/tasks.ts --workers 1,8 --jobs 20000 --out $D/run$N-full.json > $D/run$N-full.log 2>&1;
  node --import tsx e2e/tasks.ts --workers 1,8 --jobs 20000 --warren-mode queue --out $D/run$N-queue.json > $D/run$N-queue.log 2>&1;
  node --import tsx e2e/tasks.ts --workers 1,8 --jobs 20000 --started-after 50 --out $D/run$N-sa50.json > $D/run$N-sa50.log 2>&1;
  node --import tsx e2e/tasks.ts --workers 1,8 --jobs 20000 --warren-mode success --out $D/run$N-success.json > $D/run$N-success.log 2>&1;
  node --import tsx e2e/tasks.ts --workers 1,8 --jobs 20000 --concurrency 32 --out $D/run$N-c32.json > $D/run$N-c32.log 2>&1;
  echo release \$(date -u +%T)"
