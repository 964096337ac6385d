#!/bin/bash
# rounds.sh FROM TO DIR [COUNT]: ABBA rounds, each under one exclusive hold, 15 s apart
for n in $(seq $1 $2); do
  flock /work/coord/quiet.lock /tmp/s1r/tools/round.sh $n $3 $4
  echo "$(date -u +%T) round $n done" >> $3/progress
  sleep 15
done
