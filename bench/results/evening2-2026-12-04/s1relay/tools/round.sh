#!/bin/bash
# round.sh N DIR [COUNT] : one ABBA round (A=/work/wt-base, B=$BTREE or /work/wt-s1relay), run under the exclusive lock by the caller
N=$1; DIR=$2; COUNT=${3:-}; BT=${BTREE:-/work/wt-s1relay}; AT=${ATREE:-/work/wt-base}
mkdir -p $DIR
EXTRA=""; [ -n "$COUNT" ] && EXTRA="--count $COUNT"
for side in A B B2 A2; do
  case $side in A|A2) T=$AT;; *) T=$BT;; esac
  (cd $T && npm run bench -- 1 --no-peers $EXTRA --out $DIR/r$N-$side.json > $DIR/r$N-$side.log 2>&1)
done
