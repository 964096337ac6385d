import json,glob,re,os
import sys
D=sys.argv[1]
rows={}
for f in sorted(glob.glob(D+'/r*-*-*.json')):
    r,i,s=re.match(r'.*/r(\d+)-(\d+)-([AB])\.json',f).groups()
    d=json.load(open(f))['scenarios'][0]['systems']
    w=d['warren']; fl=d['floor']
    log=open(f[:-5]+'.log').read()
    m=re.search(r'append floor: .*?: (\d+) msg/s',log)
    app=int(m.group(1)) if m else float('nan')
    rows[(int(r),int(i))]=(s,w['deliveredPerSec'],w['brokerCpuSecPer100k']*10,fl['deliveredPerSec'],app)
print('round pos side warren_msg/s broker_us/msg durable_relay append  W/relay W/append')
for k in sorted(rows):
    s,w,c,fl,app=rows[k]
    print(k[0],k[1],s,f'{w:9.0f} {c:5.2f} {fl:9.0f} {app:9.0f}  {w/fl:5.1%} {w/app:5.1%}')
# pairs: within each round, (pos1,pos2) and (pos3,pos4)
agreeT=agreeC=n=0
for r in sorted({k[0] for k in rows}):
    for a,b in ((1,2),(3,4)):
        if (r,a) in rows and (r,b) in rows:
            x,y=rows[(r,a)],rows[(r,b)]
            A,B=(x,y) if x[0]=='A' else (y,x)
            n+=1; t=B[1]/A[1]; c=B[2]/A[2]; agreeT+=t>1; agreeC+=c<1
            print(f'pair r{r} {a}{b}: B/A msg/s {t:.3f}  B/A cpu/msg {c:.3f}')
print(f'{n} pairs: B faster in {agreeT}, B less CPU/msg in {agreeC}')
