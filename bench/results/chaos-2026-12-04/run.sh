#!/bin/bash
# usage: run.sh <test file> <first round> <rounds> <log name>
# One file run per hold of the shared quiet lock (rounds sized to stay near 3 minutes).
set -u
cd /work/wt-chaos
f=$1; first=$2; n=$3; log=/work/coord/chaos-data/$4.log
echo "# $(date -u +%FT%TZ) tree $(git rev-parse --short HEAD) WARREN_CHAOS_FIRST_ROUND=$first WARREN_CHAOS_ROUNDS=$n npx vitest run $f" > "$log"
NO_COLOR=1 WARREN_CHAOS_FIRST_ROUND=$first WARREN_CHAOS_ROUNDS=$n flock -s /work/coord/quiet.lock npx vitest run "$f" >> "$log" 2>&1
rc=$?
echo "# rc=$rc $(date -u +%FT%TZ)" >> "$log"
echo "$4 rc=$rc"; grep -aE "Tests |FAIL|AssertionError" "$log" | head -20
