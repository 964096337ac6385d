/**
 * What a topology request does in a vhost, whoever asks: the wire protocol's
 * handlers (handlers/topology.ts) and the management HTTP API
 * (http/routes/topology.ts, definitions import) call the same functions, so
 * the rules (AMQP's, in vhost.ts), stream creation and durable saving are in
 * one place. Each resolves once a durable change is saved.
 */
import type { Arguments, ExchangeDeclareOptions, QueueDeclareOptions, QueueDeclareResult } from '@warren/protocol';
import { errors } from './errors.js';
import { isStreamDeclaration, parseStreamDeclaration } from './streams/stream-arguments.js';
import type { VirtualHost } from './vhost.js';

export async function declareExchange(vhost: VirtualHost, name: string, type: string, options: ExchangeDeclareOptions): Promise<void> {
  if (vhost.declareExchange(name, type, options)) await vhost.topology.save();
}

export async function deleteExchange(vhost: VirtualHost, name: string, ifUnused: boolean): Promise<void> {
  if (vhost.deleteExchange(name, ifUnused)) await vhost.topology.save();
}

/** `owner`: the connection declaring (exclusive queues), or null (the HTTP API: no exclusive queues). */
export async function declareQueue(vhost: VirtualHost, name: string, options: QueueDeclareOptions, owner: object | null): Promise<QueueDeclareResult> {
  const streams = vhost.streams;
  // A stream is a queue declared with x-queue-type stream: checked first, its log opened before the topology is saved.
  const stream = !options.passive && isStreamDeclaration(options.arguments) ? parseStreamDeclaration(options) : null;
  if (stream !== null && streams === null) throw errors.preconditionFailed('streams need a data folder; this broker runs in memory');
  if (owner === null && options.exclusive === true) throw errors.invalidArgument('an exclusive queue belongs to a connection: declare it over one');
  const { result, created } = vhost.declareQueue(name, options, owner ?? NO_OWNER);
  if (created !== null && stream !== null) {
    try {
      await streams!.openStream(created.name, stream);
    } catch (err) {
      vhost.removeQueue(created, `stream '${created.name}' could not be created`);
      throw errors.storage(`stream '${created.name}' could not be created: ${(err as Error).message}`, err);
    }
  }
  if (created !== null) await vhost.topology.created(created);
  return result;
}

/** A declare without a connection never owns anything (exclusive queues are refused before). */
const NO_OWNER = Object.freeze({});

/** Returns the number of ready messages dropped. `owner` null: any queue, exclusive ones included (management). */
export async function deleteQueue(vhost: VirtualHost, name: string, options: { ifUnused?: boolean; ifEmpty?: boolean }, owner: object | null): Promise<number> {
  const { count, queue } = vhost.deleteQueue(name, options, owner);
  if (queue.isStream) await vhost.streams?.remove(queue.name);
  await vhost.topology.removed(queue);
  return count;
}

/** Returns the number of ready messages dropped. */
export function purgeQueue(vhost: VirtualHost, name: string, owner: object | null): number {
  const queue = vhost.queueFor(name, owner);
  if (queue.isStream) {
    throw errors.preconditionFailed(`'${name}' is a stream: it cannot be purged (retention, x-max-age or x-max-length-bytes, drops its oldest segments; or delete it)`);
  }
  return queue.purge();
}

export async function bindQueue(vhost: VirtualHost, queue: string, exchange: string, routingKey: string, args: Arguments | null, owner: object | null): Promise<void> {
  if (vhost.bindQueue(queue, exchange, routingKey, args, owner)) await vhost.topology.save();
}

export async function unbindQueue(vhost: VirtualHost, queue: string, exchange: string, routingKey: string, args: Arguments | null, owner: object | null): Promise<void> {
  if (vhost.unbindQueue(queue, exchange, routingKey, args, owner)) await vhost.topology.save();
}

export async function bindExchange(vhost: VirtualHost, destination: string, source: string, routingKey: string, args: Arguments | null): Promise<void> {
  if (vhost.bindExchange(destination, source, routingKey, args)) await vhost.topology.save();
}

export async function unbindExchange(vhost: VirtualHost, destination: string, source: string, routingKey: string, args: Arguments | null): Promise<void> {
  if (vhost.unbindExchange(destination, source, routingKey, args)) await vhost.topology.save();
}
