import { Buffer as B } from 'node:buffer';
class BodyBuffer extends Uint8Array {}
Object.setPrototypeOf(BodyBuffer.prototype, B.prototype);
Object.defineProperty(BodyBuffer.prototype, 'constructor', { value: B, writable: true, configurable: true, enumerable: false });
const ab = new ArrayBuffer(8192);
const N = 5e6;
function g(o){ return Buffer.from(ab, o, 40); }
function i(o){ return B.from(ab, o, 40); }
function bb(o){ return new BodyBuffer(ab, o, 40); }
const x = new BodyBuffer(ab, 0, 4); x.writeUInt16BE(258,0); console.log(B.isBuffer(x), x instanceof B, x.constructor===B, x.toString('hex'), x.subarray(1).constructor===B, x.equals(B.from([1,2,0,0])));
let s=0;
for (const [name,f] of [['global',g],['import',i],['bb',bb],['global',g],['import',i],['bb',bb]]) {
  const t=process.hrtime.bigint();
  for (let k=0;k<N;k++){ s+=f((k&127)*40).length; }
  console.log(name, Number(process.hrtime.bigint()-t)/N, 'ns');
}
