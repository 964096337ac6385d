#!/bin/bash
echo "start $(date -u +%H:%M:%S) $(cat /proc/loadavg)"
for w in main:/work/main a:/work/t4a-transient4 b:/work/wt-transient4; do
  (cd ${w#*:} && node bench/e2e/alloc-probe.mjs --count 100000 --top 6) > /tmp/t4/alloc2-${w%%:*}.txt 2>&1
done
echo "probes $(date -u +%H:%M:%S) $(cat /proc/loadavg)"
for i in 1 2 3 4; do
  /tmp/t4/run1.sh /work/main main
  /tmp/t4/run1.sh /work/t4a-transient4 step1
  /tmp/t4/run1.sh /work/wt-transient4 step1+2
done 2>/dev/null
echo "end $(date -u +%H:%M:%S) $(cat /proc/loadavg)"
