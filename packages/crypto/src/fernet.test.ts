import { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Fernet, MultiFernet, parseLegacyFernetKeys } from './fernet.js';
import type { CryptoErrorCode } from './errors.js';
import { expectCryptoError, readPackageJson } from '../test/helpers.js';

// Official vectors from https://github.com/fernet/spec, copied into test-vectors/.
interface GenerateVector { token: string; now: string; iv: number[]; src: string; secret: string }
interface VerifyVector { token: string; now: string; ttl_sec: number; src: string; secret: string }
interface InvalidVector { desc: string; token: string; now: string; ttl_sec: number; secret: string }
const generate = readPackageJson<GenerateVector[]>('test-vectors/generate.json');
const verify = readPackageJson<VerifyVector[]>('test-vectors/verify.json');
const invalid = readPackageJson<InvalidVector[]>('test-vectors/invalid.json');

const seconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

describe('Fernet spec vectors', () => {
  it('has the vectors', () => {
    expect(generate.length).toBe(1);
    expect(verify.length).toBe(1);
    expect(invalid.length).toBe(8);
  });

  it.each(generate)('generates $token', (v) => {
    const token = new Fernet(v.secret).encryptAtTime(v.src, seconds(v.now), Uint8Array.from(v.iv));
    expect(token).toBe(v.token);
  });

  it.each(verify)('verifies $token', (v) => {
    const plain = new Fernet(v.secret).decrypt(v.token, { ttlSeconds: v.ttl_sec, now: new Date(v.now) });
    expect(plain.toString('utf8')).toBe(v.src);
    expect(new Fernet(v.secret).extractTimestamp(v.token)).toBe(seconds('1985-10-26T01:20:00-07:00'));
  });

  const expected: Record<string, CryptoErrorCode> = {
    'incorrect mac': 'AUTH_FAILED',
    'too short': 'MALFORMED',
    'invalid base64': 'MALFORMED',
    'payload size not multiple of block size': 'MALFORMED',
    'payload padding error': 'AUTH_FAILED',
    'far-future TS (unacceptable clock skew)': 'TOKEN_FROM_FUTURE',
    'expired TTL': 'TOKEN_EXPIRED',
    'incorrect IV (causes padding error)': 'AUTH_FAILED',
  };

  it.each(invalid)('refuses "$desc" with a typed CryptoError', (v) => {
    const code = expected[v.desc];
    expect(code, `no expectation for "${v.desc}"`).toBeDefined();
    const opts = { ttlSeconds: v.ttl_sec, now: new Date(v.now) };
    expectCryptoError(() => new Fernet(v.secret).decrypt(v.token, opts), code);
    expectCryptoError(() => new MultiFernet([new Fernet(Fernet.generateKey()), new Fernet(v.secret)]).decrypt(v.token, opts), code);
  });
});

