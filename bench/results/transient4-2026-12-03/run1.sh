#!/bin/bash
# run1.sh <worktree> <label>: one scenario-1 run (300k) + per-process CPU totals (ticks of 10 ms, whole life)
wt=$1; label=$2; shift 2
cd $wt
stamp=$(date +%H%M%S)
out=/tmp/t4/res/$label-$stamp.json
mkdir -p /tmp/t4/res
load=$(cut -d' ' -f1 /proc/loadavg)
( while true; do
    for pid in $(pgrep -f "$wt/bench/e2e/(broker-child|worker.ts|relay-child)"); do
      args=$(tr "\0" " " < /proc/$pid/cmdline 2>/dev/null | grep -oE 'broker-child|relay-child|"role":"[a-z]+","system":"[a-z]+"' | head -1)
      t=$(awk '{print $14+$15}' /proc/$pid/stat 2>/dev/null)
      [ -n "$t" ] && echo "$pid $t $args"
    done
    sleep 0.05
  done > /tmp/t4/res/$label-$stamp.cpu ) &
sampler=$!
env "$@" npm run bench -- 1 --count 300000 --no-peers --out $out > /tmp/t4/res/$label-$stamp.log 2>&1
kill $sampler
git checkout -q bench/results/latest.json 2>/dev/null
python3 - "$out" /tmp/t4/res/$label-$stamp.cpu "$label" "$load" <<'PY'
import json,sys
r=json.load(open(sys.argv[1])); s=r['scenarios'][0]['systems']
w=s['warren']; f=s['floor']
last={}
for line in open(sys.argv[2]):
    parts=line.split(' ',2)
    if len(parts)<3: continue
    pid,t,who=parts; last[pid]=(int(t),who.strip())
cpu={}
for pid,(t,who) in last.items():
    who=who.replace('"role":','').replace('"system":','').replace('"','')
    cpu[who]=cpu.get(who,0)+t
def g(k): return cpu.get(k,0)/100
print(f"{sys.argv[3]:8s} load {sys.argv[4]:5s} warren {w['deliveredPerSec']:9.0f} relay {f['deliveredPerSec']:9.0f} share {w['deliveredPerSec']/f['deliveredPerSec']*100:5.1f}% brokerCPU/100k {w['brokerCpuSecPer100k']:.3f} life-CPU s: broker {g('broker-child'):.2f} prod {g('producer,warren'):.2f} cons {g('consumer,warren'):.2f} | relay {g('relay-child'):.2f} prod {g('producer,relay'):.2f} cons {g('consumer,relay'):.2f}")
PY
