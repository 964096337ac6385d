#!/bin/bash
# rounds.sh FROM TO DIR [COUNT]: ABBA rounds (A=/work/wt-s1relay, B=/work/wt-s1relay2), each under one exclusive hold, 15 s apart
export ATREE=/work/wt-s1relay BTREE=/work/wt-s1relay2
for n in $(seq $1 $2); do
  echo "$(date -u +%T) round $n start (load $(cut -d' ' -f1-3 /proc/loadavg))" >> $3/progress
  flock /work/coord/quiet.lock /tmp/s1r2/tools/round.sh $n $3 $4
  echo "$(date -u +%T) round $n done" >> $3/progress
  sleep 15
done