describe('Fernet', () => {
  const key = Fernet.generateKey();
  const f = new Fernet(key);

  it('generates keys in Python format: url-safe base64 of 32 bytes with padding', () => {
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(Buffer.from(key, 'base64url').length).toBe(32);
    expect(Fernet.generateKey()).not.toBe(key);
  });

  it('round trips bytes and strings (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(f.decrypt(f.encrypt(bytes)).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(f.decrypt(f.encrypt(text)).toString('utf8')).toBe(text);
      }),
    );
  });

  it('writes the spec layout: 0x80, timestamp, IV, whole blocks, HMAC over the rest; padded base64url', () => {
    for (const length of [0, 1, 15, 16, 17, 32, 100]) {
      const token = f.encryptAtTime(Buffer.alloc(length, 0x61), 1_234_567_890);
      expect(token).toMatch(/^[A-Za-z0-9_-]+={0,2}$/);
      expect(token.length % 4).toBe(0);
      const bytes = Buffer.from(token, 'base64url');
      expect(bytes[0]).toBe(0x80);
      expect(bytes.readBigUInt64BE(1)).toBe(1_234_567_890n);
      expect(bytes.length).toBe(1 + 8 + 16 + (Math.floor(length / 16) + 1) * 16 + 32);
      const signing = Buffer.from(key, 'base64url').subarray(0, 16);
      const mac = createHmac('sha256', signing).update(bytes.subarray(0, -32)).digest();
      expect(mac.equals(bytes.subarray(-32))).toBe(true);
    }
  });

  it('uses a random IV, unless one is given', () => {
    expect(f.encryptAtTime('x', 1)).not.toBe(f.encryptAtTime('x', 1));
    const iv = new Uint8Array(16).fill(3);
    expect(f.encryptAtTime('x', 1, iv)).toBe(f.encryptAtTime('x', 1, iv));
    expect(() => f.encryptAtTime('x', 1, new Uint8Array(15))).toThrow(RangeError);
    expect(() => f.encryptAtTime('x', -1)).toThrow(RangeError);
    expect(() => f.encryptAtTime('x', 1.5)).toThrow(RangeError);
  });

  it('stamps the current time', () => {
    const before = Math.floor(Date.now() / 1000);
    const stamped = f.extractTimestamp(f.encrypt('x'));
    expect(stamped).toBeGreaterThanOrEqual(before);
    expect(stamped).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  });

  describe('clock checks with an injected now', () => {
    const ts = 1_700_000_000;
    const token = f.encryptAtTime('payload', ts);
    const at = (s: number): Date => new Date(s * 1000);

    it('accepts up to timestamp + ttl, expires after', () => {
      expect(f.decrypt(token, { ttlSeconds: 60, now: at(ts + 60) }).toString()).toBe('payload');
      expectCryptoError(() => f.decrypt(token, { ttlSeconds: 60, now: at(ts + 61) }), 'TOKEN_EXPIRED');
      expect(f.decrypt(token, { ttlSeconds: 0, now: at(ts) }).toString()).toBe('payload');
      expectCryptoError(() => f.decrypt(token, { ttlSeconds: 0, now: at(ts + 1) }), 'TOKEN_EXPIRED');
    });

    it('has no age limit without a ttl', () => {
      expect(f.decrypt(token, { now: at(ts + 10 * 365 * 86_400) }).toString()).toBe('payload');
    });

    it('refuses timestamps more than 60 s ahead, with or without ttl', () => {
      expect(f.decrypt(token, { now: at(ts - 60) }).toString()).toBe('payload');
      expectCryptoError(() => f.decrypt(token, { now: at(ts - 61) }), 'TOKEN_FROM_FUTURE');
      expectCryptoError(() => f.decrypt(token, { ttlSeconds: 3600, now: at(ts - 61) }), 'TOKEN_FROM_FUTURE');
    });

    it('uses whole seconds of now, like Python', () => {
      expect(f.decrypt(token, { ttlSeconds: 60, now: new Date((ts + 60) * 1000 + 999) }).toString()).toBe('payload');
    });

    it('verifies the HMAC before the clock: a forged old token is AUTH_FAILED, not TOKEN_EXPIRED', () => {
      const bytes = Buffer.from(token, 'base64url');
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
      const forged = bytes.toString('base64url') + '='.repeat((4 - (bytes.toString('base64url').length % 4)) % 4);
      expectCryptoError(() => f.decrypt(forged, { ttlSeconds: 1, now: at(ts + 1000) }), 'AUTH_FAILED');
      expectCryptoError(() => f.decrypt(forged, { now: at(0) }), 'AUTH_FAILED');
    });

    it('refuses a bad ttl or now', () => {
      expect(() => f.decrypt(token, { ttlSeconds: -1, now: at(ts) })).toThrow(RangeError);
      expect(() => f.decrypt(token, { ttlSeconds: Number.NaN, now: at(ts) })).toThrow(RangeError);
      expect(() => f.decrypt(token, { now: new Date(Number.NaN) })).toThrow(RangeError);
    });
  });

  it('extractTimestamp verifies the HMAC first', () => {
    const token = f.encryptAtTime('x', 42);
    expect(f.extractTimestamp(token)).toBe(42);
    expectCryptoError(() => new Fernet(Fernet.generateKey()).extractTimestamp(token), 'AUTH_FAILED');
  });

  it('fails with a CryptoError for a flipped bit anywhere in the token', () => {
    const token = f.encryptAtTime('tamper me', 1_000);
    const bytes = Buffer.from(token, 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = Buffer.from(bytes);
        flipped[i] = (flipped[i] as number) ^ (1 << bit);
        const text = flipped.toString('base64url') + '='.repeat(token.length - flipped.toString('base64url').length);
        const err = expectCryptoError(() => f.decrypt(text, { now: new Date(1_000_000) }));
        expect(err.code).toBe(i === 0 ? 'UNSUPPORTED_VERSION' : 'AUTH_FAILED');
      }
    }
  });

  it('fails with a CryptoError for every truncation', () => {
    const token = f.encrypt('truncate me');
    for (let n = 0; n < token.length; n++) expectCryptoError(() => f.decrypt(token.slice(0, n)));
  });

  it('refuses text that is not canonical padded url-safe base64 with MALFORMED', () => {
    let token = f.encrypt('x'.repeat(20));
    while (!/[-_]/.test(token)) token = f.encrypt('x'.repeat(20)); // so the standard-alphabet rendering differs
    expect(token).toMatch(/=$/);
    const variants = [
      token.replace(/=+$/, ''),
      `${token}=`,
      `${token} `,
      ` ${token}`,
      `${token.slice(0, 10)}\n${token.slice(10)}`,
      Buffer.from(token, 'base64url').toString('base64'),
      `${token.slice(0, 10)}+${token.slice(11)}`,
      `${token.slice(0, 10)}/${token.slice(11)}`,
      `${token.slice(0, 10)}%${token.slice(11)}`,
    ];
    for (const variant of variants) expectCryptoError(() => f.decrypt(variant), 'MALFORMED');
  });

  it('refuses an unknown version byte with UNSUPPORTED_VERSION', () => {
    const bytes = Buffer.from(f.encrypt('x'), 'base64url');
    bytes[0] = 0x81;
    expectCryptoError(() => f.decrypt(`${bytes.toString('base64url')}${'='.repeat((3 - (bytes.length % 3)) % 3)}`), 'UNSUPPORTED_VERSION');
  });

  it('refuses keys that are not base64 of 32 bytes with KEY_INVALID', () => {
    for (const bad of ['', 'short', Buffer.alloc(31).toString('base64url'), Buffer.alloc(33).toString('base64url'), `${key.slice(0, 42)}!=`, `${key}==`]) {
      expectCryptoError(() => new Fernet(bad), 'KEY_INVALID');
    }
  });

  it('tolerates standard base64 and missing padding in keys', () => {
    const bytes = Buffer.from(Array.from({ length: 32 }, (_, i) => 250 - i * 7));
    const token = new Fernet(bytes.toString('base64url') + '=').encryptAtTime('k', 5);
    for (const text of [bytes.toString('base64'), bytes.toString('base64url')]) {
      expect(new Fernet(text).decrypt(token, { now: new Date(5000) }).toString()).toBe('k');
    }
  });

  it('does not reveal its key through JSON, inspect or string conversion', () => {
    const hex = Buffer.from(key, 'base64url').toString('hex');
    const multi = new MultiFernet([f]);
    for (const text of [JSON.stringify(f), inspect(f, { depth: 5 }), String(f), JSON.stringify(multi), inspect(multi, { depth: 5 }), String(multi)]) {
      expect(text).not.toContain(key.slice(0, 20));
      expect(text).not.toContain(hex.slice(0, 16));
    }
  });
});

