import { describe, it, expect } from 'vitest';
import { ErrorCodes, errorNameOf, errors, ProtocolError, WarrenError } from '@warren/protocol';

describe('error catalogue', () => {
  it('codes are unique and errorNameOf maps each code back to its name', () => {
    const entries = Object.entries(ErrorCodes);
    expect(new Set(entries.map(([, code]) => code)).size).toBe(entries.length);
    for (const [name, code] of entries) expect(errorNameOf(code)).toBe(name);
  });

  it('errorNameOf is undefined for codes outside the catalogue', () => {
    for (const code of [0, 200, 999, -1, 1.5]) expect(errorNameOf(code)).toBeUndefined();
  });

  it('a WarrenError carries code, stable name, retriable, details and cause', () => {
    const cause = new Error('disk');
    const e = new WarrenError(ErrorCodes.STORAGE_ERROR, 'write failed', { cause, details: { queue: 'q' } });
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe(542);
    expect(e.name).toBe('STORAGE_ERROR');
    expect(e.message).toBe('write failed');
    expect(e.retriable).toBe(true);
    expect(e.details).toEqual({ queue: 'q' });
    expect(e.cause).toBe(cause);
    expect(new WarrenError(999, 'from a newer server').name).toBe('UNKNOWN_ERROR');
  });

  it('exactly CONNECTION_FORCED, TIMEOUT, RESOURCE_LIMIT and STORAGE_ERROR are retriable', () => {
    const retriable = Object.entries(ErrorCodes)
      .filter(([, code]) => new WarrenError(code, '').retriable)
      .map(([name]) => name);
    expect(retriable.sort()).toEqual(['CONNECTION_FORCED', 'RESOURCE_LIMIT', 'STORAGE_ERROR', 'TIMEOUT']);
  });
});

describe('instanceof branding', () => {
  it('ProtocolError is a WarrenError; a plain WarrenError is not a ProtocolError', () => {
    const p = new ProtocolError(ErrorCodes.FRAME_ERROR, 'bad');
    expect(p instanceof WarrenError).toBe(true);
    expect(p instanceof ProtocolError).toBe(true);
    expect(new WarrenError(ErrorCodes.NOT_FOUND, 'x') instanceof ProtocolError).toBe(false);
  });

  it('plain errors and look-alikes without the brand are not WarrenErrors', () => {
    expect(new Error('x') instanceof WarrenError).toBe(false);
    expect({ code: 404, name: 'NOT_FOUND' } instanceof WarrenError).toBe(false);
    expect((null as unknown) instanceof WarrenError).toBe(false);
    expect(('NOT_FOUND' as unknown) instanceof WarrenError).toBe(false);
  });

  it('errors from a duplicated copy of the package are still WarrenErrors', async () => {
    // The query string makes the bundler load a second, independent module instance.
    // @ts-expect-error TypeScript cannot resolve a module specifier with a query string
    const copy = (await import('../src/errors.ts?duplicate')) as typeof import('../src/errors.js');
    expect(copy.WarrenError).not.toBe(WarrenError);
    expect(new copy.WarrenError(ErrorCodes.NOT_FOUND, 'x') instanceof WarrenError).toBe(true);
    expect(new copy.ProtocolError(ErrorCodes.FRAME_ERROR, 'x') instanceof WarrenError).toBe(true);
    expect(new WarrenError(ErrorCodes.NOT_FOUND, 'x') instanceof copy.WarrenError).toBe(true);
    // Only WarrenError is branded: subclasses use the ordinary prototype check.
    expect(new copy.ProtocolError(ErrorCodes.FRAME_ERROR, 'x') instanceof ProtocolError).toBe(false);
  });
});

describe('shorthand constructors', () => {
  it.each([
    [errors.notFound('queue q'), WarrenError, 'NOT_FOUND', 'queue q not found'],
    [errors.preconditionFailed('in use'), WarrenError, 'PRECONDITION_FAILED', 'in use'],
    [errors.invalidArgument('bad'), WarrenError, 'INVALID_ARGUMENT', 'bad'],
    [errors.resourceLocked('mine'), WarrenError, 'RESOURCE_LOCKED', 'mine'],
    [errors.accessRefused('no'), WarrenError, 'ACCESS_REFUSED', 'no'],
    [errors.frameError('junk'), ProtocolError, 'FRAME_ERROR', 'junk'],
    [errors.frameTooLarge(70000, 65536), ProtocolError, 'FRAME_TOO_LARGE', 'frame of 70000 bytes exceeds the maximum of 65536 bytes'],
    [errors.commandInvalid('not now'), ProtocolError, 'COMMAND_INVALID', 'not now'],
  ] as const)('%s', (error, cls, name, message) => {
    expect(error).toBeInstanceOf(cls);
    expect(error.name).toBe(name);
    expect(error.code).toBe(ErrorCodes[name]);
    expect(error.message).toBe(message);
  });

  it('preconditionFailed keeps details', () => {
    expect(errors.preconditionFailed('x', { deliveryTag: 3 }).details).toEqual({ deliveryTag: 3 });
  });
});
