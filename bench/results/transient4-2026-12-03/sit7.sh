#!/bin/bash
echo "start $(date -u +%H:%M:%S) $(cat /proc/loadavg)"
for i in 1 2 3 4 5 6; do
  /tmp/t4/run1.sh /work/wt-transient4 t4
  /tmp/t4/run1.sh /work/main main
done 2>/dev/null
echo "end $(date -u +%H:%M:%S) $(cat /proc/loadavg)"
