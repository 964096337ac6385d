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

  it('fills in guest/guest, 127.0.0.1 and 5680', () => {
    expect(parseUrl('warren://')).toEqual({ host: '127.0.0.1', port: 5680, username: 'guest', password: 'guest', vhost: '/' });
    expect(parseUrl('warren://example.org')).toEqual({ host: 'example.org', port: 5680, username: 'guest', password: 'guest', vhost: '/' });
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

  it('validates numbers', () => {
    expect(() => resolveOptions({ publishWindow: 0 })).toThrow(WarrenError);
    expect(() => resolveOptions({ heartbeatMs: -1 })).toThrow(WarrenError);
    expect(() => resolveOptions({ frameMax: 100 })).toThrow(WarrenError);
    expect(() => resolveOptions({ port: 70000 })).toThrow(WarrenError);
  });
});