describe('MultiFernet', () => {
  const [k1, k2, k3] = [Fernet.generateKey(), Fernet.generateKey(), Fernet.generateKey()];
  const f1 = new Fernet(k1);
  const f2 = new Fernet(k2);
  const f3 = new Fernet(k3);
  const multi = new MultiFernet([f1, f2]);

  it('encrypts with the first key', () => {
    const token = multi.encrypt('hi');
    expect(f1.decrypt(token).toString()).toBe('hi');
    expectCryptoError(() => f2.decrypt(token), 'AUTH_FAILED');
  });

  it('decrypts tokens of any of its keys, and refuses others with AUTH_FAILED', () => {
    expect(multi.decrypt(f1.encrypt('a')).toString()).toBe('a');
    expect(multi.decrypt(f2.encrypt('b')).toString()).toBe('b');
    expectCryptoError(() => multi.decrypt(f3.encrypt('c')), 'AUTH_FAILED');
  });

  it('applies the clock checks', () => {
    const token = f2.encryptAtTime('old', 1_000);
    expectCryptoError(() => multi.decrypt(token, { ttlSeconds: 10, now: new Date(2_000_000) }), 'TOKEN_EXPIRED');
    expectCryptoError(() => multi.decrypt(token, { now: new Date(0) }), 'TOKEN_FROM_FUTURE');
    expect(multi.decrypt(token, { ttlSeconds: 10, now: new Date(1_005_000) }).toString()).toBe('old');
  });

  it('rotate re-encrypts under the first key keeping the timestamp', () => {
    const old = f2.encryptAtTime('rotate me', 1_234_567);
    const rotated = multi.rotate(old);
    expect(rotated).not.toBe(old);
    expect(f1.extractTimestamp(rotated)).toBe(1_234_567);
    expect(f1.decrypt(rotated, { now: new Date(1_234_567_000) }).toString()).toBe('rotate me');
    expectCryptoError(() => f2.decrypt(rotated), 'AUTH_FAILED');
    // A token already under the first key gets a fresh IV, same timestamp and plaintext.
    const again = multi.rotate(rotated);
    expect(again).not.toBe(rotated);
    expect(f1.extractTimestamp(again)).toBe(1_234_567);
  });

  it('rotate keeps the timestamp for any token (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.boolean(), (bytes, ts, useSecond) => {
        const token = (useSecond ? f2 : f1).encryptAtTime(bytes, ts);
        const rotated = multi.rotate(token);
        expect(f1.extractTimestamp(rotated)).toBe(ts);
        expect(f1.decrypt(rotated, { now: new Date(ts * 1000) }).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('rotate refuses tokens of unknown keys and tampered tokens', () => {
    expectCryptoError(() => multi.rotate(f3.encrypt('x')), 'AUTH_FAILED');
    expectCryptoError(() => multi.rotate('gAAAA'), 'MALFORMED');
  });

  it('needs at least one key', () => {
    expectCryptoError(() => new MultiFernet([]), 'KEY_INVALID');
  });
});

describe('parseLegacyFernetKeys', () => {
  const [k1, k2] = [Fernet.generateKey(), Fernet.generateKey()];

  it('reads comma-separated keys, the first used to encrypt', () => {
    const multi = parseLegacyFernetKeys(` ${k1} , ${k2} `);
    expect(multi.size).toBe(2);
    expect(new Fernet(k1).decrypt(multi.encrypt('x')).toString()).toBe('x');
    expect(multi.decrypt(new Fernet(k2).encrypt('y')).toString()).toBe('y');
  });

  it.each([
    ['empty', '', /is empty/],
    ['blank', '   ', /is empty/],
    ['empty entry', `${k1},,${k2}`, /entry 2 is empty/],
    ['short key', `${k1},${k2.slice(0, 32)}`, /entry 2: Fernet key decodes to 24 bytes, expected 32/],
    ['bad base64', `${k1},${k2},${k2.slice(0, 40)}!!!=`, /entry 3: Fernet key is not valid base64/],
  ])('refuses %s with KEYRING_INVALID naming the position', (_name, text, message) => {
    const err = expectCryptoError(() => parseLegacyFernetKeys(text), 'KEYRING_INVALID');
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/^SIGNALS_LEGACY_FERNET_KEYS/);
    expect(err.message).not.toContain(k2.slice(0, 12));
  });
});
