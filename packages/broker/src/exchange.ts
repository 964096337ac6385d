import type { Arguments } from '@warren/protocol';
import { createMatcher, type BindingMatcher, type RoutableExchange } from './routing/index.js';
import type { Queue } from './queue.js';

export type ExchangeKind = 'direct' | 'fanout' | 'topic' | 'headers';

export interface ExchangeOptions {
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  alternateExchange: string | undefined;
  arguments: Arguments;
}

export type Destination = Exchange | Queue;

export class Exchange implements RoutableExchange<Queue> {
  readonly matcher: BindingMatcher<Destination>;
  /** Resolved from options.alternateExchange whenever exchanges change. */
  alternate: Exchange | null = null;
  /** Exchange-to-exchange bindings whose source is this exchange are in matcher; this counts bindings *to* it. */
  inbound = 0;

  constructor(
    readonly name: string,
    readonly type: ExchangeKind,
    readonly options: ExchangeOptions,
  ) {
    this.matcher = createMatcher<Destination>(type);
  }

  get durable(): boolean {
    return this.options.durable;
  }
}

export function isExchange(d: unknown): d is Exchange {
  return d instanceof Exchange;
}
