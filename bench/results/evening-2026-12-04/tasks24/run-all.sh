#!/bin/bash
# 8 pairs, ABBA over pairs: AB BA BA AB AB BA BA AB; the lock released between pairs (20 s pause).
cd "$(dirname "$0")"
i=0
for O in AB BA BA AB AB BA BA AB; do
  i=$((i+1))
  ./pair.sh $i $O
  sleep 20
done
echo done >> holds.log
