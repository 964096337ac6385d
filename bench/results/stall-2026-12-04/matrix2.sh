#!/bin/bash
# Second matrix: 64 KB bodies (the broker's and the client's write high-water mark and 'drain' paths), durable with
# the broker's 'confirms' read pause, and the 300-700 ms pauses again with peak sampling.
cd /work/wt-stall/bench/results/stall-2026-12-04
i=0
while read -r cfg; do
  i=$((i+1))
  echo "== $i $cfg"
  flock -s /work/coord/quiet.lock timeout 400 node pause-repro.mjs "$cfg" > /work/coord/stall-data/m2-$i.log 2>&1
  echo "rc $?"; grep -E "PEAKS|RESULT" /work/coord/stall-data/m2-$i.log | cut -c1-300
done <<'CFGS'
{"count":20000,"rate":0,"bodySize":65536,"stop":"consumer","minMs":300,"maxMs":700,"everyMs":700}
{"count":20000,"rate":0,"bodySize":65536,"stop":"producer","minMs":300,"maxMs":700,"everyMs":700}
{"count":20000,"rate":0,"bodySize":65536,"stop":"both","minMs":300,"maxMs":2000,"everyMs":700}
{"count":20000,"rate":5000,"bodySize":65536,"stop":"both","minMs":300,"maxMs":700,"everyMs":700,"durable":true}
{"count":300000,"rate":50000,"stop":"both","minMs":300,"maxMs":700,"everyMs":700}
{"count":200000,"rate":0,"stop":"both","minMs":300,"maxMs":700,"everyMs":700,"durable":true}
CFGS
