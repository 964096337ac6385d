/**
 * What this connection has declared and subscribed, in one place, so that a
 * reconnect can replay it in dependency order: exchanges, queues, exchange
 * bindings, queue bindings, then consumers. Updated only after the server
 * confirmed a change; deletions remove the entity and every binding that
 * mentions it. Passive declares change nothing and are not recorded.
 */
import type { Arguments, ExchangeDeclareOptions, ExchangeType, FrameWriter, QueueDeclareOptions } from '@warren/protocol';
import type { Consumer } from './consumer.js';
import { asRecord } from './replies.js';

export interface ExchangeRecord {
  name: string;
  type: ExchangeType;
  options: ExchangeDeclareOptions;
}
export interface QueueRecord {
  name: string;
  options: QueueDeclareOptions;
  /** Declared with an empty name: a reconnect must re-declare it and learn the new name. */
  serverNamed: boolean;
}
export interface BindingRecord {
  kind: 'queue' | 'exchange';
  destination: string;
  source: string;
  routingKey: string;
  arguments: Arguments | null;
}

export class Topology {
  readonly exchanges = new Map<string, ExchangeRecord>();
  readonly queues = new Map<string, QueueRecord>();
  readonly bindings = new Map<string, BindingRecord>();
  /** Live consumers by tag; also the routing table for DELIVER. */
  readonly consumers = new Map<string, Consumer>();

  exchangeDeclared(name: string, type: ExchangeType, options: ExchangeDeclareOptions): void {
    if (options.passive === true) return;
    this.exchanges.set(name, { name, type, options });
  }

  exchangeDeleted(name: string): void {
    this.exchanges.delete(name);
    for (const [key, b] of this.bindings) {
      if (b.source === name || (b.kind === 'exchange' && b.destination === name)) this.bindings.delete(key);
    }
  }

  queueDeclared(name: string, options: QueueDeclareOptions, serverNamed: boolean): void {
    if (options.passive === true) return;
    this.queues.set(name, { name, options, serverNamed });
  }

  queueDeleted(name: string): void {
    this.queues.delete(name);
    for (const [key, b] of this.bindings) {
      if (b.kind === 'queue' && b.destination === name) this.bindings.delete(key);
    }
  }

  /**
   * A server-named queue came back under a new name: the record and every
   * queue binding that pointed at the old name follow it.
   */
  queueRenamed(oldName: string, newName: string): void {
    const record = this.queues.get(oldName);
    if (record === undefined) return;
    this.queues.delete(oldName);
    this.queues.set(newName, { ...record, name: newName });
    const renamed: BindingRecord[] = [];
    for (const [key, b] of this.bindings) {
      if (b.kind === 'queue' && b.destination === oldName) {
        this.bindings.delete(key);
        renamed.push({ ...b, destination: newName });
      }
    }
    for (const b of renamed) this.bound(b);
  }

  bound(binding: BindingRecord): void {
    this.bindings.set(bindingKey(binding), binding);
  }

  unbound(binding: BindingRecord): void {
    this.bindings.delete(bindingKey(binding));
  }

  /** A server-named queue got a new name: the record, its bindings and its consumers follow it. */
  queueRenamedWithConsumers(oldName: string, newName: string): void {
    this.queueRenamed(oldName, newName);
    for (const c of this.consumers.values()) if (c.queue === oldName) c.renameQueue(newName);
  }

  /** The server may answer CONSUME with another tag than asked for; the consumer follows it. */
  consumeConfirmed(consumer: Consumer, result: unknown): void {
    const r = typeof result === 'string' ? { consumerTag: result } : asRecord(result);
    if (typeof r.consumerTag === 'string' && r.consumerTag !== consumer.tag && this.consumers.get(consumer.tag) === consumer) {
      this.consumers.delete(consumer.tag);
      this.consumers.set(r.consumerTag, consumer);
      consumer.retag(r.consumerTag);
    }
  }
}

/** The request that makes (`bind`) or removes a binding: QUEUE_(UN)BIND or EXCHANGE_(UN)BIND by its kind. */
export function sendBinding(w: FrameWriter, bind: boolean, b: BindingRecord, requestId: number): void {
  if (b.kind === 'queue') {
    if (bind) w.queueBind(requestId, b.destination, b.source, b.routingKey, b.arguments);
    else w.queueUnbind(requestId, b.destination, b.source, b.routingKey, b.arguments);
  } else if (bind) w.exchangeBind(requestId, b.destination, b.source, b.routingKey, b.arguments);
  else w.exchangeUnbind(requestId, b.destination, b.source, b.routingKey, b.arguments);
}

function bindingKey(b: BindingRecord): string {
  return JSON.stringify([b.kind, b.destination, b.source, b.routingKey, b.arguments ?? null]);
}
