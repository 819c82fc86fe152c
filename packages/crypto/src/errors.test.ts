import { Buffer } from 'node:buffer';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CryptoError, isCryptoError } from './errors.js';
import type { CryptoErrorCode } from './errors.js';
import { Keyring } from './keyring.js';
import { unwrapDataKey, wrapDataKey } from './data-key.js';
import { open, seal } from './sealed.js';
import { Fernet, MultiFernet, parseLegacyFernetKeys } from './fernet.js';
import { expectCryptoError } from '../test/helpers.js';

describe('CryptoError', () => {
  it('carries a code, a message and the name CryptoError', () => {
    const err = new CryptoError('AUTH_FAILED', 'did not verify');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('CryptoError');
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toBe('did not verify');
    expect(String(err)).toBe('CryptoError: did not verify');
    expect(err.stack).toContain('CryptoError');
  });

  it('isCryptoError tells CryptoErrors apart, optionally by code', () => {
    const err = new CryptoError('MALFORMED', 'x');
    expect(isCryptoError(err)).toBe(true);
    expect(isCryptoError(err, 'MALFORMED')).toBe(true);
    expect(isCryptoError(err, 'AUTH_FAILED')).toBe(false);
    for (const other of [new Error('x'), Object.assign(new Error('x'), { code: 'MALFORMED' }), { code: 'MALFORMED' }, null, undefined, 'MALFORMED']) {
      expect(isCryptoError(other)).toBe(false);
      expect(isCryptoError(other, 'MALFORMED')).toBe(false);
    }
  });

  it('isCryptoError recognises an error branded by another copy of this module', () => {
    const foreign = Object.assign(new Error('x'), { code: 'UNKNOWN_KEY', [Symbol.for('@signals/crypto.CryptoError')]: true });
    expect(isCryptoError(foreign, 'UNKNOWN_KEY')).toBe(true);
    expect(isCryptoError(foreign, 'MALFORMED')).toBe(false);
  });
});

// Every failure's message (and stack, and inspect output) must be free of key material,
// plaintext and ciphertext: these errors are logged.
describe('error messages never reveal secrets', () => {
  const kekBytes = Buffer.alloc(32, 0xa7);
  const kekText = kekBytes.toString('base64'); // "p6en…"
  const canaryPlain = 'CANARY-PLAINTEXT-7f3a9c';
  const dataKey = Buffer.alloc(32, 0x5c);
  const ctx = { table: 'signals', column: 'owner_only_payload', rowId: 'row-1', ownerId: 'owner-1' };

  function assertClean(err: CryptoError, secrets: readonly string[]): void {
    const rendered = [err.message, String(err.stack), inspect(err), JSON.stringify(err)];
    for (const text of rendered) for (const secret of secrets) expect(text).not.toContain(secret);
  }

  it('keyring errors do not echo keys', () => {
    const secrets = [kekText, kekText.slice(0, 20), kekBytes.toString('hex')];
    const cases: Array<[string, CryptoErrorCode]> = [
      [kekText, 'KEYRING_INVALID'], // no colon: the whole entry is a key
      [`bad id!:${kekText}`, 'KEYRING_INVALID'],
      [`${kekText.slice(0, 30)}=:${kekText}`, 'KEYRING_INVALID'], // an id that is really key text
      [`a:${kekText},a:${kekText}`, 'KEYRING_INVALID'],
      [`a:${kekText}!`, 'KEYRING_INVALID'],
      [`a:${kekText.slice(0, 40)}`, 'KEYRING_INVALID'],
      [`a:${Buffer.alloc(33, 0xa7).toString('base64')}`, 'KEYRING_INVALID'],
    ];
    for (const [text, code] of cases) assertClean(expectCryptoError(() => Keyring.parse(text), code), secrets);
  });

  it('seal, open, wrap and unwrap errors do not reveal keys, plaintext or ciphertext', () => {
    const keyring = Keyring.parse(`k1:${kekText}`);
    const sealed = seal(dataKey, 1, { notes: canaryPlain }, ctx);
    const cipherPart = sealed.split('.')[3] ?? '';
    const wrapped = wrapDataKey(keyring.primary, dataKey, { ownerId: 'owner-1', version: 1 });
    const secrets = [canaryPlain, cipherPart, cipherPart.slice(0, 24), dataKey.toString('hex'), dataKey.toString('base64'), kekText, wrapped.split('.')[3] ?? ''];
    const failures: Array<[() => unknown, CryptoErrorCode]> = [
      [() => open(Buffer.alloc(32, 1), sealed, ctx), 'AUTH_FAILED'],
      [() => open(dataKey, sealed, { ...ctx, rowId: 'row-2' }), 'AUTH_FAILED'],
      [() => open(dataKey, `${sealed}x`, ctx), 'MALFORMED'],
      [() => open(dataKey, sealed.replace('sv1.', 'sv7.'), ctx), 'UNSUPPORTED_VERSION'],
      [() => open(dataKey.subarray(0, 31), sealed, ctx), 'KEY_INVALID'],
      [() => seal(dataKey, 1, { notes: canaryPlain, big: 1n }, ctx), 'PAYLOAD_INVALID'],
      [() => unwrapDataKey(keyring, wrapped, { ownerId: 'owner-2', version: 1 }), 'AUTH_FAILED'],
      [() => unwrapDataKey(Keyring.parse(`k2:${Buffer.alloc(32, 3).toString('base64')}`), wrapped, { ownerId: 'owner-1', version: 1 }), 'UNKNOWN_KEY'],
    ];
    for (const [fn, code] of failures) assertClean(expectCryptoError(fn, code), secrets);
  });

  it('a circular value is refused without naming its properties', () => {
    const value: Record<string, unknown> = { [canaryPlain]: 1 };
    value.self = value;
    assertClean(expectCryptoError(() => seal(dataKey, 1, value, ctx), 'PAYLOAD_INVALID'), [canaryPlain, 'self']);
  });

  it('Fernet errors do not reveal keys, plaintext or tokens', () => {
    const key = Buffer.alloc(32, 0x3e).toString('base64url') + '=';
    const f = new Fernet(key);
    const token = f.encryptAtTime(canaryPlain, 1_000_000);
    const body = token.slice(10, 60);
    const secrets = [key, key.slice(0, 20), canaryPlain, body];
    const failures: Array<[() => unknown, CryptoErrorCode]> = [
      [() => new Fernet(Fernet.generateKey()).decrypt(token), 'AUTH_FAILED'],
      [() => f.decrypt(token, { ttlSeconds: 10, now: new Date(2_000_000_000) }), 'TOKEN_EXPIRED'],
      [() => f.decrypt(token, { now: new Date(0) }), 'TOKEN_FROM_FUTURE'],
      [() => f.decrypt(`${token.slice(0, -4)}%%%%`), 'MALFORMED'],
      [() => new MultiFernet([new Fernet(Fernet.generateKey())]).decrypt(token), 'AUTH_FAILED'],
      [() => new Fernet(key.slice(0, 40)), 'KEY_INVALID'],
      [() => parseLegacyFernetKeys(`${Fernet.generateKey()},${key.slice(0, 40)}`), 'KEYRING_INVALID'],
    ];
    for (const [fn, code] of failures) assertClean(expectCryptoError(fn, code), secrets);
  });
});
