# Inclusive and self ms of the named functions in a .cpuprofile: python3 incl.py FILE name1,name2,...
import json, sys
p = json.load(open(sys.argv[1])); names = sys.argv[2].split(',')
nodes = {n['id']: n for n in p['nodes']}; parent = {}
for n in p['nodes']:
    for c in n.get('children', []): parent[c] = n['id']
selfms = {}
for s, dt in zip(p['samples'], p['timeDeltas']): selfms[s] = selfms.get(s, 0) + dt / 1000
total = sum(selfms.values()); idle = sum(v for k, v in selfms.items() if nodes[k]['callFrame']['functionName'] in ('(idle)', '(program)'))
incl = {n: 0.0 for n in names}; own = {n: 0.0 for n in names}
for nid, ms in selfms.items():
    fn = nodes[nid]['callFrame']['functionName']
    if fn in own: own[fn] += ms
    seen = set(); x = nid
    while x is not None:
        f = nodes[x]['callFrame']['functionName']
        if f in incl and f not in seen: incl[f] += ms; seen.add(f)
        x = parent.get(x)
print(f'total {total:.0f} ms, idle+program {idle:.0f} ms, busy {total-idle:.0f} ms')
for n in names: print(f'{n:24} incl {incl[n]:7.1f} ms  self {own[n]:7.1f} ms')
