/**
 * Keeps a Connection linked: adopts each new link, notices when it drops,
 * schedules reconnect attempts with back-off, starts topology recovery on the
 * new link and opens it once recovery is done, or closes the connection for
 * good (close(), a non-retriable error, reconnect disabled, or retries used
 * up). Every state change goes through `linkTransition` (link.ts); what a
 * change means for publishes, consumers and status events is the owner's
 * (the Connection's) business, through the LinkOwner callbacks.
 */
import { WarrenError, type Frame, type OpenOkFrame } from '@warren/protocol';
import { ConnectionClosedError, closedErrorFor } from './errors.js';
import { openLink } from './handshake.js';
import { linkTransition, newLink, type Link, type LinkEvent, type LinkState } from './link.js';
import { backoffDelay, type ResolvedOptions } from './options.js';
import type { StatusEvent } from './status.js';
import type { Transport } from './transport.js';

export interface LinkOwner {
  readonly options: ResolvedOptions;
  /** close() was called. */
  readonly closing: boolean;
  /** A frame arrived on a link. */
  frame(link: Link, frame: Frame): void;
  /** Replays the topology on a new link: the dropped items' errors, or null when the link went away meanwhile. */
  recover(link: Link): Promise<WarrenError[] | null>;
  /** A link opens for publishes (first connect excepted: the owner attaches that one itself). */
  attached(link: Link): void;
  /** The open or recovering link was lost and will be replaced; `wasOpen`: it had finished recovering. */
  lost(err: WarrenError, failure: ConnectionClosedError, wasOpen: boolean): void;
  /** Closed for good: publishes fail first (before requests waiting for a link). */
  publishesFail(failure: ConnectionClosedError): void;
  /** Closed for good: what is left (consumers, the closed promise, status events). */
  closedForGood(err: WarrenError | undefined, failure: ConnectionClosedError): void;
  status(event: StatusEvent): void;
}

export class LinkKeeper {
  private linkState: LinkState = 'open';
  private link: Link | undefined;
  private lastOpenOkFrame: OpenOkFrame;
  private openWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private reconnectAttempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connectAbort: AbortController | undefined;
  private lastLinkError: WarrenError | undefined;
  private reason: WarrenError | undefined;

  /** Starts with the link of the first connect, open. */
  constructor(
    private readonly owner: LinkOwner,
    transport: Transport,
    openOk: OpenOkFrame,
  ) {
    this.lastOpenOkFrame = openOk;
    this.adopt(transport, openOk);
  }

  get state(): LinkState {
    return this.linkState;
  }

  /** The current link (open or recovering), if any. */
  get current(): Link | undefined {
    return this.link;
  }

  /** OPEN_OK of the current (or last) link. */
  get lastOpenOk(): OpenOkFrame {
    return this.lastOpenOkFrame;
  }

  /** Why the connection closed for good (undefined: a normal close, or not closed). */
  get closeReason(): WarrenError | undefined {
    return this.reason;
  }

