#!/bin/bash
# streams v2 (kill inside a racing confirm), after chain 2
cd /work/coord/chaos-data
while pgrep -f "chain2.sh" >/dev/null; do sleep 5; done
sleep 10
T=/work/wt-chaos/packages/broker/test
./run.sh $T/streams/crash.test.ts 1 15 streams2-r01-15; sleep 10
./run.sh $T/streams/crash.test.ts 16 15 streams2-r16-30
