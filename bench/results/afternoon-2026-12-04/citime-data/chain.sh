#!/usr/bin/env bash
# The holds queued one after another (each ab.sh call = one exclusive hold of quiet.lock).
# A = /work/wt-citime-a (integ 801d4d3, built), B = /work/wt-citime.
cd /work/coord/citime-data
./ab.sh flood AB bench/test/flood-smoke.test.ts
./ab.sh move ABBA packages/broker/test/durability/move-crash.test.ts
./ab.sh flood BA bench/test/flood-smoke.test.ts
./ab.sh move ABBA packages/broker/test/durability/move-crash.test.ts
./ab.sh bench AB bench/test/bench-smoke.test.ts
./ab.sh flood AB bench/test/flood-smoke.test.ts
./ab.sh flood BA bench/test/flood-smoke.test.ts
