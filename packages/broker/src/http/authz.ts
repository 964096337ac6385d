/**
 * Who is calling the management HTTP API, and what they may do: HTTP Basic
 * credentials checked by broker.access (the same users, passwords, tags and
 * permissions as the wire protocol; access.ts).
 *
 *  - administrator: everything;
 *  - monitoring: sees every vhost's lists, users and permissions; changes only what its permissions allow;
 *  - management: sees the vhosts it has permissions in; changes what its permissions allow;
 *  - no tag: 403 on every /api route.
 *
 * Resource checks are the wire protocol's: declare/delete = configure,
 * publish = write on the exchange, purge/browse = read on the queue, bind =
 * write on the destination + read on the source (authorizer.ts CHECKS).
 * Users, vhosts, permissions, limits and definitions need the administrator
 * tag (monitoring may list users, vhosts and permissions).
 *
 * A failed login says nothing about why: the same 401 for an unknown user and
 * a wrong password, after the broker's auth failure delay; the reason goes
 * to the log (without the password).
 */
import type { IncomingMessage } from 'node:http';
import { WarrenError, ErrorCodes } from '@warren/protocol';
import type { Access, PermissionKind } from '../access.js';
import { errors } from '../errors.js';

/** A caller of the HTTP API (or the anonymous one on routes without auth). */
export class HttpUser {
  constructor(
    readonly name: string,
    private readonly access: Access | null,
  ) {}

  /** The user's tags now (changes apply to the next request). */
  get tags(): string[] {
    return [...(this.access?.tagsOf(this.name) ?? [])];
  }

  private has(tag: string): boolean {
    return this.access?.tagsOf(this.name)?.has(tag) ?? false;
  }

  get anonymous(): boolean {
    return this.access === null;
  }
  get isAdmin(): boolean {
    return this.has('administrator');
  }
  get isMonitoring(): boolean {
    return this.has('monitoring');
  }
  get isManagement(): boolean {
    return this.has('management');
  }
  /** Any of the tags that open the API. */
  get tagged(): boolean {
    return this.isAdmin || this.isMonitoring || this.isManagement;
  }

  /** Whether the user sees a vhost's lists: administrator, monitoring, or management with permissions there. */
  canSee(vhost: string): boolean {
    if (this.isAdmin || this.isMonitoring) return true;
    return this.isManagement && this.access!.permissionsFor(this.name, vhost) !== null;
  }

  /** ACCESS_REFUSED (403) unless canSee(vhost). */
  requireSee(vhost: string): void {
    if (!this.canSee(vhost)) throw errors.accessRefused(`user '${this.name}' may not see vhost '${vhost}': needs the monitoring tag, or management with permissions there`);
  }

  /** Every list and status of the whole broker (overview totals, connections of all users). */
  get seesAll(): boolean {
    return this.isAdmin || this.isMonitoring;
  }

  /** Whether the user may do `kind` on a resource of a vhost (the wire protocol's rule: administrator, or the permission). */
  may(vhost: string, kind: PermissionKind, resource: string): boolean {
    return this.access?.may(this.name, vhost, kind, resource) ?? false;
  }

  /** ACCESS_REFUSED (403) unless may(); `what` names the resource in the message ("queue 'q'"). */
  require(vhost: string, kind: PermissionKind, what: 'exchange' | 'queue' | 'bucket', resource: string, action: string): void {
    if (!this.may(vhost, kind, resource)) {
      throw errors.accessRefused(`user '${this.name}' may not ${action} ${what} '${resource}' in vhost '${vhost}': no ${kind} permission`);
    }
  }

  /** ACCESS_REFUSED (403) unless administrator. */
  requireAdmin(action: string): void {
    if (!this.isAdmin) throw errors.accessRefused(`user '${this.name}' may not ${action}: needs the administrator tag`);
  }

  /** Administrator or monitoring (reading users, permissions, limits of everyone). */
  requireMonitor(action: string): void {
    if (!this.seesAll) throw errors.accessRefused(`user '${this.name}' may not ${action}: needs the administrator or monitoring tag`);
  }
}

export const ANONYMOUS = new HttpUser('', null);

/** `Authorization: Basic ...` decoded; null when absent or not Basic. */
export function basicCredentials(req: IncomingMessage): { username: string; password: string } | null {
  const header = req.headers.authorization;
  if (header === undefined) return null;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (m === null) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return null;
  return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

/** The 401 of a missing or refused login: one message whatever the reason. */
export class Unauthenticated extends WarrenError {
  constructor(message = 'authentication required: HTTP Basic credentials of a Warren user') {
    super(ErrorCodes.ACCESS_REFUSED, message);
  }
}

export interface AuthOutcome {
  user: HttpUser;
}

/**
 * Checks the request's Basic credentials. Throws Unauthenticated (401) when
 * missing or refused (after `failureDelayMs`), RESOURCE_LIMIT (429) when the
 * login gate sheds this address.
 */
export async function authenticate(
  req: IncomingMessage,
  access: Access,
  failureDelayMs: number,
  log: (reason: string, username: string) => void,
): Promise<HttpUser> {
  const creds = basicCredentials(req);
  if (creds === null) throw new Unauthenticated();
  const result = await access.authenticate(creds.username, creds.password, req.socket.remoteAddress);
  if (result.ok) return new HttpUser(creds.username, access);
  log(result.logReason, creds.username);
  if (result.shed) throw errors.resourceLimit('too many failed logins from this address: try again later');
  if (failureDelayMs > 0) await new Promise((r) => setTimeout(r, failureDelayMs));
  throw new Unauthenticated('login refused');
}
