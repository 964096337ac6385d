#!/bin/bash
# usage: rounds.sh FROM TO DIR [BTREE]: rounds FROM..TO, each under its own exclusive hold, 15 s apart
for n in $(seq $1 $2); do
  flock /work/coord/quiet.lock /work/coord/s1dyn-data/round.sh $n $3 $4 $5
  [ $n -lt $2 ] && sleep 15
done
