import sys,collections
txt=open(sys.argv[1]).read().split('\n\n')
c=collections.Counter(); n=0
rules=[('page fault','exc_page_fault'),('file pwrite (kv/msg log, threadpool)','__x64_sys_pwrite64'),('file pwritev','__x64_sys_pwritev'),
('socket write','tcp_sendmsg'),('socket read','tcp_recvmsg'),('epoll','__x64_sys_epoll_pwait'),('futex','__x64_sys_futex'),('eventfd/other write','__x64_sys_write'),('other read','__x64_sys_read'),
('GC scavenge','Scavenge'),('GC mark-compact','MarkCompact'),('GC other','Heap::'),('JIT compiler','compiler::'),('other syscall','do_syscall_64'),('softirq/irq','irq')]
for s in txt:
    lines=s.strip().split('\n')
    if len(lines)<2: continue
    n+=1
    st='\n'.join(lines[1:])
    for name,pat in rules:
        if pat in st: c[name]+=1; break
    else: c['JS / builtins / node C++']+=1
for k,v in c.most_common(): print(f'{100*v/n:5.1f}%  {k}')
print('samples',n)
