/**
 * Message rates as the list and overview routes show them, read from the
 * broker's rate sampler (rates.ts, sampled once a second) when it has one.
 */
import type { Broker } from '../broker.js';
import type { Queue } from '../queue.js';

export interface QueueRatesView {
  published: number;
  delivered: number;
  acked: number;
}

export interface GlobalRatesView extends QueueRatesView {
  redelivered: number;
  returned: number;
  deadLettered: number;
}

interface Sampler {
  latest(): GlobalRatesView;
  queueLatest(q: Queue): QueueRatesView;
}

function samplerOf(broker: Broker): Sampler | undefined {
  return (broker as unknown as { rates?: Sampler }).rates;
}

const ZERO_QUEUE: QueueRatesView = Object.freeze({ published: 0, delivered: 0, acked: 0 });

export function queueRates(broker: Broker, q: Queue): QueueRatesView {
  return samplerOf(broker)?.queueLatest(q) ?? ZERO_QUEUE;
}

export function globalRates(broker: Broker): GlobalRatesView {
  return samplerOf(broker)?.latest() ?? { published: 0, delivered: 0, acked: 0, redelivered: 0, returned: 0, deadLettered: 0 };
}
