import json,sys,collections
p=json.load(open(sys.argv[1])); fn=sys.argv[2]; depth=int(sys.argv[3]) if len(sys.argv)>3 else 3
nodes={n['id']:n for n in p['nodes']}
parent={}
for n in p['nodes']:
    for c in n.get('children',[]): parent[c]=n['id']
cnt=collections.Counter(p['samples'])
dt=collections.Counter()
ts=p['timeDeltas']
for s,d in zip(p['samples'],ts[1:]+[0]): dt[s]+=d
agg=collections.Counter()
for nid,n in nodes.items():
    cf=n['callFrame']
    if cf['functionName']!=fn: continue
    chain=[];x=nid
    for i in range(depth):
        x=parent.get(x)
        if x is None: break
        c=nodes[x]['callFrame']; chain.append(f"{c['functionName']}:{c['url'].split('/')[-1]}:{c['lineNumber']+1}")
    agg[' <- '.join(chain)]+=dt[nid]
tot=sum(agg.values())
for k,v in agg.most_common(15): print(f"{v/1000:8.1f} ms  {k}")
print('total',tot/1000)
