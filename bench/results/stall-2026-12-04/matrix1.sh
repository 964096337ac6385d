#!/bin/bash
# The dedicated repro matrix (run from /work/wt-stall/bench/results/stall-2026-12-04), one log per config.
cd /work/wt-stall/bench/results/stall-2026-12-04
i=0
while read -r cfg; do
  i=$((i+1))
  echo "== $i $cfg"
  flock -s /work/coord/quiet.lock timeout 400 node pause-repro.mjs "$cfg" > /work/coord/stall-data/m1-$i.log 2>&1
  echo "rc $?"; grep RESULT /work/coord/stall-data/m1-$i.log | cut -c1-400
done <<'CFGS'
{"count":300000,"rate":50000,"stop":"both","minMs":300,"maxMs":700,"everyMs":700}
{"count":300000,"rate":50000,"stop":"producer","minMs":300,"maxMs":700,"everyMs":700}
{"count":300000,"rate":50000,"stop":"consumer","minMs":300,"maxMs":700,"everyMs":700}
{"count":300000,"rate":50000,"stop":"both","minMs":2000,"maxMs":5000,"everyMs":700}
{"count":100000,"rate":20000,"stop":"both","minMs":300,"maxMs":700,"everyMs":700,"durable":true}
{"count":300000,"rate":0,"stop":"both","minMs":300,"maxMs":700,"everyMs":700}
{"count":200000,"rate":0,"stop":"consumer","minMs":2000,"maxMs":5000,"everyMs":700,"durable":true}
{"count":300000,"rate":0,"stop":"producer","minMs":2000,"maxMs":5000,"everyMs":300}
CFGS
