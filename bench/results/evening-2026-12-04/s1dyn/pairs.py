#!/usr/bin/env python3
"""ABBA pairs table: pairs.py DIR -> per pair A/B fraction of relay, broker us/msg, queue peak, paged out, holds; wins and medians."""
import json, sys, glob, os, statistics as st
d = sys.argv[1]
def m(f):
    s = json.load(open(f))['scenarios'][0]['systems']; w = s['warren']; fl = s['floor']
    return dict(frac=w['deliveredPerSec'] / fl['deliveredPerSec'], us=w['brokerCpuSecPer100k'] * 10, peak=w['queuePeakReady'], paged=w['pagedOut'],
                holds=w['flowHolds'], mps=w['deliveredPerSec'], relay=fl['deliveredPerSec'])
rows = []
for n in sorted({int(os.path.basename(f).split('-')[0][1:]) for f in glob.glob(f'{d}/r*-*.json')}):
    for a, b in (('1A', '2B'), ('4A', '3B')):
        fa, fb = f'{d}/r{n}-{a}.json', f'{d}/r{n}-{b}.json'
        if os.path.exists(fa) and os.path.exists(fb): rows.append((f'{n}{a[0]}{b[0]}' if a == '1A' else f'{n}BA', m(fa), m(fb)))
print(f"{'pair':5} | {'frac A':>6} {'frac B':>6} | {'us/msg A':>8} {'us/msg B':>8} | {'peak A':>7} {'peak B':>7} | {'paged A':>7} {'paged B':>7} | {'holds A':>7} {'holds B':>7} | {'msg/s A':>8} {'msg/s B':>8}")
for p, A, B in rows:
    print(f"{p:5} | {A['frac']:6.2f} {B['frac']:6.2f} | {A['us']:8.3f} {B['us']:8.3f} | {A['peak']:7d} {B['peak']:7d} | {A['paged']:7d} {B['paged']:7d} | {A['holds']:7d} {B['holds']:7d} | {A['mps']:8.0f} {B['mps']:8.0f}")
def line(k, better):
    wins = sum(1 for _, A, B in rows if (B[k] > A[k] if better == 'higher' else B[k] < A[k]))
    a = [A[k] for _, A, _ in rows]; b = [B[k] for _, _, B in rows]
    print(f"{k:6}: B better in {wins}/{len(rows)} pairs; median A {st.median(a):.3f} [{min(a):.3f}-{max(a):.3f}], B {st.median(b):.3f} [{min(b):.3f}-{max(b):.3f}]")
line('frac', 'higher'); line('us', 'lower'); line('peak', 'lower'); line('paged', 'lower'); line('mps', 'higher')
print(f"runs that paged: A {sum(1 for _, A, _ in rows if A['paged'] > 0)}/{len(rows)}, B {sum(1 for _, _, B in rows if B['paged'] > 0)}/{len(rows)}")
