/**
 * Reading request bodies and looking things up for the route modules: each
 * wrong field is a 400 INVALID_ARGUMENT naming it, each missing vhost a 404.
 */
import type { Arguments } from '@warren/protocol';
import { errors } from '../errors.js';
import type { VirtualHost } from '../vhost.js';
import type { Vhosts } from '../vhosts.js';
import type { ApiRequest } from './router.js';

export type Body = Record<string, unknown>;

/** The request body as a JSON object ({} when empty); `maxNesting` as in ApiRequest.json. */
export async function objectBody(req: ApiRequest, maxNesting?: number): Promise<Body> {
  const body = await req.json(maxNesting);
  if (body === undefined) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw errors.invalidArgument('the request body must be a JSON object');
  return body as Body;
}

export function optString(body: Body, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw errors.invalidArgument(`'${key}' must be a string`);
  return v;
}

export function reqString(body: Body, key: string): string {
  const v = optString(body, key);
  if (v === undefined) throw errors.invalidArgument(`'${key}' is required (a string)`);
  return v;
}

export function optBool(body: Body, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw errors.invalidArgument(`'${key}' must be true or false`);
  return v;
}

export function optObject(body: Body, key: string): Record<string, unknown> | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw errors.invalidArgument(`'${key}' must be a JSON object`);
  return v as Record<string, unknown>;
}

export function optArguments(body: Body, key = 'arguments'): Arguments | undefined {
  return optObject(body, key) as Arguments | undefined;
}

/** A vhost by name: 404 NOT_FOUND when there is none. */
export function vhostOf(vhosts: Vhosts, name: string): VirtualHost {
  const v = vhosts.get(name);
  if (v === undefined) throw errors.notFound(`vhost '${name}'`);
  return v;
}

/** A queue of a vhost: 404 when there is none (exclusive queues included: management sees every one). */
export function queueOf(vhost: VirtualHost, name: string) {
  const q = vhost.queues.get(name);
  if (q === undefined) throw errors.notFound(`queue '${name}' in vhost '${vhost.name}'`);
  return q;
}

/** The exchange name in a path: `amq.default` stands for the default exchange ''. */
export function exchangeName(param: string): string {
  return param === 'amq.default' ? '' : param;
}

/** The default exchange's name as paths and permissions show it. */
export function shownExchange(name: string): string {
  return name === '' ? 'amq.default' : name;
}
