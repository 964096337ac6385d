#!/usr/bin/env python3
"""Socket reads in the measured phase of a trace: per interval between two consumer reads, the publisher reads in it.
usage: chunks.py TRACE [from_ms to_ms]"""
import json, sys
d = json.load(open(sys.argv[1]))
marks = [e['t'] for e in d['events'] if e['ev'] == 'stats']
a, b = marks[-2], marks[-1]
c = d['chunks']
C = [(c[i] - a, c[i+1], c[i+2], c[i+3]) for i in range(0, len(c), 4) if a <= c[i] <= b]
lo, hi = (float(sys.argv[2]), float(sys.argv[3])) if len(sys.argv) > 3 else (0, 1e9)
pubs = [x for x in C if x[1] == 0]; cons = [x for x in C if x[1] == 1]
print(f"reads: publisher {len(pubs)} ({sum(x[2] for x in pubs)/len(pubs):.0f} B avg, {sum(x[3] for x in pubs)/len(pubs):.2f} ms avg), consumer {len(cons)} ({sum(x[2] for x in cons)/len(cons):.0f} B avg, {sum(x[3] for x in cons)/len(cons):.3f} ms avg)")
# intervals between consumer reads
gaps = []
last = None; npub = 0; pbytes = 0; pms = 0
for x in C:
    if x[1] == 0:
        npub += 1; pbytes += x[2]; pms += x[3]
    elif x[1] == 1:
        if last is not None:
            gaps.append((last[0], x[0] - last[0], npub, pbytes, pms, x[2], x[3]))
        last = x; npub = 0; pbytes = 0; pms = 0
import statistics
gs = [g[1] for g in gaps]
print(f"consumer read gaps: n={len(gs)} median {statistics.median(gs):.2f} ms, p90 {sorted(gs)[int(len(gs)*.9)]:.2f}, max {max(gs):.1f}")
for g in gaps:
    if lo <= g[0] <= hi:
        print(f"{g[0]:8.2f} gap {g[1]:6.2f} ms: pub reads {g[2]:3d} {g[3]/1024:6.0f} KiB {g[4]:6.2f} ms | ack read {g[5]:5d} B {g[6]:.3f} ms")
