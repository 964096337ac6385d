#!/usr/bin/env python3
"""Sums the chaos logs: kills, pass/fail, figures. usage: summarize.py [logs...] (default: all *.log)"""
import glob, json, re, sys
logs = sys.argv[1:] or sorted(glob.glob('/work/coord/chaos-data/*.log'))
tot = {}
def add(k, v=1): tot[k] = tot.get(k, 0) + v
for f in logs:
    t = open(f, errors='replace').read()
    m = re.search(r'Tests\s+(.*)', t); tests = m.group(1).strip() if m else '?'
    rc = re.search(r'# rc=(\d+)', t); rc = rc.group(1) if rc else 'running'
    kind = f.split('/')[-1].split('-')[0]
    q = len(re.findall(r'\[crash (?:heavy-publish|consume|after-confirm|timer|mixed) seed', t))
    tw = len(re.findall(r'\[crash twice', t))
    sc = len(re.findall(r'\[stream crash\]', t))
    cons = len(re.findall(r'✓ consumer process killed', t))
    kv = len(re.findall(r'✓ every confirmed put', t))
    mu = len(re.findall(r'\[multi seed', t))
    kills = q + 3 * tw + sc + cons + kv + mu
    print(f'{f.split("/")[-1]:36} rc={rc:7} tests: {tests:28} kills={kills} (queue cases {q}, crash-twice {tw}x3, stream broker {sc}, stream consumer {cons}, kv {kv}, multi {mu})')
    add(kind + ' kills', kills)
    for line in re.findall(r'\[crash \S+ seed=\d+\] killed at [^:]*: (\{.*\})', t):
        d = json.loads(line)
        for k in ('ackedButBack', 'unconfirmedSurvived', 'truncatedBytes'): add('queues ' + k, d[k])
    for line in re.findall(r'\[multi [^\]]*\] killed at [^:]*: (\{.*\})', t):
        d = json.loads(line)
        for k in ('ackedButBack', 'inQueueAndDead', 'truncatedBytes', 'propsBad', 'dead'): add('multi ' + k, d[k])
    for line in re.findall(r'\[stream crash\] (\{.*\})', t):
        d = json.loads(line)
        add('streams confirmed racing', d['confirmed']); add('streams racing sent', d['racing'])
    add('failed tests', len(re.findall(r'^\s*(?:×|✗) ', t, re.M)))
print(json.dumps(tot, indent=1))
