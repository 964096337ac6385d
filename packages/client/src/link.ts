/**
 * A link is one socket's worth of connection state (transport, request table,
 * delivery-tag session, what OPEN_OK negotiated); the Connection outlives its
 * links. The connection's link state moves only through `linkTransition`:
 *
 *   open ──lost──▶ reconnecting ──attached──▶ recovering ──recovered──▶ open
 *     ▲                                          │
 *     └──────────────────────────────────────────┘ (lost: back to reconnecting)
 *   any state ──closed──▶ closed (for good)
 *
 * 'open': usable. 'recovering': a new link is up and the topology is being
 * replayed; user requests and publishes wait. 'reconnecting': no link; the
 * next attempt is scheduled. 'closed': for good.
 */
import type { FrameWriter, OpenOkFrame } from '@warren/protocol';
import { RequestTable } from './requests.js';
import { Session } from './session.js';
import type { Transport } from './transport.js';

export type LinkState = 'open' | 'recovering' | 'reconnecting' | 'closed';
/** lost: the link dropped and will be replaced; attached: a new link opened; recovered: its topology is replayed; closed: for good. */
export type LinkEvent = 'lost' | 'attached' | 'recovered' | 'closed';

const transitions: Readonly<Record<LinkState, Partial<Record<LinkEvent, LinkState>>>> = {
  open: { lost: 'reconnecting', closed: 'closed' },
  recovering: { lost: 'reconnecting', recovered: 'open', closed: 'closed' },
  reconnecting: { attached: 'recovering', closed: 'closed' },
  closed: {},
};

/** The state after `event`, or undefined when the event does not apply in `state` (the caller then does nothing). */
export function linkTransition(state: LinkState, event: LinkEvent): LinkState | undefined {
  return transitions[state][event];
}

/** One socket's worth of state. */
export interface Link {
  readonly transport: Transport;
  readonly session: Session;
  readonly requests: RequestTable;
  readonly openOk: OpenOkFrame;
  /** We sent CLOSE on it. */
  closeSent: boolean;
  /** It ended by a normal close handshake. */
  graceful: boolean;
}

export function newLink(transport: Transport, openOk: OpenOkFrame): Link {
  return { transport, session: new Session(transport.writer), requests: new RequestTable(), openOk, closeSent: false, graceful: false };
}

/** Sends a request frame with the id it was given. */
export type SendRequest = (writer: FrameWriter, requestId: number) => void;

/** Starts a request on a link: registers it, sends its frame, and returns its reply's promise. */
export function sendRequest<T>(link: Link, send: SendRequest, map: (reply: unknown) => T): Promise<T> {
  const { id, promise } = link.requests.start(map);
  send(link.transport.writer, id);
  return promise;
}
