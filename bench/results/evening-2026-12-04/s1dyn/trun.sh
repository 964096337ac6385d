#!/bin/bash
# usage: trun.sh TREE NAME [extra env...]: one scenario-1 run of TREE with the trace preload; outputs NAME.json (trace) NAME-bench.json
tree=$1; name=$2; shift 2
cd $tree && env "$@" WARREN_BENCH_BROKER_ARGS="--import /work/coord/s1dyn-data/trace.mjs" WARREN_TRACE_DIST=$tree/packages/broker/dist WARREN_TRACE_OUT=/work/coord/s1dyn-data/$name.json npm run bench -- 1 --count ${COUNT:-300000} --no-peers --out /work/coord/s1dyn-data/$name-bench.json 2>&1 | grep -E "delivered \(|published in|delivered in" 
