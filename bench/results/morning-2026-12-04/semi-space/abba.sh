#!/bin/bash
run() { # side tag
  local extra=""; [ "$1" = B ] && extra="--max-semi-space-size=16"
  (cd /work/main/bench && WARREN_BENCH_BROKER_ARGS="$extra" node --no-memory-reducer --import tsx e2e/run.ts 1 --no-peers --count 500000 --out /tmp/semi/$2.json > /tmp/semi/$2.log 2>&1)
}
export -f run
for r in 1 2 3 4; do
  if [ $((r % 2)) = 1 ]; then order="A B B A"; else order="B A A B"; fi
  flock /work/coord/quiet.lock bash -c "i=0; for s in $order; do i=\$((i+1)); run \$s r$r-\$i-\$s; done"
  echo "$(date -u +%T) round $r done"
done
