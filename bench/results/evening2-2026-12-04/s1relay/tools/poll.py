# poll.py ROOTPID OUT: samples /proc for descendants of ROOTPID every 20ms until ROOTPID exits
import os,sys,time,json
root=int(sys.argv[1]); out=sys.argv[2]
def kids(p):
    try:
        with open(f'/proc/{p}/task/{p}/children') as f: return [int(x) for x in f.read().split()]
    except Exception: return []
hist={}
while os.path.exists(f'/proc/{root}'):
    stack=[root]; allp=[]
    while stack:
        p=stack.pop(); allp.append(p); stack+=kids(p)
    for p in allp:
        try:
            st=open(f'/proc/{p}/stat').read(); rp=st.rfind(')'); f=st[rp+2:].split()
            ut,stt=int(f[11]),int(f[12])
            cmd=open(f'/proc/{p}/cmdline').read().replace('\0',' ')[:200]
            s=open(f'/proc/{p}/status').read()
            vol=int(s.split('voluntary_ctxt_switches:')[1].split()[0]); nonv=int(s.split('nonvoluntary_ctxt_switches:')[1].split()[0])
            io=open(f'/proc/{p}/io').read(); sc=dict(l.split(': ') for l in io.strip().split('\n'))
            h=hist.setdefault(p,{'cmd':cmd,'s':[]}); h['s'].append((time.time(),ut,stt,vol,nonv,int(sc['syscr']),int(sc['syscw'])))
        except Exception: pass
    time.sleep(0.02)
json.dump(hist,open(out,'w'))
