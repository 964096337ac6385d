import json,os,statistics as st
D='/work/wt-floors/bench/results/evening2-2026-12-04/floors'
def load(n):
    p=f'{D}/{n}.json'; return json.load(open(p)) if os.path.exists(p) else None
def lock_load(n):
    for l in open(f'{D}/runs.txt'):
        if f'got lock {n} ' in l: return l.split()[0][:5], l.split('load ')[1].split()[0]
med=lambda a: st.median(a)
out=[]
for label,pat,N in [('--count 300000 (12 runs)','s2-300k-r',12),('default count 50,000 (8 runs)','s2-50k-r',8)]:
    out.append(f'\n#### Scenario 2, {label}\n')
    out.append('| run | UTC, load | Warren | append floor | durable relay | relay, ack-gated (old) | msgs/sync W / relay / old | W / append | W / relay | **relay / append** | old / append | CPU us/msg Warren (broker + clients) | CPU us/msg relay (relay + clients) |')
    out.append('|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---|')
    c={k:[] for k in 'W A R G wa wr ra ga wcpu rcpu wb wc rb rc'.split()}
    for r in range(1,N+1):
        n=f'{pat}{r}'; d=load(n)
        if not d: continue
        s=d['scenarios'][0]['systems']; w=s['warren']; f=s['floor']; t,l=lock_load(n)
        W,A,R,G=w['deliveredPerSec'],f['appendFloorPerSec'],f['deliveredPerSec'],f['ackGatedPerSec']
        wb,wc=w['brokerCpuSecPer100k']*10,w['workersCpuSecPer100k']*10
        rb,rc=f['relayCpuSecPer100k']*10,f['workersCpuSecPer100k']*10
        for k,v in dict(W=W,A=A,R=R,G=G,wa=W/A,wr=W/R,ra=R/A,ga=G/A,wcpu=wb+wc,rcpu=rb+rc,wb=wb,wc=wc,rb=rb,rc=rc).items(): c[k].append(v)
        out.append(f"| r{r} | {t}, {l} | {W:,.0f} | {A:,.0f} | {R:,.0f} | {G:,.0f} | {w['msgsPerSync']:.0f} / {f['msgsPerSync']:.0f} / {f['ackGatedMsgsPerSync']:.0f} | {W/A:.0%} | {W/R:.0%} | {R/A:.0%} | {G/A:.0%} | {wb+wc:.1f} ({wb:.1f} + {wc:.1f}) | {rb+rc:.1f} ({rb:.1f} + {rc:.1f}) |")
    rg=lambda a: f"{min(a):.0%}-{max(a):.0%}"
    out.append(f"| **median** | | **{med(c['W']):,.0f}** | **{med(c['A']):,.0f}** | **{med(c['R']):,.0f}** | {med(c['G']):,.0f} | | **{med(c['wa']):.0%}** ({rg(c['wa'])}) | **{med(c['wr']):.0%}** ({rg(c['wr'])}) | **{med(c['ra']):.0%}** ({rg(c['ra'])}) | {med(c['ga']):.0%} ({rg(c['ga'])}) | {med(c['wcpu']):.1f} ({med(c['wb']):.1f} + {med(c['wc']):.1f}) | {med(c['rcpu']):.1f} ({med(c['rb']):.1f} + {med(c['rc']):.1f}) |")
# sync instrumentation
out.append('\n#### The disk as each system met it (runs after 4515b7f: syncBusy = share of the phase a sync was out; syncRate = messages per second of sync time)\n')
out.append('| run | Warren | W syncBusy | W syncRate | relay | relay syncBusy | relay syncRate | append floor (other seconds) | relay / its own syncRate | relay syncRate / append |')
out.append('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
for pat,N in [('s2-300k-r',12),('s2-50k-r',8)]:
    for r in range(1,N+1):
        n=f'{pat}{r}'; d=load(n)
        if not d: continue
        s=d['scenarios'][0]['systems']; w=s['warren']; f=s['floor']
        if 'syncRatePerSec' not in f: continue
        out.append(f"| {n} | {w['deliveredPerSec']:,.0f} | {w['syncBusy']:.2f} | {w['syncRatePerSec']:,.0f} | {f['deliveredPerSec']:,.0f} | {f['syncBusy']:.2f} | {f['syncRatePerSec']:,.0f} | {f['appendFloorPerSec']:,.0f} | {f['deliveredPerSec']/f['syncRatePerSec']:.0%} | {f['syncRatePerSec']/f['appendFloorPerSec']:.0%} |")
# s1
out.append('\n#### Scenario 1 (transient), default count 100,000 (4 runs)\n')
out.append('| run | UTC, load | Warren | relay floor | W / relay | broker CPU s/100k | relay CPU s/100k | Warren clients s/100k | relay clients s/100k |')
out.append('|---|---|---:|---:|---:|---:|---:|---:|---:|')
ws=[];rs=[];fs=[]
for r in range(1,5):
    n=f's1-r{r}'; d=load(n); s=d['scenarios'][0]['systems']; w=s['warren']; f=s['floor']; t,l=lock_load(n)
    ws.append(w['deliveredPerSec']); rs.append(f['deliveredPerSec']); fs.append(ws[-1]/rs[-1])
    out.append(f"| r{r} | {t}, {l} | {ws[-1]:,.0f} | {rs[-1]:,.0f} | {fs[-1]:.0%} | {w['brokerCpuSecPer100k']:.2f} | {f['relayCpuSecPer100k']:.2f} | {w['workersCpuSecPer100k']:.2f} | {f['workersCpuSecPer100k']:.2f} |")
out.append(f"| **median** | | {med(ws):,.0f} | {med(rs):,.0f} | {med(fs):.0%} ({min(fs):.0%}-{max(fs):.0%}) | | | | |")
print('\n'.join(out))