  /** Resolves when a link is open (at once if it is); rejects if the connection closes for good first. */
  whenOpen(failure: () => WarrenError): Promise<void> {
    if (this.linkState === 'open') return Promise.resolve();
    if (this.linkState === 'closed') return Promise.reject(failure());
    return new Promise((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  /** Closed for good: the link is dropped, everything still waiting fails. */
  close(err: WarrenError | undefined): void {
    if (!this.move('closed')) return;
    this.reason = err;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.connectAbort?.abort();
    this.connectAbort = undefined;
    const failure = closedErrorFor(err, this.owner.closing);
    const link = this.link;
    if (link !== undefined) {
      this.link = undefined;
      link.session.open = false;
      link.requests.failAll(failure);
      link.transport.destroy(failure);
    }
    this.owner.publishesFail(failure);
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.reject(failure);
    this.owner.closedForGood(err, failure);
  }

  /** The one place the state changes: false (and no change) when `event` does not apply now. */
  private move(event: LinkEvent): boolean {
    const next = linkTransition(this.linkState, event);
    if (next === undefined) return false;
    this.linkState = next;
    return true;
  }

  private adopt(transport: Transport, openOk: OpenOkFrame): Link {
    const link = newLink(transport, openOk);
    this.link = link;
    this.lastOpenOkFrame = openOk;
    transport.setHandlers({ frame: (f) => this.owner.frame(link, f), close: (err) => this.onLinkClosed(link, err) });
    transport.setFrameMax(openOk.frameMax);
    transport.startHeartbeat(openOk.heartbeatMs);
    return link;
  }

  private onLinkClosed(link: Link, reason: WarrenError): void {
    if (link !== this.link) return;
    this.link = undefined;
    link.session.open = false;
    const wasOpen = this.linkState === 'open';
    const err = link.graceful ? undefined : reason;
    const failure = closedErrorFor(err, link.closeSent);
    link.requests.failAll(failure);
    if (this.linkState === 'closed') return;
    const retry = this.owner.options.reconnect !== false && !link.closeSent && err !== undefined && err.retriable;
    if (!retry) {
      if (wasOpen && err !== undefined && !link.closeSent) this.owner.status({ type: 'disconnected', error: err, willReconnect: false });
      this.close(err);
      return;
    }
    this.move('lost');
    this.lastLinkError = err;
    this.owner.lost(err, failure, wasOpen);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const policy = this.owner.options.reconnect;
    if (policy === false || this.linkState !== 'reconnecting') return;
    const attempt = ++this.reconnectAttempt;
    const last = this.lastLinkError ?? new ConnectionClosedError('connection lost');
    if (attempt > policy.maxRetries) {
      this.close(new ConnectionClosedError(`gave up reconnecting after ${attempt - 1} attempts: ${last.message}`, { cause: last }));
      return;
    }
    const delayMs = backoffDelay(attempt, policy);
    this.owner.status({ type: 'reconnecting', attempt, delayMs, error: last });
    if (this.linkState !== 'reconnecting') return; // a listener closed us
    this.reconnectTimer = setTimeout(() => this.attemptReconnect(), delayMs);
  }

  private attemptReconnect(): void {
    this.reconnectTimer = undefined;
    if (this.linkState !== 'reconnecting') return;
    const ac = new AbortController();
    this.connectAbort = ac;
    openLink(this.owner.options, ac.signal, (transport, openOk) => {
      this.connectAbort = undefined;
      const link = this.adopt(transport, openOk);
      this.move('attached');
      this.owner
        .recover(link)
        .then((recoveryErrors) => {
          if (recoveryErrors !== null) this.opened(link, recoveryErrors);
        })
        .catch((err: unknown) => {
          // A bug in recovery must not leave the connection half-open: drop the link and retry.
          link.transport.destroy(new ConnectionClosedError(`recovery failed: ${String(err)}`, { cause: err }));
        });
    }).then(undefined, (err: unknown) => {
      if (this.connectAbort === ac) this.connectAbort = undefined;
      if (this.linkState !== 'reconnecting') return;
      const e = err instanceof WarrenError ? err : new ConnectionClosedError(`reconnect failed: ${String(err)}`, { cause: err });
      this.lastLinkError = e;
      // Refused for good (bad credentials, unsupported version): retrying cannot help.
      if (!e.retriable) this.close(e);
      else this.scheduleReconnect();
    });
  }

  /** Recovery done: publishes flow again, waiting requests go out. */
  private opened(link: Link, recoveryErrors: WarrenError[]): void {
    if (this.link !== link || !this.move('recovered')) return;
    const attempts = this.reconnectAttempt;
    this.reconnectAttempt = 0;
    this.lastLinkError = undefined;
    this.owner.attached(link);
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const w of waiters) w.resolve();
    this.owner.status({ type: 'connected', connectionId: link.openOk.connectionId, reconnected: true, attempts, recoveryErrors });
  }
}
