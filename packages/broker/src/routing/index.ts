/** Exchange routing: one BindingMatcher per exchange type, and the walk across exchanges. */
import { errors } from '../errors.js';
import { DirectMatcher } from './direct.js';
import { FanoutMatcher } from './fanout.js';
import { HeadersMatcher } from './headers.js';
import type { BindingMatcher } from './matcher.js';
import { TopicMatcher } from './topic.js';

export { BaseMatcher, DestSet, canonicalArguments } from './matcher.js';
export type { Binding, BindingArguments, BindingMatcher } from './matcher.js';
export { DirectMatcher } from './direct.js';
export { FanoutMatcher } from './fanout.js';
export { TopicMatcher, splitTopicKey } from './topic.js';
export { HeadersMatcher, parseXMatch, sameValue, type XMatch } from './headers.js';
export { route, type RoutableExchange } from './resolve.js';

export const EXCHANGE_TYPES = ['direct', 'fanout', 'topic', 'headers'] as const;
export type ExchangeType = (typeof EXCHANGE_TYPES)[number];

export function isExchangeType(s: unknown): s is ExchangeType {
  return s === 'direct' || s === 'fanout' || s === 'topic' || s === 'headers';
}

/** A routing table for an exchange of the given type; INVALID_ARGUMENT for an unknown type. */
export function createMatcher<D>(type: ExchangeType): BindingMatcher<D> {
  switch (type) {
    case 'direct':
      return new DirectMatcher<D>();
    case 'fanout':
      return new FanoutMatcher<D>();
    case 'topic':
      return new TopicMatcher<D>();
    case 'headers':
      return new HeadersMatcher<D>();
  }
  // Reached when an unchecked string comes from the wire.
  throw errors.invalidArgument(`unknown exchange type ${JSON.stringify(String(type))}`);
}
