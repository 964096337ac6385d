const N=2e6; let sink; const res={};
const pool=Buffer.allocUnsafeSlow(8192); const ab=pool.buffer;
class BodyView extends Uint8Array {}
Object.setPrototypeOf(BodyView.prototype, Buffer.prototype);
const fns={
 subarray: ()=>{ for(let i=0;i<N;i++){ const a=(i*256)&4095; sink=pool.subarray(a,a+256);} },
 fromCached: ()=>{ for(let i=0;i<N;i++){ const a=(i*256)&4095; sink=Buffer.from(ab,a,256);} },
 fromGetter: ()=>{ for(let i=0;i<N;i++){ const a=(i*256)&4095; sink=Buffer.from(pool.buffer,a,256);} },
 u8: ()=>{ for(let i=0;i<N;i++){ const a=(i*256)&4095; sink=new Uint8Array(ab,a,256);} },
 bodyview: ()=>{ for(let i=0;i<N;i++){ const a=(i*256)&4095; sink=new BodyView(ab,a,256);} },
};
for(let r=0;r<15;r++) for(const [k,f] of Object.entries(fns)){ const t=process.hrtime.bigint(); f(); (res[k]??=[]).push(Number(process.hrtime.bigint()-t)/N); }
for(const [k,v] of Object.entries(res)){ v.sort((a,b)=>a-b); console.log(k.padEnd(12), v.slice(0,8).map(x=>x.toFixed(0)).join(' ')); }
