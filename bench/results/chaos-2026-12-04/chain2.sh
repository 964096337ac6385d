#!/bin/bash
# waits for chain 1 (queues), then the rest, one file run per lock hold with a pause between
cd /work/coord/chaos-data
while pgrep -f "run.sh /work/wt-chaos/packages/broker/test/durability/crash.test.ts" >/dev/null; do sleep 5; done
T=/work/wt-chaos/packages/broker/test
./run.sh $T/streams/crash.test.ts 1 15 streams-r01-15; sleep 10
./run.sh $T/streams/crash.test.ts 16 15 streams-r16-30; sleep 10
./run.sh $T/durability/kv-crash.test.ts 1 30 kv-r01-30; sleep 10
./run.sh $T/durability/chaos-multi.test.ts 1 14 multi-r01-14; sleep 10
./run.sh $T/durability/chaos-multi.test.ts 15 14 multi-r15-28
