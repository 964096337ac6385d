import sys,collections
O=sys.argv[1]; target=sys.argv[2]; pid=int(open(O+'/brokerpid').read())
c=collections.Counter()
for blk in open(O+'/perf.txt').read().split('\n\n'):
    ls=[l for l in blk.split('\n') if l.strip()]
    if not ls: continue
    h=ls[0].split()
    try: tid=int(h[0])
    except: continue
    if tid!=pid: continue
    fr=[l.strip().split(None,1)[1] if len(l.strip().split(None,1))>1 else '?' for l in ls[1:]]
    if fr and fr[0].startswith(target):
        c[' <- '.join(x.replace('file:///work/wt-s1relay/packages/','').replace('file:///work/wt-base/packages/','')[:55] for x in fr[1:4])]+=1
for k,v in c.most_common(12): print(v,k)
