#!/bin/bash
# Rounds $1..$2, each its own exclusive hold, a pause between holds so others get turns.
for n in $(seq $1 $2); do
  flock /work/coord/quiet.lock /work/coord/s1body-data/round.sh $n
  sleep 15
done
