#!/bin/bash
# One ABBA round of scenario 1 (run under: flock /work/coord/quiet.lock ./round.sh N).
# A = /work/wt-base (main), B = /work/wt-s1body. Output: /work/coord/s1body-data/r<N>-<order><side>.json
set -u
N=$1
D=/work/coord/s1body-data
uptime > $D/r$N-load.txt
i=0
for side in A B B A; do
  i=$((i+1))
  if [ $side = A ]; then dir=/work/wt-base; else dir=/work/wt-s1body; fi
  (cd $dir && npm run bench -- 1 --no-peers --count 1000000 --out $D/r$N-$i$side.json > $D/r$N-$i$side.log 2>&1)
  echo "run $N $i $side rc=$?" >> $D/r$N-load.txt
done
uptime >> $D/r$N-load.txt
