import { Buffer } from 'node:buffer';
import { createDecipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateDataKey, unwrapDataKey, wrapDataKey, wrappedKeyKekId } from './data-key.js';
import { Keyring } from './keyring.js';
import { expectCryptoError } from '../test/helpers.js';

const keyring = Keyring.parse(`${Keyring.generateEntry('k2')},${Keyring.generateEntry('k1')}`);
const ctx = { ownerId: '6a0a1c4e-5b7b-4f34-8a4f-2f1d2b6f1c3a', version: 1 };
const WRAPPED = /^wk1\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{64})$/;

function flipBase64UrlByte(text: string, index: number, bit: number): string {
  const bytes = Buffer.from(text, 'base64url');
  bytes[index] = (bytes[index] as number) ^ (1 << bit);
  return bytes.toString('base64url');
}

describe('generateDataKey', () => {
  it('returns 32 fresh random bytes', () => {
    const a = generateDataKey();
    const b = generateDataKey();
    expect(a.length).toBe(32);
    expect(a.equals(b)).toBe(false);
  });
});

describe('wrapDataKey / unwrapDataKey', () => {
  it('round trips and names the primary KEK', () => {
    const dek = generateDataKey();
    const wrapped = wrapDataKey(keyring.primary, dek, ctx);
    expect(wrapped).toMatch(WRAPPED);
    expect(wrappedKeyKekId(wrapped)).toBe('k2');
    expect(unwrapDataKey(keyring, wrapped, ctx).equals(dek)).toBe(true);
  });

  it('round trips for any owner id and version (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.integer({ min: 1, max: 2_147_483_647 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (ownerId, version, bytes) => {
        const dek = Buffer.from(bytes);
        const wrapped = wrapDataKey(keyring.primary, dek, { ownerId, version });
        expect(unwrapDataKey(keyring, wrapped, { ownerId, version }).equals(dek)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('uses a fresh nonce each time', () => {
    const dek = generateDataKey();
    const nonces = new Set(Array.from({ length: 200 }, () => wrapDataKey(keyring.primary, dek, ctx).split('.')[2]));
    expect(nonces.size).toBe(200);
  });

  it('unwraps keys wrapped by an older KEK still in the keyring', () => {
    const dek = generateDataKey();
    const wrapped = wrapDataKey(keyring.require('k1'), dek, ctx);
    expect(wrappedKeyKekId(wrapped)).toBe('k1');
    expect(unwrapDataKey(keyring, wrapped, ctx).equals(dek)).toBe(true);
  });

  it('fails with AUTH_FAILED for another owner or version', () => {
    const wrapped = wrapDataKey(keyring.primary, generateDataKey(), ctx);
    expectCryptoError(() => unwrapDataKey(keyring, wrapped, { ...ctx, ownerId: `${ctx.ownerId}x` }), 'AUTH_FAILED');
    expectCryptoError(() => unwrapDataKey(keyring, wrapped, { ...ctx, ownerId: '' }), 'AUTH_FAILED');
    expectCryptoError(() => unwrapDataKey(keyring, wrapped, { ...ctx, version: 2 }), 'AUTH_FAILED');
  });

  it('fails with AUTH_FAILED when the KEK id in the text is changed to another configured KEK', () => {
    const wrapped = wrapDataKey(keyring.require('k1'), generateDataKey(), ctx);
    expectCryptoError(() => unwrapDataKey(keyring, wrapped.replace('wk1.k1.', 'wk1.k2.'), ctx), 'AUTH_FAILED');
  });

  it('fails with AUTH_FAILED when the same KEK id holds another key', () => {
    const wrapped = wrapDataKey(keyring.primary, generateDataKey(), ctx);
    const impostor = Keyring.parse(Keyring.generateEntry('k2'));
    expectCryptoError(() => unwrapDataKey(impostor, wrapped, ctx), 'AUTH_FAILED');
  });

  it('fails with UNKNOWN_KEY when the KEK is not configured', () => {
    const wrapped = wrapDataKey(keyring.primary, generateDataKey(), ctx);
    const other = Keyring.parse(Keyring.generateEntry('k9'));
    const err = expectCryptoError(() => unwrapDataKey(other, wrapped, ctx), 'UNKNOWN_KEY');
    expect(err.message).toContain('"k2"');
  });

  it('fails with AUTH_FAILED for every flipped bit of nonce, ciphertext and tag', () => {
    const wrapped = wrapDataKey(keyring.primary, generateDataKey(), ctx);
    const [format, kekId, nonce = '', sealed = ''] = wrapped.split('.');
    for (let i = 0; i < 12; i++) {
      for (let bit = 0; bit < 8; bit++) {
        expectCryptoError(() => unwrapDataKey(keyring, [format, kekId, flipBase64UrlByte(nonce, i, bit), sealed].join('.'), ctx), 'AUTH_FAILED');
      }
    }
    for (let i = 0; i < 48; i++) {
      for (let bit = 0; bit < 8; bit++) {
        expectCryptoError(() => unwrapDataKey(keyring, [format, kekId, nonce, flipBase64UrlByte(sealed, i, bit)].join('.'), ctx), 'AUTH_FAILED');
      }
    }
  });

  it('fails with a CryptoError for every truncation', () => {
    const wrapped = wrapDataKey(keyring.primary, generateDataKey(), ctx);
    for (let n = 0; n < wrapped.length; n++) expectCryptoError(() => unwrapDataKey(keyring, wrapped.slice(0, n), ctx));
  });

  it('follows the documented layout: AES-256-GCM, AAD = length-prefixed "wk1", kek id, owner id, version', () => {
    const dek = generateDataKey();
    const wrapped = wrapDataKey(keyring.primary, dek, { ownerId: 'owner-é', version: 7 });
    const [, kekId = '', nonce = '', sealed = ''] = WRAPPED.exec(wrapped) ?? [];
    const field = (text: string): Buffer => {
      const bytes = Buffer.from(text, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    };
    const aad = Buffer.concat([field('wk1'), field(kekId), field('owner-é'), field('7')]);
    const body = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', keyring.primary.key, Buffer.from(nonce, 'base64url'));
    decipher.setAAD(aad);
    decipher.setAuthTag(body.subarray(32));
    expect(Buffer.concat([decipher.update(body.subarray(0, 32)), decipher.final()]).equals(dek)).toBe(true);
  });

  it('refuses a data key that is not 32 bytes, or a bad version', () => {
    expectCryptoError(() => wrapDataKey(keyring.primary, Buffer.alloc(16), ctx), 'KEY_INVALID');
    expectCryptoError(() => wrapDataKey(keyring.primary, Buffer.alloc(33), ctx), 'KEY_INVALID');
    expect(() => wrapDataKey(keyring.primary, generateDataKey(), { ...ctx, version: 0 })).toThrow(RangeError);
    expect(() => wrapDataKey(keyring.primary, generateDataKey(), { ...ctx, version: 1.5 })).toThrow(RangeError);
    expect(() => wrapDataKey(keyring.primary, generateDataKey(), { ...ctx, ownerId: '\uD800' })).toThrow(TypeError);
  });
});

describe('wrappedKeyKekId', () => {
  const good = wrapDataKey(keyring.primary, generateDataKey(), ctx);
  const [, kekId, nonce, sealed] = good.split('.');

  it('reads the KEK id', () => {
    expect(wrappedKeyKekId(good)).toBe('k2');
  });

  it.each([
    ['empty', ''],
    ['another format', `sv1.${kekId}.${nonce}.${sealed}`],
    ['missing part', `wk1.${kekId}.${nonce}`],
    ['extra part', `${good}.x`],
    ['bad kek id', `wk1.k!.${nonce}.${sealed}`],
    ['empty kek id', `wk1..${nonce}.${sealed}`],
    ['short nonce', `wk1.${kekId}.${nonce?.slice(2)}.${sealed}`],
    ['padded ciphertext', `wk1.${kekId}.${nonce}.${sealed}=`],
    ['standard-alphabet character', `wk1.${kekId}.${nonce}.+${sealed?.slice(1)}`],
    ['whitespace inside', `wk1.${kekId}.${nonce}.${sealed?.slice(0, 10)} ${sealed?.slice(10)}`],
    ['short ciphertext', `wk1.${kekId}.${nonce}.${sealed?.slice(4)}`],
  ])('refuses %s with MALFORMED', (_name, text) => {
    expectCryptoError(() => wrappedKeyKekId(text), 'MALFORMED');
    expectCryptoError(() => unwrapDataKey(keyring, text, ctx), 'MALFORMED');
  });

  it('refuses an unknown format version with UNSUPPORTED_VERSION', () => {
    expectCryptoError(() => wrappedKeyKekId(good.replace(/^wk1\./, 'wk2.')), 'UNSUPPORTED_VERSION');
    expectCryptoError(() => unwrapDataKey(keyring, good.replace(/^wk1\./, 'wk10.'), ctx), 'UNSUPPORTED_VERSION');
  });
});
