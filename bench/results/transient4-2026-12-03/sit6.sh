#!/bin/bash
echo "start $(date -u +%H:%M:%S) $(cat /proc/loadavg)"
for i in 1 2 3 4; do
  /tmp/t4/run6.sh /work/wt-transient4 t4
  /tmp/t4/run6.sh /work/main main
done 2>/dev/null
echo "end $(date -u +%H:%M:%S) $(cat /proc/loadavg)"
