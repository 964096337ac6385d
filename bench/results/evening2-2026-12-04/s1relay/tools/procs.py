import json,glob,statistics as st,sys
for d in sys.argv[1:]:
    rows={'A':[], 'B':[]}
    for f in glob.glob(d+'/r*-*.json'):
        side='A' if '-A' in f else 'B'
        j=json.load(open(f)); s=j['scenarios'][0]['systems']; rows[side].append((s['warren'],s['floor']))
    print(d)
    for side,rs in rows.items():
        if not rs: continue
        m=lambda k,i: st.median(r[i][k] for r in rs)
        w=(m('brokerCpuSecPer100k',0),m('producerCpuSecPer100k',0),m('consumerCpuSecPer100k',0))
        fl=(m('relayCpuSecPer100k',1),m('producerCpuSecPer100k',1),m('consumerCpuSecPer100k',1))
        print(f"  {side} ({len(rs)} runs) us/msg: warren broker {w[0]*10:.2f} producer {w[1]*10:.2f} consumer {w[2]*10:.2f} total {sum(w)*10:.2f} | relay {fl[0]*10:.2f} producer {fl[1]*10:.2f} consumer {fl[2]*10:.2f} total {sum(fl)*10:.2f} | warren msg/s {m('deliveredPerSec',0):.0f} relay msg/s {m('deliveredPerSec',1):.0f}")
