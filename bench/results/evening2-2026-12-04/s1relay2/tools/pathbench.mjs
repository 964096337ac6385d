// pathbench.mjs TREE: decode N publishes (256 B bodies, broker's decoder options) and re-encode each body as a DELIVER (broker's writer path); ns per message
const tree=process.argv[2];
const P=await import(tree+'/packages/protocol/dist/index.js');
const sink={chunks:[],write(c){this.chunks.push(Buffer.from(c));return true},cork(){},uncork(){}};
const w=new P.FrameWriter(sink);
const body=Buffer.alloc(256,0x61);
for(let i=1;i<=20000;i++) w.publish(i,'', 'bench-q',0,null,body);
w.flush();
const all=Buffer.concat(sink.chunks);
const CH=65536; const chunks=[]; for(let o=0;o<all.length;o+=CH) chunks.push(all.subarray(o,Math.min(all.length,o+CH)));
const out={n:0,write(c){this.n+=c.length;return true},cork(){},uncork(){}};
const ow=new P.FrameWriter(out);
let tag=0, keep=[];
const res=[];
for(let r=0;r<40;r++){
  const d=new P.FrameDecoder(16<<20,{copyBodiesBelow:P.ARENA_COPY_BELOW,reusePublishFrame:true,sharePublishProperties:true});
  const t=process.hrtime.bigint();
  for(let k=0;k<5;k++) for(const c of chunks) d.push(Buffer.from(c.buffer,c.byteOffset,c.length),(f)=>{ keep.push(f.body); if(keep.length>4000) keep=[]; ow.deliver('ctag',++tag,false,0,'',f.routingKey,f.properties,f.body); });
  ow.flush();
  res.push(Number(process.hrtime.bigint()-t)/100000);
}
res.sort((a,b)=>a-b); console.log(tree, 'ns/msg min', res[0].toFixed(0), 'p25', res[10].toFixed(0),'median', res[20].toFixed(0));
