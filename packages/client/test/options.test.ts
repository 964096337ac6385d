import { describe, expect, it } from 'vitest';
import { ErrorCodes, WarrenError } from '@warren/protocol';
import { parseUrl, resolveOptions } from '../src/options.js';

describe('parseUrl', () => {
  it('reads every part', () => {
    expect(parseUrl('warren://alice:s3cret@broker.example:7000/prod')).toEqual({
      host: 'broker.example',
      port: 7000,
      username: 'alice',
      password: 's3cret',
      vhost: 'prod',
      tls: false,
      hasUser: true,
    });
  });

  it('reads the vhost from the path, percent-decoded; none, / and %2F are the default vhost', () => {
    expect(parseUrl('warren://h').vhost).toBe('/');
    expect(parseUrl('warren://h/').vhost).toBe('/');
    expect(parseUrl('warren://h/%2F').vhost).toBe('/');
    expect(parseUrl('warren://h:1/a%2Fb').vhost).toBe('a/b');
    expect(parseUrl('warren://h/caf%C3%A9 eu').vhost).toBe('café eu');
    expect(resolveOptions('warren://h/prod').vhost).toBe('prod');
    expect(resolveOptions({ url: 'warren://h/prod', vhost: 'test' }).vhost).toBe('test');
    expect(resolveOptions({}).vhost).toBe('/');
  });

  it('warrens:// is TLS, on 5681 by default', () => {
    expect(parseUrl('warrens://mq.example')).toEqual({ host: 'mq.example', port: 5681, username: 'guest', password: 'guest', vhost: '/', tls: true, hasUser: false });
    expect(parseUrl('warrens://mq.example:9999').port).toBe(9999);
  });

  it('reads ?mechanism=plain|external, refusing others', () => {
    expect(parseUrl('warrens://h?mechanism=external').mechanism).toBe('EXTERNAL');
    expect(parseUrl('warrens://h?mechanism=PLAIN').mechanism).toBe('PLAIN');
    expect(() => parseUrl('warrens://h?mechanism=scram')).toThrow(/mechanism must be one of/);
  });

  it('fills in guest/guest, 127.0.0.1 and 5680', () => {
    expect(parseUrl('warren://')).toEqual({ host: '127.0.0.1', port: 5680, username: 'guest', password: 'guest', vhost: '/', tls: false, hasUser: false });
    expect(parseUrl('warren://example.org')).toEqual({ host: 'example.org', port: 5680, username: 'guest', password: 'guest', vhost: '/', tls: false, hasUser: false });
  });

  it('percent-decodes user and password', () => {
    const u = parseUrl('warren://us%40er:p%3Aa%2Fss%20w@h:1');
    expect(u.username).toBe('us@er');
    expect(u.password).toBe('p:a/ss w');
  });

  it('a user without a password gets an empty password', () => {
    expect(parseUrl('warren://bob@h').password).toBe('');
  });

  it('strips IPv6 brackets', () => {
    expect(parseUrl('warren://[::1]:5999').host).toBe('::1');
  });

  it('rejects other schemes and garbage with INVALID_ARGUMENT', () => {
    for (const bad of ['amqp://h', 'not a url', 'warren://u:%zz@h', 'warren://h/a/b', 'warren://h/%zz']) {
      let err: unknown;
      try {
        parseUrl(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(WarrenError);
      expect((err as WarrenError).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
  });
});

describe('resolveOptions', () => {
  it('applies defaults', () => {
    const o = resolveOptions(undefined);
    expect(o).toMatchObject({ host: '127.0.0.1', port: 5680, username: 'guest', password: 'guest', heartbeatMs: 30000, timeoutMs: 10000, publishWindow: 1000 });
  });

  it('explicit fields override the URL', () => {
    const o = resolveOptions({ url: 'warren://a:b@h:1', port: 2, password: 'c' });
    expect(o).toMatchObject({ host: 'h', port: 2, username: 'a', password: 'c' });
  });

  it('TLS: from warrens:// or the tls option (Node options passed through), on 5681 unless a port is given', () => {
    expect(resolveOptions({ url: 'warren://h' }).tls).toBeUndefined();
    expect(resolveOptions({ url: 'warrens://h' })).toMatchObject({ tls: {}, port: 5681 });
    expect(resolveOptions({ host: 'h', tls: true })).toMatchObject({ tls: {}, port: 5681 });
    const tls = { ca: 'PEM', servername: 'mq.example', rejectUnauthorized: true };
    expect(resolveOptions({ url: 'warrens://h:7000', tls }).tls).toBe(tls);
    expect(resolveOptions({ url: 'warrens://h', tls: false }).tls).toBeUndefined();
    expect(() => resolveOptions({ tls: { port: 1 } as never })).toThrow(/tls.port is not allowed/);
  });

  it('EXTERNAL: needs TLS, sends no password, and a username only when one is given', () => {
    expect(resolveOptions({ url: 'warrens://h?mechanism=external' })).toMatchObject({ mechanism: 'EXTERNAL', username: '', password: '' });
    expect(resolveOptions({ url: 'warrens://app@h', mechanism: 'EXTERNAL' })).toMatchObject({ mechanism: 'EXTERNAL', username: 'app', password: '' });
    expect(resolveOptions({ url: 'warrens://h' }).mechanism).toBe('PLAIN');
    expect(() => resolveOptions({ url: 'warren://h', mechanism: 'EXTERNAL' })).toThrow(/EXTERNAL needs TLS/);
  });

  it('validates numbers', () => {
    expect(() => resolveOptions({ publishWindow: 0 })).toThrow(WarrenError);
    expect(() => resolveOptions({ heartbeatMs: -1 })).toThrow(WarrenError);
    expect(() => resolveOptions({ frameMax: 100 })).toThrow(WarrenError);
    expect(() => resolveOptions({ port: 70000 })).toThrow(WarrenError);
  });
});
