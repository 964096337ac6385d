#!/usr/bin/env bash
# Third queue (replaces the rest of chain2: bench-smoke cannot reach 8 pairs before the hard stop,
# so the holds go to flood and move-crash, which can).
cd /work/coord/citime-data
./ab.sh flood ABBA bench/test/flood-smoke.test.ts
./ab.sh move ABBA packages/broker/test/durability/move-crash.test.ts
if [ "$(date -u +%H%M)" -lt 1521 ]; then ./ab.sh flood ABBA bench/test/flood-smoke.test.ts; fi
