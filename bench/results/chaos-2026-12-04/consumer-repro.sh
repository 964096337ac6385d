#!/bin/bash
# Two concurrent runs of the stream consumer-kill test only (load makes the parent lag behind the child's stdout).
cd /work/wt-chaos
T=packages/broker/test/streams/crash.test.ts
for part in "16 40" "56 40"; do
  set -- $part
  ( echo "# $(date -u +%FT%TZ) WARREN_CHAOS_FIRST_ROUND=$1 WARREN_CHAOS_ROUNDS=$2 npx vitest run $T -t 'consumer process killed'"
    NO_COLOR=1 WARREN_CHAOS_FIRST_ROUND=$1 WARREN_CHAOS_ROUNDS=$2 flock -s /work/coord/quiet.lock npx vitest run $T -t 'consumer process killed' 2>&1
    echo "# rc=$? $(date -u +%FT%TZ)" ) > /work/coord/chaos-data/consumer-r$1.log &
done
wait
