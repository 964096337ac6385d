#!/usr/bin/env python3
"""Per trace: consumer-read gaps and the longest run of publisher reads with no consumer read between (measured phase)."""
import json, sys, statistics as st
for p in sys.argv[1:]:
    d = json.load(open(p)); marks = [e['t'] for e in d['events'] if e['ev'] == 'stats']; a, b = marks[-2], marks[-1]
    c = d['chunks']; C = [(c[i], c[i+1], c[i+2]) for i in range(0, len(c), 4) if a <= c[i] <= b]
    cons = [x[0] for x in C if x[1] == 1]; gaps = sorted(y - x for x, y in zip(cons, cons[1:]))
    run = best = 0; runb = bestb = 0
    for x in C:
        if x[1] == 0: run += 1; runb += x[2]; best = max(best, run); bestb = max(bestb, runb)
        elif x[1] == 1: run = 0; runb = 0
    full = sum(1 for x in C if x[1] == 0 and x[2] >= 200_000); pubs = sum(1 for x in C if x[1] == 0)
    print(f"{p:10} consumer-read gap median {st.median(gaps):.2f} ms p90 {gaps[int(.9*len(gaps))]:.2f} p99 {gaps[int(.99*len(gaps))]:.1f} max {gaps[-1]:.1f} | longest publisher-only run {best} reads {bestb/1024/1024:.1f} MiB | reads >=200 KB {full}/{pubs}")
