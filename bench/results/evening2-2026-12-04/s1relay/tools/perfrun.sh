#!/bin/bash
# perfrun.sh TREE OUTDIR [COUNT]: one scenario-1 run with the broker under perf (user-space, on-CPU samples)
T=$1; O=$2; C=${3:-300000}; mkdir -p $O
rm -f /tmp/perf-*.map
WARREN_BENCH_BROKER_ARGS="--perf-basic-prof" perf record -e task-clock --all-user -F 4999 -g -o $O/perf.data -- bash -c "cd $T && npm run bench -- 1 --no-peers --count $C --out $O/result.json" > $O/log 2>&1
pid=$(ls /tmp/perf-*.map | head -1 | sed 's/.*perf-\([0-9]*\).map/\1/'); echo $pid > $O/brokerpid
cp /tmp/perf-$pid.map $O/
perf script -i $O/perf.data -F tid,time,ip,sym 2>/dev/null > $O/perf.txt
