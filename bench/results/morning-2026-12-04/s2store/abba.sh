#!/bin/bash
# One ABBA (odd rounds) / BAAB (even rounds) round per exclusive hold of quiet.lock.
# A = /work/wt-base (main, detached, built), B = $BDIR (a built checkout of the commit under test).
D=/work/coord/s2store-data/${TAG:-m1}
mkdir -p $D
run() { # side tag
  local dir=${BDIR:-/work/wt-s2store}; [ "$1" = A ] && dir=/work/wt-base
  (cd $dir && WARREN_BENCH_S2_FLOOR=relay npm run bench -- 2 --no-peers --count 300000 --out $D/$2.json > $D/$2.log 2>&1)
}
export -f run; export D BDIR
for r in ${ROUNDS:-1 2 3 4}; do
  if [ $((r % 2)) = 1 ]; then order="A B B A"; else order="B A A B"; fi
  flock /work/coord/quiet.lock bash -c "i=0; for s in $order; do i=\$((i+1)); run \$s r$r-\$i-\$s; done"
  echo "$(date -u +%T) round $r done"
  sleep 5
done
