#!/usr/bin/env bash
# usage: ab.sh <tag> <order e.g. AB or BA> <test file> [B-side file list...]
# One exclusive hold of /work/coord/quiet.lock per call; each side's vitest JSON goes to citime-data/<tag>-<n>-<side>.json.
set -u
tag=$1; order=$2; file=$3; shift 3
bfiles=${*:-$file}
dir=/work/coord/citime-data
flock /work/coord/quiet.lock bash -c '
  for side in $(echo '"$order"' | grep -o .); do
    if [ $side = A ]; then tree=/work/wt-citime-a; files="'"$file"'"; else tree=/work/wt-citime; files="'"$bfiles"'"; fi
    n=$(ls '"$dir"'/'"$tag"'-*-$side.json 2>/dev/null | wc -l)
    out='"$dir"'/'"$tag"'-$((n+1))-$side.json
    start=$(date +%s.%N)
    (cd $tree && npx vitest run $files --reporter=json --outputFile=$out >/dev/null 2>'"$dir"'/'"$tag"'-$((n+1))-$side.err)
    rc=$?
    end=$(date +%s.%N)
    echo "'"$tag"' $side $((n+1)) rc=$rc wall=$(echo "$end - $start" | bc) load=$(cut -d" " -f1 /proc/loadavg) at=$(date -u +%H:%M:%S)" | tee -a '"$dir"'/'"$tag"'-runs.txt
  done'
