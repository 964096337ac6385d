/**
 * The typed send methods of FrameWriter, one per frame type, derived from
 * FRAME_SCHEMA: parameters in header order (then the body, for body frames),
 * named and typed after the frame's fields. A run of `code, name, message`
 * (plus `details` on ERROR) is one `err` parameter, so a WarrenError is sent
 * as it is: `writer.error(requestId, err)`, `writer.close(err)`,
 * `writer.publishNack(seq, err)`, `writer.cancelled(consumerTag, err)`.
 *
 * Each method fills a header array made once for its frame type and hands it
 * to `sendRaw`, which encodes it before returning: nothing is allocated per
 * send. Object-valued slots are cleared afterwards so the array does not pin
 * the caller's properties.
 */
import { FrameType, type Frame, type FrameTypeName } from './frames.js';
import { FRAME_SCHEMA, type FieldKind, type FrameLayout, type FrameSchema } from './frame-schema.js';

/** What an `err` parameter needs: WarrenError has it. */
export interface ErrorLike {
  readonly code: number;
  readonly name: string;
  readonly message: string;
  readonly details?: Record<string, unknown> | null | undefined;
}

/** The frame object type of one type code (QUEUE_BIND and QUEUE_UNBIND share one, for instance). */
type FrameOfCode<C> = Frame extends infer F ? (F extends { type: infer T } ? (C extends T ? F : never) : never) : never;

type FieldNames<L> = { [I in keyof L]: L[I] extends readonly [infer Name, unknown] ? Name : never };

type ArgsOf<F, Names> = Names extends readonly ['code', 'name', 'message', 'details', ...infer Rest]
  ? [err: ErrorLike, ...ArgsOf<F, Rest>]
  : Names extends readonly ['code', 'name', 'message', ...infer Rest]
    ? [err: ErrorLike, ...ArgsOf<F, Rest>]
    : Names extends readonly [infer Name, ...infer Rest]
      ? [Name extends keyof F ? F[Name] : never, ...ArgsOf<F, Rest>]
      : [];

/** The parameters of the typed send method for frame type N. */
export type SendArgs<N extends FrameTypeName> = [
  ...ArgsOf<FrameOfCode<(typeof FrameType)[N]>, FieldNames<FrameSchema[N]['header']>>,
  ...(FrameSchema[N]['body'] extends true ? [body: Buffer] : []),
];

/** OPEN_OK -> openOk, PUBLISH_NACK -> publishNack. */
export type SendMethodName<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<SendMethodName<Tail>>}`
  : Lowercase<S>;

export type FrameSends = { [N in FrameTypeName as SendMethodName<N>]: (...args: SendArgs<N>) => void };

export function sendMethodName(frameName: string): string {
  return frameName.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** What the generated methods need from their receiver. */
interface RawSender {
  runBeforeNextSend(): void;
  sendRaw(type: number, header: unknown[], body?: Buffer): void;
}

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9]*$/;
/** Slots that may hold an object of the caller's, cleared after the send. */
const OBJECT_KINDS: ReadonlySet<FieldKind> = new Set(['map/nil', 'options', 'properties/nil', 'credentials/nil', 'any']);

/**
 * Compiles the method for one frame type. For ERROR, for instance:
 *
 *   function sendError(requestId, err) {
 *     this.runBeforeNextSend();
 *     h[0] = requestId; h[1] = err.code; h[2] = err.name; h[3] = err.message; h[4] = err.details ?? null;
 *     this.sendRaw(T, h);
 *     h[4] = null;
 *   }
 *
 * Generated once from the constant schema (names checked to be identifiers):
 * a generic loop over `arguments` would cost an allocation per send.
 */
function compileSend(name: string, type: number, layout: FrameLayout): (this: RawSender, ...args: unknown[]) => void {
  const fields = layout.header;
  const params: string[] = [];
  const fills: string[] = [];
  const clears: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const [field, kind] = fields[i]!;
    if (!IDENTIFIER.test(field)) throw new Error(`frame schema: bad field name ${JSON.stringify(field)}`);
    if (field === 'code' && fields[i + 1]?.[0] === 'name' && fields[i + 2]?.[0] === 'message') {
      params.push('err');
      fills.push(`h[${i}] = err.code;`, `h[${i + 1}] = err.name;`, `h[${i + 2}] = err.message;`);
      i += 2;
      if (fields[i + 1]?.[0] === 'details') {
        i++;
        fills.push(`h[${i}] = err.details ?? null;`);
        clears.push(`h[${i}] = null;`);
      }
      continue;
    }
    const param = field === 'arguments' ? 'args' : field; // `arguments` cannot name a parameter
    params.push(param);
    fills.push(kind === 'any' ? `h[${i}] = ${param} ?? null;` : `h[${i}] = ${param};`);
    if (OBJECT_KINDS.has(kind)) clears.push(`h[${i}] = null;`);
  }
  if (layout.body) params.push('body');
  const source = [
    `'use strict'; return function send${name[0]!.toUpperCase()}${name.slice(1)}(${params.join(', ')}) {`,
    '  this.runBeforeNextSend();',
    ...fills.map((f) => '  ' + f),
    `  this.sendRaw(T, h${layout.body ? ', body' : ''});`,
    ...clears.map((c) => '  ' + c),
    '};',
  ].join('\n');
  const header = new Array<unknown>(fields.length).fill(null);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- compiled from the constant schema, see above
  return new Function('T', 'h', source)(type, header) as (this: RawSender, ...args: unknown[]) => void;
}

/** Adds the typed send methods to a class prototype that has runBeforeNextSend and sendRaw. */
export function installFrameSends(prototype: RawSender): void {
  for (const [frameName, layout] of Object.entries(FRAME_SCHEMA) as [FrameTypeName, FrameLayout][]) {
    const name = sendMethodName(frameName);
    Object.defineProperty(prototype, name, {
      value: compileSend(name, FrameType[frameName], layout),
      writable: true,
      configurable: true,
    });
  }
}
