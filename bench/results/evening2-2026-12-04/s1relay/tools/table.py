import json,sys,glob,os,statistics as st
d=sys.argv[1]
def load(f):
    j=json.load(open(f)); s=j['scenarios'][0]['systems']; w=s['warren']; fl=s['floor']
    return dict(ratio=w['deliveredPerSec']/fl['deliveredPerSec'], w=w['deliveredPerSec'], relay=fl['deliveredPerSec'], broker=w['brokerCpuSecPer100k'], prod=w['producerCpuSecPer100k'], cons=w['consumerCpuSecPer100k'], rprod=fl['producerCpuSecPer100k'], rcons=fl['consumerCpuSecPer100k'], relayc=fl['relayCpuSecPer100k'], peak=w.get('queuePeakReady'), load=j['machine']['loadAvgAtStart'], writes=w.get('brokerWritesPer100k'), reads=w.get('brokerReadsPer100k'))
pairs=[]
rounds=sorted({int(os.path.basename(f).split('-')[0][1:]) for f in glob.glob(d+'/r*-A.json')})
for n in rounds:
    try:
        a1,b1,b2,a2=[load(f'{d}/r{n}-{s}.json') for s in ('A','B','B2','A2')]
    except Exception as e: print('round',n,'incomplete',e); continue
    pairs+= [(f'{n}AB',a1,b1),(f'{n}BA',a2,b2)]
keys=['ratio','w','relay','broker','prod','cons','rprod','rcons','relayc','peak','writes','reads']
print('pair   '+'  '.join(f'{k:>15}' for k in keys)+'  load')
for name,a,b in pairs:
    print(f'{name:6} '+'  '.join(f'{a[k]:>7.3g}/{b[k]:<7.3g}' if a[k] is not None else ' '*15 for k in keys)+f'  {a["load"]}')
better={'ratio':1,'w':1,'broker':-1,'prod':-1,'cons':-1,'writes':-1,'peak':-1}
for k,sgn in better.items():
    n=sum(1 for _,a,b in pairs if a[k] is not None and (b[k]-a[k])*sgn>0)
    ties=sum(1 for _,a,b in pairs if a[k] is not None and b[k]==a[k])
    A=[a[k] for _,a,b in pairs]; B=[b[k] for _,a,b in pairs]
    print(f'{k:7} B better in {n}/{len(pairs)} (ties {ties}); median A {st.median(A):.4g} [{min(A):.4g}-{max(A):.4g}]  B {st.median(B):.4g} [{min(B):.4g}-{max(B):.4g}]')
