/**
 * What this connection has declared and subscribed, in one place, so that a
 * reconnect can replay it in dependency order: exchanges, queues, exchange
 * bindings, queue bindings, then consumers. Updated only after the server
 * confirmed a change; deletions remove the entity and every binding that
 * mentions it. Passive declares change nothing and are not recorded.
 */
import type { Arguments, ExchangeDeclareOptions, ExchangeType, QueueDeclareOptions } from '@warren/protocol';
import type { Consumer } from './consumer.js';

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
}

function bindingKey(b: BindingRecord): string {
  return JSON.stringify([b.kind, b.destination, b.source, b.routingKey, b.arguments ?? null]);
}
