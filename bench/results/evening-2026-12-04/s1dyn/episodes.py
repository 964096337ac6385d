#!/usr/bin/env python3
"""Episodes above high water (4000) in the measured phase of traces: when the queue crossed it, what each flow-control
decision said (queue sample, loop sample), when the hold came and at what depth, how holds ended, the episode's peak.
usage: episodes.py TRACE..."""
import json, sys
from collections import Counter
HW = 4000
for path in sys.argv[1:]:
    d = json.load(open(path))
    marks = [e['t'] for e in d['events'] if e['ev'] == 'stats']
    a, b = marks[-2], marks[-1]
    S = [s for s in d['samples'] if a <= s['t'] <= b and 'ready' in s]
    E = sorted([e for e in d['events'] if a <= e['t'] <= b and e['ev'] != 'stats'], key=lambda e: e['t'])
    # merge: a timeline of (t, kind, payload)
    eps = []
    cur = None
    si = 0
    tl = sorted([(s['t'], 's', s) for s in S] + [(e['t'], 'e', e) for e in E], key=lambda x: x[0])
    for t, k, x in tl:
        r = x['ready'] if k == 's' else x.get('ready', x.get('count'))
        if k == 's':
            if cur is None and r > HW:
                cur = {'t0': t, 'peak': r, 'paged': x['paged'], 'dec': [], 'holdAt': None, 'holdReady': None, 'ends': [], 'holds': 0}
            elif cur is not None:
                cur['peak'] = max(cur['peak'], r); cur['paged'] = max(cur['paged'], x['paged'])
                if r <= HW and x['held'] == 0:
                    cur['t1'] = t; eps.append(cur); cur = None
        else:
            if cur is None:
                if x['ev'] in ('qs', 'elu', 'hold'):
                    cur = {'t0': t, 'peak': r or 0, 'paged': 0, 'dec': [], 'holdAt': None, 'holdReady': None, 'ends': [], 'holds': 0}
                else:
                    continue
            if x['ev'] == 'qs': cur['dec'].append(f"q{'+' if x['holds'] else '-'}@{x['count']//1000}k")
            elif x['ev'] == 'elu': cur['dec'].append(f"L{'+' if x['sat'] else '-'}{'(stale)' if x['gap'] >= 200 else ''}")
            elif x['ev'] == 'hold':
                cur['holds'] += 1
                if cur['holdAt'] is None: cur['holdAt'] = t; cur['holdReady'] = x['ready']
            elif x['ev'] == 'end': cur['ends'].append(x['reason'])
    if cur is not None: cur['t1'] = b; eps.append(cur)
    bench = json.load(open(path.replace('.json', '-bench.json')))['scenarios'][0]['systems']
    w = bench['warren']; f = bench['floor']
    print(f"== {path}: {w['deliveredPerSec']/f['deliveredPerSec']:.2f} of relay, {w['brokerCpuSecPer100k']*10:.2f} us/msg, peak {w['queuePeakReady']}, paged {w['pagedOut']}, holds {w['flowHolds']}")
    for e in eps:
        delay = (e['holdAt'] - e['t0']) if e['holdAt'] else None
        print(f"  {e['t0']-a:7.0f}-{e['t1']-a:5.0f} ms peak {e['peak']:6d} paged {e['paged']:6d} | first hold "
              f"{'none' if delay is None else '+%.0f ms at %d' % (delay, e['holdReady'])} holds {e['holds']} ends {dict(Counter(e['ends']))} | {' '.join(e['dec'][:8])}")
