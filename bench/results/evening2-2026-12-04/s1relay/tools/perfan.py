import sys,collections,json
O=sys.argv[1]; pid=int(open(O+'/brokerpid').read())
samples=[]
for blk in open(O+'/perf.txt').read().split('\n\n'):
    ls=[l for l in blk.split('\n') if l.strip()]
    if not ls: continue
    h=ls[0].split()
    try: tid=int(h[0]); t=float(h[1].rstrip(':'))
    except: continue
    if tid!=pid: continue
    fr=[l.strip().split(None,1)[1] if len(l.strip().split(None,1))>1 else '?' for l in ls[1:]]
    samples.append((t,fr))
bins=collections.Counter(int(t*20) for t,_ in samples)
ks=sorted(bins); mx=max(bins.values())
# last contiguous run of bins with >= 25% of max
end=max(k for k in ks if bins[k]>=0.25*mx); k=end
while bins.get(k-1,0)>=0.25*mx: k-=1
start=k
m=[f for t,f in samples if start<=int(t*20)<=end]
j=json.load(open(O+'/result.json')); w=j['scenarios'][0]['systems']['warren']; fl=j['scenarios'][0]['systems']['floor']
count=j['scenarios'][0]['count']
print(f"{O}: window {(end-start+1)/20:.2f}s, {len(m)} samples (~{len(m)/4999/ (count/1e5):.3f} s per 100k at 4999 Hz); warren {w['deliveredPerSec']:.0f} relay {fl['deliveredPerSec']:.0f} ratio {w['deliveredPerSec']/fl['deliveredPerSec']:.3f} brokerCpu/100k {w['brokerCpuSecPer100k']:.3f} seconds {w['seconds']:.2f}")
def short(x): return x.replace('file:///work/wt-s1relay/packages/','').replace('file:///work/wt-base/packages/','')[:80]
c=collections.Counter(short(f[0]) if f else '?' for f in m)
for k,v in c.most_common(int(sys.argv[2]) if len(sys.argv)>2 else 30): print(f'{v:5d} {100*v/len(m):5.1f}% {k}')
