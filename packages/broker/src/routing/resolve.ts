/**
 * The routing walk from the exchange a message was published to, through
 * exchange-to-exchange bindings and alternate exchanges, to a set of queues.
 */
import type { BindingMatcher } from './matcher.js';

export interface RoutableExchange<Q> {
  readonly name: string;
  readonly matcher: BindingMatcher<RoutableExchange<Q> | Q>;
  /** The alternate exchange, resolved by the caller. */
  alternate: RoutableExchange<Q> | null;
}

/** Scratch state reused by every call: routing is synchronous and single-threaded. */
interface Walk {
  busy: boolean;
  readonly visited: Set<unknown>;
  readonly work: unknown[];
  readonly matched: Set<unknown>;
}

const newWalk = (): Walk => ({ busy: false, visited: new Set(), work: [], matched: new Set() });
const shared = newWalk();

/**
 * Adds to `out` every queue the message reaches from `start`.
 *
 * - Each exchange is matched with the same routing key and headers; matched
 *   exchanges are routed in turn. An exchange is visited at most once per
 *   message (the start included), so cycles terminate; a queue reached by
 *   several paths is in `out` once.
 * - Alternate exchange rule (as rabbit_exchange:process_alternate/2): an
 *   exchange's alternate is routed to iff that exchange's OWN matching found
 *   no destination at all, neither queue nor exchange. Matching only
 *   exchanges that were already visited, or that route nowhere themselves,
 *   counts as a match and does not trigger it. The alternate is an ordinary
 *   visit: at most once, and its own alternate applies the same rule.
 */
export function route<Q>(
  start: RoutableExchange<Q>,
  routingKey: string,
  headers: Record<string, unknown> | undefined,
  isExchange: (d: unknown) => d is RoutableExchange<Q>,
  out: Set<Q>,
): void {
  // Only a re-entrant call (from isExchange) pays for fresh scratch state.
  const walk = shared.busy ? newWalk() : shared;
  walk.busy = true;
  const { visited, work, matched } = walk;
  try {
    visited.add(start);
    work.push(start);
    let x: RoutableExchange<Q> | undefined;
    while ((x = work.pop() as RoutableExchange<Q> | undefined) !== undefined) {
      matched.clear();
      x.matcher.match(routingKey, headers, matched as Set<RoutableExchange<Q> | Q>);
      if (matched.size === 0) {
        const alt = x.alternate;
        if (alt !== null && !visited.has(alt)) {
          visited.add(alt);
          work.push(alt);
        }
        continue;
      }
      for (const d of matched) {
        if (!isExchange(d)) out.add(d as Q);
        else if (!visited.has(d)) {
          visited.add(d);
          work.push(d);
        }
      }
    }
  } finally {
    // Clearing here (not on entry) also releases references to queues and exchanges.
    visited.clear();
    matched.clear();
    work.length = 0;
    walk.busy = false;
  }
}
