#!/usr/bin/env bash
# Second queue of holds, after chain.sh: more move-crash rounds and a second bench-smoke pair.
cd /work/coord/citime-data
./ab.sh move ABBA packages/broker/test/durability/move-crash.test.ts
./ab.sh bench BA bench/test/bench-smoke.test.ts
./ab.sh move ABBA packages/broker/test/durability/move-crash.test.ts
# Only if it can end well before the hard stop (15:35; nothing long after 15:25).
if [ "$(date -u +%H%M)" -lt 1519 ]; then ./ab.sh flood ABBA bench/test/flood-smoke.test.ts; fi
