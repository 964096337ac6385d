/**
 * The permission check on the publish path (authorizer.ts): what one PUBLISH
 * costs the Authorizer for an administrator (tags only) and for a user with
 * regex permissions (one cached decision per exchange name), beside a bare
 * call of the same shape. Run from the repo root:
 *   node --import tsx bench/micro/authorize.bench.ts
 * MICRO_TIME_MS sets the time budget per row (default 500).
 */
import { Bench } from 'tinybench';
import { FrameType, type Frame } from '../../packages/protocol/src/index.js';
import { Access } from '../../packages/broker/src/access.js';
import { AccessAuthorizer, SessionGrant } from '../../packages/broker/src/authorizer.js';
import { createLogger } from '../../packages/broker/src/logger.js';
import type { Session } from '../../packages/broker/src/session.js';

const TIME_MS = Number(process.env.MICRO_TIME_MS ?? 500);
const access = await Access.open({
  dataDir: null,
  sync: false,
  users: [{ username: 'admin', password: 'x' }],
  usersFile: undefined,
  defaultGuest: false,
  allowGuestRemote: false,
  logger: createLogger('silent', false),
});
await access.putUser('app', { password: 'y' });
const pattern = '^(amq\\.default|orders\\..*)$';
await access.setPermissions('app', '/', { configure: pattern, write: pattern, read: pattern });
const authorizer = new AccessAuthorizer(access);

const sessionOf = (username: string) => ({ grant: new SessionGrant(username, '/') }) as unknown as Session;
const admin = sessionOf('admin');
const app = sessionOf('app');
const frames: Frame[] = ['orders.created', 'orders.paid', 'orders.shipped', ''].map((exchange) => ({
  type: FrameType.PUBLISH,
  seq: 1,
  exchange,
  routingKey: 'k',
  flags: 0,
  properties: null,
  body: Buffer.alloc(0),
}));
const N = 1000;
let sink = 0;
const bare = (s: Session, f: Frame): void => {
  if (s.grant.generation === f.type) sink++;
};

const bench = new Bench({ time: TIME_MS, warmupTime: 200 });
bench.add(`bare call x${N}`, () => {
  for (let i = 0; i < N; i++) bare(app, frames[i & 3]!);
});
bench.add(`administrator x${N}`, () => {
  for (let i = 0; i < N; i++) authorizer.authorize(admin, frames[i & 3]!, 'write');
});
bench.add(`regex permissions, 4 exchanges x${N}`, () => {
  for (let i = 0; i < N; i++) authorizer.authorize(app, frames[i & 3]!, 'write');
});
bench.add(`regex permissions, 1 exchange x${N}`, () => {
  for (let i = 0; i < N; i++) authorizer.authorize(app, frames[0]!, 'write');
});
await bench.run();
for (const t of bench.tasks) {
  const mean = t.result?.latency?.mean ?? t.result?.mean;
  console.log(`${t.name.padEnd(40)} ${mean === undefined ? '?' : ((mean * 1e6) / N).toFixed(1)} ns per publish`);
}
if (sink < 0) console.log(sink);
