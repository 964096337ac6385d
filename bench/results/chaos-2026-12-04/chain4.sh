#!/bin/bash
# more queue rounds, after chain 3
cd /work/coord/chaos-data
while pgrep -f "chain3.sh" >/dev/null; do sleep 5; done
sleep 10
./run.sh /work/wt-chaos/packages/broker/test/durability/crash.test.ts 21 5 queues-r21-25
