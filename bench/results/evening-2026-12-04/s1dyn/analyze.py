#!/usr/bin/env python3
"""Summarises a trace.mjs JSON: the measured phase (between the last two 'stats' marks).
usage: analyze.py TRACE [--series] [--step N]"""
import json, sys
from collections import Counter

def load(path):
    d = json.load(open(path))
    marks = [e['t'] for e in d['events'] if e['ev'] == 'stats']
    a, b = (marks[-2], marks[-1]) if len(marks) >= 2 else (0, 1e18)
    S = [s for s in d['samples'] if a <= s['t'] <= b and 'ready' in s]
    E = [e for e in d['events'] if a <= e['t'] <= b]
    return d, a, b, S, E

def summary(path):
    d, a, b, S, E = load(path)
    if not S:
        return {}
    # trim to the active part: from the first sample with pub growth to the last ack
    p0 = S[0]['pub']; pend = S[-1]['pub']; a_end = S[-1]['ack']
    act = [s for s in S if s['ack'] < a_end or s['pub'] < pend]
    holds = [e for e in E if e['ev'] == 'hold']
    ends = [e for e in E if e['ev'] == 'end']
    elus = [e for e in E if e['ev'] == 'elu']
    qs = [e for e in E if e['ev'] == 'qs']
    dur = act[-1]['t'] - act[0]['t'] if act else 0
    cpu = sum(s['cpu'] for s in act)
    r = {
        'ms': round(dur), 'peak': max(s['ready'] for s in S), 'peakPaged': max(s['paged'] for s in S),
        'holds': len(holds), 'holdsResume': sum(1 for h in holds if h['resume']),
        'ends': dict(Counter(e['reason'] for e in ends)),
        'heldMs': round(sum(e['ms'] for e in ends)),
        'eluSamples': len(elus), 'eluSat': sum(1 for e in elus if e['sat']),
        'qsHold': sum(1 for e in qs if e['holds']), 'qs': len(qs),
        'cpuMs': round(cpu), 'congShare': round(sum(s['cong'] for s in act) / max(1, len(act)), 3),
        'meanElu': round(sum(s['elu'] * s['dt'] for s in act) / max(1, sum(s['dt'] for s in act)), 3),
        'meanUnacked': round(sum(s['unacked'] for s in act) / max(1, len(act))),
        'maxGap': round(max((s['dt'] for s in act), default=0), 1),
    }
    return r

def series(path, step=1):
    d, a, b, S, E = load(path)
    ev = sorted(E, key=lambda e: e['t'])
    i = 0
    prev = None
    print(f"{'t':>7} {'dt':>5} {'elu':>4} {'cpu':>5} {'ready':>6} {'paged':>6} {'pub/ms':>6} {'del/ms':>6} {'ack/ms':>6} {'unack':>5} {'cg':>2} {'cbufK':>6} {'pf':>2} {'held':>4}")
    for k, s in enumerate(S):
        while i < len(ev) and ev[i]['t'] <= s['t']:
            e = ev[i]; i += 1
            if e['ev'] in ('hold', 'end'):
                print(f"   {e['t']-a:7.1f} ** {e['ev']} {json.dumps({x: e[x] for x in e if x not in ('t','ev')})}")
            elif e['ev'] == 'elu':
                print(f"   {e['t']-a:7.1f} .. elu sat={e['sat']} gap={e['gap']:.1f}")
            elif e['ev'] == 'qs':
                print(f"   {e['t']-a:7.1f} .. qs holds={e['holds']} count={e['count']}")
        if prev is not None and k % step == 0:
            dt = s['t'] - prev['t']
            print(f"{s['t']-a:7.1f} {s['dt']:5.1f} {s['elu']:4.2f} {s['cpu']/s['dt'] if s['dt'] else 0:5.2f} {s['ready']:6d} {s['paged']:6d} "
                  f"{(s['pub']-prev['pub'])/dt:6.0f} {(s['del']-prev['del'])/dt:6.0f} {(s['ack']-prev['ack'])/dt:6.0f} {s['unacked']:5d} {s['cong']:2d} {(s['cbuf'] or 0)/1024:6.0f} {s['pflow']:2d} {s['held']:4d}")
        if k % step == 0:
            prev = s

if __name__ == '__main__':
    path = sys.argv[1]
    if '--series' in sys.argv:
        step = int(sys.argv[sys.argv.index('--step') + 1]) if '--step' in sys.argv else 1
        series(path, step)
    print(json.dumps(summary(path)))
