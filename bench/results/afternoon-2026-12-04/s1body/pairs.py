# Table and pair counts for s1body rounds: python3 pairs.py [DIR] ; files r<N>-<pos><side>.json, order A B B A.
import json, glob, re, sys, statistics as st
D = sys.argv[1] if len(sys.argv) > 1 else '/work/coord/s1body-data'
rows = {}
for f in sorted(glob.glob(D + '/r*-*.json')):
    m = re.match(r'.*/r(\d+)-(\d)([AB])\.json$', f)
    if not m: continue
    r, i, s = int(m.group(1)), int(m.group(2)), m.group(3)
    d = json.load(open(f))['scenarios'][0]['systems']
    w, fl = d['warren'], d['floor']
    rows[(r, i)] = dict(side=s, w=w['deliveredPerSec'], fl=fl['deliveredPerSec'], cpu=w['brokerCpuSecPer100k'] * 10,
                        fcpu=(fl.get('relayCpuSecPer100k') or float('nan')) * 10, prod=w.get('producerCpuSecPer100k', 0) * 10, cons=w.get('consumerCpuSecPer100k', 0) * 10)
print('round pos side  warren_msg/s  relay_msg/s  fraction  broker_us/msg  relay_us/msg  producer_us  consumer_us')
for k in sorted(rows):
    x = rows[k]
    print(f"{k[0]:5} {k[1]:3} {x['side']:4}  {x['w']:12,.0f}  {x['fl']:11,.0f}  {x['w']/x['fl']:8.3f}  {x['cpu']:13.3f}  {x['fcpu']:12.3f}  {x['prod']:11.3f}  {x['cons']:11.3f}")
n = fast = cpu = frac = 0
for r in sorted({k[0] for k in rows}):
    for a, b in ((1, 2), (3, 4)):
        if (r, a) in rows and (r, b) in rows:
            x, y = rows[(r, a)], rows[(r, b)]
            A, B = (x, y) if x['side'] == 'A' else (y, x)
            n += 1; fast += B['w'] > A['w']; cpu += B['cpu'] < A['cpu']; frac += B['w'] / B['fl'] > A['w'] / A['fl']
            print(f"pair r{r} {a}{b}: B/A msg/s {B['w']/A['w']:.3f}  B/A broker cpu/msg {B['cpu']/A['cpu']:.3f}  fraction A {A['w']/A['fl']:.3f} B {B['w']/B['fl']:.3f}")
for side in 'AB':
    xs = [x for x in rows.values() if x['side'] == side]
    if xs: print(f"{side}: n={len(xs)} median msg/s {st.median(x['w'] for x in xs):,.0f}  broker us/msg {st.median(x['cpu'] for x in xs):.3f}  fraction {st.median(x['w']/x['fl'] for x in xs):.3f}")
print(f'{n} pairs: B faster in {fast}, B lower broker CPU/msg in {cpu}, B higher fraction of relay in {frac}')
