#!/bin/bash
# One ABBA round per exclusive hold of quiet.lock. A = /work/wt-s2cpu-a (main + s2 bench), B = /work/wt-s2cpu.
run() { # side tag
  local dir=/work/main; [ "$1" = A ] && dir=/work/wt-s2cpu-a
  (cd $dir && WARREN_BENCH_S2_FLOOR=relay npm run bench -- 2 --no-peers --count 300000 --out /tmp/fin/$2.json > /tmp/fin/$2.log 2>&1)
}
export -f run
for r in 1 2 3 4; do
  if [ $((r % 2)) = 1 ]; then order="A B B A"; else order="B A A B"; fi
  flock /work/coord/quiet.lock bash -c "i=0; for s in $order; do i=\$((i+1)); run \$s r$r-\$i-\$s; done"
  echo "$(date -u +%T) round $r done"
done
