#!/bin/bash
echo "start $(date -u +%H:%M:%S) $(cat /proc/loadavg)"
for i in 1 2 3 4 5 6; do
  /tmp/t4/run1.sh /work/main main
  /tmp/t4/run1.sh /work/wt-transient4 t4
done 2>/dev/null
for w in main:/work/main t4:/work/wt-transient4; do
  (cd ${w#*:} && node bench/e2e/alloc-probe.mjs --count 100000 --top 6) > /tmp/t4/alloc3-${w%%:*}.txt 2>&1
done
echo "end $(date -u +%H:%M:%S) $(cat /proc/loadavg)"
