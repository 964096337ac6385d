/**
 * Message rates as the list and overview routes show them: the latest sample
 * of the broker's rate sampler (rates.ts, once a second).
 */
import type { Broker } from '../broker.js';
import type { Queue } from '../queue.js';
import type { GlobalRates, QueueRates } from '../rates.js';

export function queueRates(broker: Broker, q: Queue): QueueRates {
  return broker.rates.queueLatest(q);
}

export function globalRates(broker: Broker): GlobalRates {
  return broker.rates.latest();
}
