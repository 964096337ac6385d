import json,sys,collections
p=json.load(open(sys.argv[1]))
nodes={n['id']:n for n in p['nodes']}
parent={}
for n in p['nodes']:
    for c in n.get('children',[]): parent[c]=n['id']
dt=collections.Counter()
ts=p['timeDeltas']
for s,d in zip(p['samples'],ts[1:]+[0]): dt[s]+=d
incl=collections.Counter()
for nid,t in dt.items():
    seen=set(); x=nid
    while x is not None:
        c=nodes[x]['callFrame']; k=f"{c['functionName']} {c['url'].split('/')[-1]}:{c['lineNumber']+1}"
        if k not in seen: incl[k]+=t; seen.add(k)
        x=parent.get(x)
tot=sum(dt.values())
for k,v in incl.most_common(int(sys.argv[2]) if len(sys.argv)>2 else 60): print(f"{v/1000:8.1f} ms {100*v/tot:5.1f}%  {k}")
