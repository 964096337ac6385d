/**
 * The dispatch table: which handler answers which frame type, for every frame
 * a client sends once the connection is open (requests, PUBLISH, ACK, NACK,
 * REJECT). The connection looks the frame up here and answers with what the
 * handler returns; handlers never write to the socket.
 *
 * Each concern registers its handlers from its own module (handlers/*.ts; a
 * new concern adds its register function to handlers/index.ts). Each entry
 * names the access it needs, for the authorisation hook: the broker sets
 * access.ts's Authorizer; with none set (a bare table in tests) the handlers
 * run unwrapped.
 */
import type { Frame } from '@warren/protocol';
import type { BrokerServices } from './services.js';
import type { Session } from './session.js';

/** The frame object parsed for frame type T. */
export type FrameOf<T extends number> = Frame extends infer F ? (F extends { type: infer U } ? (T extends U ? F : never) : never) : never;

/** How the connection answers what a handler returns (or throws). */
export const Answer = {
  /**
   * A request: the result goes back in OK with the request id (a
   * PulledMessage as GET_OK; an AfterReply's work runs after the OK); a
   * thrown WarrenError goes back in ERROR with the request id.
   */
  Reply: 0,
  /** PUBLISH: the result is a PublishOutcome; a thrown WarrenError nacks the publish. */
  Publish: 1,
  /** No reply (ACK, NACK, REJECT); a thrown WarrenError goes back in ERROR with id 0. */
  None: 2,
} as const;
export type Answer = (typeof Answer)[keyof typeof Answer];

/** What a PUBLISH handler returns. */
export const PublishOutcome = {
  /** Routed and held in memory only (or routed nowhere): confirm now. */
  Confirmed: 0,
  /** Routed nowhere and mandatory: send it back in RETURN, then confirm. */
  Returned: 1,
  /** A durable write is under way: the session's stored() confirms or nacks it later. */
  Storing: 2,
} as const;
export type PublishOutcome = (typeof PublishOutcome)[keyof typeof PublishOutcome];

/**
 * What a frame does, as permissions see it: RabbitMQ's configure (declare,
 * delete), write (publish, bind to), read (consume, get, bind from), plus
 * monitor for the management lists and status, and administer for managing
 * users, permissions and limits (the administrator tag; access.ts).
 */
export type Access = 'configure' | 'write' | 'read' | 'monitor' | 'administer';

export type Handler<F extends Frame = Frame> = (frame: F, session: Session, broker: BrokerServices) => unknown;

/** Decides whether a session may do what a frame asks; throws (ACCESS_REFUSED) when not. */
export interface Authorizer {
  authorize(session: Session, frame: Frame, access: Access): void;
}

export interface HandlerEntry {
  readonly type: number;
  readonly answer: Answer;
  readonly access: Access;
  /**
   * The frame adds data the way a publish does (KV_PUT): its connection counts
   * as a publisher, blocked by the memory and disk alarms (FLOW, spec 6.5).
   */
  readonly publishes: boolean;
  /** The handler as registered. */
  readonly handler: Handler;
  /** What the connection calls: the handler, behind the authorizer when one is set. */
  handle: Handler;
}

/** A reply that is not OK: the handler's own reply frame (KV_GET's KV_ENTRY), sent with the request id. */
export class FrameReply {
  constructor(readonly send: (requestId: number) => void) {}
}

/**
 * A request handler's result meaning: answered elsewhere. The handler's session sends the
 * request's OK or ERROR itself, later or already (a KV_PUT answered once its record is
 * synced, kv-session.ts); the connection sends nothing for it.
 */
export const ANSWERED: unique symbol = Symbol('answered by the session');

/**
 * A reply followed by work that must come after it on the wire (a CONSUME's first deliveries).
 * The work is not called `then`: an async handler resolving to a thenable would have it run
 * by the promise machinery instead of being answered.
 */
export class AfterReply {
  constructor(
    readonly result: unknown,
    readonly afterwards: () => void,
  ) {}
}

export class DispatchTable {
  private readonly entries: Array<HandlerEntry | undefined> = new Array<HandlerEntry | undefined>(256).fill(undefined);
  private authorizer: Authorizer | null = null;

  /** `publishes`: see HandlerEntry (PUBLISH itself always counts). */
  register<T extends Frame['type']>(type: T, answer: Answer, access: Access, handler: Handler<FrameOf<T>>, publishes = false): void {
    if (this.entries[type] !== undefined) throw new Error(`frame type 0x${type.toString(16)} already has a handler`);
    const entry: HandlerEntry = { type, answer, access, publishes: publishes || answer === Answer.Publish, handler: handler as Handler, handle: handler as Handler };
    this.guard(entry);
    this.entries[type] = entry;
  }

  /** The entry for a frame type, or undefined when clients may not send it. */
  get(type: number): HandlerEntry | undefined {
    return this.entries[type];
  }

  /** Puts every handler, present and future, behind this authorizer (null: none). */
  setAuthorizer(authorizer: Authorizer | null): void {
    this.authorizer = authorizer;
    for (const entry of this.entries) if (entry !== undefined) this.guard(entry);
  }

  private guard(entry: HandlerEntry): void {
    const auth = this.authorizer;
    const { handler, access } = entry;
    entry.handle =
      auth === null
        ? handler
        : (frame, session, broker) => {
            auth.authorize(session, frame, access);
            return handler(frame, session, broker);
          };
  }
}
