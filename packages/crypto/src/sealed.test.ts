import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateDataKey } from './data-key.js';
import { isSealed, open, seal, SEALED_PREFIX, sealedKeyVersion } from './sealed.js';
import type { SealContext } from './sealed.js';
import { expectCryptoError } from '../test/helpers.js';

const key = generateDataKey();
const ctx: SealContext = {
  table: 'signals',
  column: 'owner_only_payload',
  rowId: '0b8f6c52-54b1-4c3e-9d55-6f1f7f3a2c11',
  ownerId: '6a0a1c4e-5b7b-4f34-8a4f-2f1d2b6f1c3a',
};
const payload = { stopLoss: '1923.10', takeProfit: '1987.45', strategy: 'breakout', notes: 'trail under the 4h EMA' };
const SEALED = /^sv1\.([1-9][0-9]*)\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]+)$/;

function parts(text: string): { version: string; nonce: Buffer; body: Buffer } {
  const m = SEALED.exec(text);
  if (m === null) throw new Error('not a sealed value');
  return { version: m[1] as string, nonce: Buffer.from(m[2] as string, 'base64url'), body: Buffer.from(m[3] as string, 'base64url') };
}
const assemble = (version: string, nonce: Buffer, body: Buffer): string =>
  `sv1.${version}.${nonce.toString('base64url')}.${body.toString('base64url')}`;

// The AAD exactly as docs/ciphertext-format.md describes it, built independently of the code.
function documentedAad(fields: readonly string[]): Buffer {
  return Buffer.concat(
    fields.flatMap((f) => {
      const bytes = Buffer.from(f, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length, 0);
      return [length, bytes];
    }),
  );
}

const contextArb = fc.record({
  table: fc.string({ unit: 'binary', maxLength: 20 }),
  column: fc.string({ unit: 'binary', maxLength: 20 }),
  rowId: fc.string({ unit: 'binary', maxLength: 40 }),
  ownerId: fc.string({ unit: 'binary', maxLength: 40 }),
});

describe('seal / open', () => {
  it('round trips any JSON value, any context and key version (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), contextArb, fc.integer({ min: 1, max: 2_147_483_647 }), (value, c, version) => {
        const text = seal(key, version, value, c);
        expect(text.startsWith(SEALED_PREFIX)).toBe(true);
        expect(sealedKeyVersion(text)).toBe(version);
        expect(JSON.stringify(open(key, text, c))).toBe(JSON.stringify(value));
      }),
      { numRuns: 300 },
    );
  });

  it('round trips unicode and nested values exactly', () => {
    const value = {
      notes: 'héllo wörld — 日本語 🚀 \u0000 \u2028 "quoted" \\ back',
      levels: [1.5, -0.25, 1e21, 0, null, true, false],
      nested: { a: { b: { c: [[], {}, ['deep', { x: '🦄' }]] } } },
      '': 'empty key',
      '🔑': 'emoji key',
    };
    expect(open(key, seal(key, 3, value, ctx), ctx)).toEqual(value);
    for (const scalar of ['', 'ü', 0, -1.5, true, false, null, [], {}]) expect(open(key, seal(key, 1, scalar, ctx), ctx)).toEqual(scalar);
  });

  it('writes sv1.<version>.<16-char nonce>.<ciphertext+tag> with a 16-byte tag', () => {
    const text = seal(key, 42, payload, ctx);
    const { version, nonce, body } = parts(text);
    expect(version).toBe('42');
    expect(nonce.length).toBe(12);
    expect(body.length).toBe(Buffer.byteLength(JSON.stringify(payload)) + 16);
    expect(text).not.toMatch(/=/);
  });

  it('uses a fresh nonce for every seal, across nonce-pool refills', () => {
    const texts = Array.from({ length: 2000 }, (_, i) => seal(key, 1, { i }, ctx));
    expect(new Set(texts.map((t) => t.split('.')[2])).size).toBe(texts.length);
    texts.forEach((t, i) => expect(open(key, t, ctx)).toEqual({ i }));
    expect(seal(key, 1, payload, ctx)).not.toBe(seal(key, 1, payload, ctx));
  });

  it('follows the documented layout: AES-256-GCM with the length-prefixed AAD', () => {
    const c = { table: 'tåble', column: 'col', rowId: 'row-🚀', ownerId: 'owner' };
    const text = seal(key, 5, payload, c);
    const { nonce, body } = parts(text);
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(documentedAad(['sv1', 'tåble', 'col', 'row-🚀', 'owner', '5']));
    decipher.setAuthTag(body.subarray(body.length - 16));
    const plain = Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
    expect(plain.toString('utf8')).toBe(JSON.stringify(payload));
  });

  it('opens a value sealed independently by the documented recipe', () => {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(documentedAad(['sv1', ctx.table, ctx.column, ctx.rowId, ctx.ownerId, '9']));
    const body = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final(), cipher.getAuthTag()]);
    expect(open(key, assemble('9', nonce, body), ctx)).toEqual(payload);
  });

  it('fails with PAYLOAD_INVALID when authentic bytes are not JSON', () => {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(documentedAad(['sv1', ctx.table, ctx.column, ctx.rowId, ctx.ownerId, '1']));
    const body = Buffer.concat([cipher.update('{"not json', 'utf8'), cipher.final(), cipher.getAuthTag()]);
    expectCryptoError(() => open(key, assemble('1', nonce, body), ctx), 'PAYLOAD_INVALID');
  });
});

describe('reused memory (scratch buffers, nonce pool)', () => {
  it('round trips values larger than the ciphertext scratch, and detects tampering in them', () => {
    for (const size of [6000, 6128, 6129, 20_000]) {
      const big = { notes: 'z'.repeat(size) };
      const text = seal(key, 2, big, ctx);
      expect(open(key, text, ctx)).toEqual(big);
      const { version, nonce, body } = parts(text);
      const flipped = Buffer.from(body);
      flipped[body.length >> 1] = (flipped[body.length >> 1] as number) ^ 1;
      expectCryptoError(() => open(key, assemble(version, nonce, flipped), ctx), 'AUTH_FAILED');
      expectCryptoError(() => open(key, `${text.slice(0, -1)}+`, ctx), 'MALFORMED');
    }
  });

  it('binds long and non-ASCII context fields exactly as documented', () => {
    for (const c of [
      { table: 't'.repeat(600), column: 'c', rowId: 'r', ownerId: 'o' },
      { ...ctx, ownerId: 'x'.repeat(300) },
      { ...ctx, rowId: 'é' },
      { ...ctx, table: '\u0000\u007f' },
    ]) {
      const text = seal(key, 4, payload, c);
      const { nonce, body } = parts(text);
      const decipher = createDecipheriv('aes-256-gcm', key, nonce);
      decipher.setAAD(documentedAad(['sv1', c.table, c.column, c.rowId, c.ownerId, '4']));
      decipher.setAuthTag(body.subarray(body.length - 16));
      expect(Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8')).toBe(JSON.stringify(payload));
      expect(open(key, text, c)).toEqual(payload);
      expectCryptoError(() => open(key, text, ctx), 'AUTH_FAILED');
    }
  });

  it('keeps each value bound to its own context when toJSON seals or opens meanwhile', () => {
    const other = { ...ctx, rowId: 'another-row', ownerId: 'another-owner' };
    const otherText = seal(key, 1, payload, other);
    const inner: string[] = [];
    const value = {
      toJSON: () => {
        inner.push(seal(key, 5, { inner: true }, other));
        expect(open(key, otherText, other)).toEqual(payload);
        return { outer: true };
      },
    };
    const text = seal(key, 1, value, ctx);
    expect(open(key, text, ctx)).toEqual({ outer: true });
    expectCryptoError(() => open(key, text, other), 'AUTH_FAILED');
    expect(open(key, inner[0] as string, other)).toEqual({ inner: true });
    expectCryptoError(() => open(key, inner[0] as string, ctx), 'AUTH_FAILED');
  });

  it('keeps each value bound to its own context when context getters seal or open', () => {
    const other = { ...ctx, rowId: 'another-row' };
    const sneaky = {
      table: ctx.table,
      column: ctx.column,
      get rowId(): string {
        expect(open(key, seal(key, 3, 'inner', other), other)).toBe('inner');
        return ctx.rowId;
      },
      ownerId: ctx.ownerId,
    };
    const text = seal(key, 1, payload, sneaky);
    expect(open(key, text, ctx)).toEqual(payload);
    expect(open(key, text, sneaky)).toEqual(payload);
    expectCryptoError(() => open(key, text, other), 'AUTH_FAILED');
  });

  it('refuses to finish when the data key itself (an exotic prototype) seals or opens meanwhile', () => {
    const other = { ...ctx, rowId: 'another-row' };
    const otherText = seal(key, 1, 'other', other);
    // A real 32-byte Buffer whose prototype chain runs code on symbol lookups, which node:crypto
    // makes inside createCipheriv/createDecipheriv, after the nonce and scratch memory are set.
    let reenter: (() => unknown) | undefined;
    const exotic = Buffer.from(key);
    Object.setPrototypeOf(
      exotic,
      new Proxy(Object.create(Buffer.prototype) as object, {
        get(target, property, receiver) {
          if (typeof property === 'symbol' && reenter !== undefined) {
            const run = reenter;
            reenter = undefined;
            run();
          }
          return Reflect.get(target, property, receiver) as unknown;
        },
      }),
    );
    expect(Buffer.isBuffer(exotic)).toBe(true);
    const text = seal(exotic, 1, payload, ctx); // no re-entry: works as any key
    expect(open(exotic, text, ctx)).toEqual(payload);
    for (const inner of [() => open(key, otherText, other), () => seal(key, 1, 'inner', other)]) {
      reenter = inner;
      expectCryptoError(() => open(exotic, text, ctx), 'KEY_INVALID');
      reenter = inner;
      expectCryptoError(() => seal(exotic, 1, payload, ctx), 'KEY_INVALID');
    }
    // A refill of the nonce pool inside createCipheriv: the outer seal must not go on with a nonce
    // that the pool will hand out again.
    reenter = () => {
      for (let i = 0; i < 400; i++) seal(key, 1, i, other);
    };
    expectCryptoError(() => seal(exotic, 1, payload, ctx), 'KEY_INVALID');
  });

  it('reports errors in the documented order', () => {
    const bad = { ...ctx, rowId: 5 as unknown as string };
    // Malformed text before a bad context, as the reading rules order them.
    expectCryptoError(() => open(key, 'sv1.1.x.y', bad), 'MALFORMED');
    expectCryptoError(() => open(key, `sv1.1.${'A'.repeat(16)}.${'A'.repeat(4)}`, bad), 'MALFORMED');
    expect(() => open(key, seal(key, 1, 1, ctx), bad)).toThrow(TypeError);
    // A bad context before a value without JSON.
    expect(() => seal(key, 1, undefined, bad)).toThrow(TypeError);
    expect(() => seal(key, 1, undefined, { ...ctx, rowId: '\uD800' })).toThrow(TypeError);
  });
});

describe('what a sealed value is bound to', () => {
  const text = seal(key, 1, payload, ctx);

  it.each([
    ['rowId', { ...ctx, rowId: '0b8f6c52-54b1-4c3e-9d55-6f1f7f3a2c12' }],
    ['ownerId', { ...ctx, ownerId: 'another-owner' }],
    ['table', { ...ctx, table: 'signals_archive' }],
    ['column', { ...ctx, column: 'payload' }],
    ['table and column swapped', { ...ctx, table: ctx.column, column: ctx.table }],
    ['rowId and ownerId swapped', { ...ctx, rowId: ctx.ownerId, ownerId: ctx.rowId }],
  ])('fails with AUTH_FAILED when moved to another %s', (_name, other) => {
    expect(open(key, text, ctx)).toEqual(payload);
    expectCryptoError(() => open(key, text, other), 'AUTH_FAILED');
  });

  it('fails with AUTH_FAILED when the header claims another key version', () => {
    for (const version of ['2', '10', '11', '2147483647']) {
      expectCryptoError(() => open(key, text.replace(/^sv1\.1\./, `sv1.${version}.`), ctx), 'AUTH_FAILED');
    }
  });

  it('fails with AUTH_FAILED under a wrong key', () => {
    expectCryptoError(() => open(generateDataKey(), text, ctx), 'AUTH_FAILED');
    const nearly = Buffer.from(key);
    nearly[31] = (nearly[31] as number) ^ 1;
    expectCryptoError(() => open(nearly, text, ctx), 'AUTH_FAILED');
  });

  it('keeps field boundaries: moving characters between adjacent fields fails', () => {
    const c = { table: 'ab', column: 'c', rowId: '1', ownerId: '23' };
    const sealed = seal(key, 1, payload, c);
    expectCryptoError(() => open(key, sealed, { ...c, table: 'a', column: 'bc' }), 'AUTH_FAILED');
    expectCryptoError(() => open(key, sealed, { ...c, rowId: '12', ownerId: '3' }), 'AUTH_FAILED');
    expectCryptoError(() => open(key, sealed, { ...c, table: 'abc', column: '' }), 'AUTH_FAILED');
  });

  it('fails for any change of context (property)', () => {
    fc.assert(
      fc.property(contextArb, contextArb, (a, b) => {
        fc.pre(a.table !== b.table || a.column !== b.column || a.rowId !== b.rowId || a.ownerId !== b.ownerId);
        expectCryptoError(() => open(key, seal(key, 1, 0, a), b), 'AUTH_FAILED');
      }),
      { numRuns: 200 },
    );
  });
});

describe('tampered and malformed text', () => {
  // A payload whose ciphertext+tag length is not a multiple of 3, so the last base64url
  // character has spare bits (checked below).
  const value = { notes: 'x' };
  const text = seal(key, 7, value, ctx);
  const { version, nonce, body } = parts(text);

  it('fails with a CryptoError for every truncation, never returning a value', () => {
    for (let n = 0; n < text.length; n++) expectCryptoError(() => open(key, text.slice(0, n), ctx));
    const long = seal(key, 12, { notes: 'y'.repeat(300) }, ctx);
    for (let n = 0; n < long.length; n++) expectCryptoError(() => open(key, long.slice(0, n), ctx));
  });

  it('fails with AUTH_FAILED for a flipped bit in every byte of nonce and ciphertext+tag', () => {
    for (let i = 0; i < nonce.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = Buffer.from(nonce);
        flipped[i] = (flipped[i] as number) ^ (1 << bit);
        expectCryptoError(() => open(key, assemble(version, flipped, body), ctx), 'AUTH_FAILED');
      }
    }
    for (let i = 0; i < body.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = Buffer.from(body);
        flipped[i] = (flipped[i] as number) ^ (1 << bit);
        expectCryptoError(() => open(key, assemble(version, nonce, flipped), ctx), 'AUTH_FAILED');
      }
    }
  });

  it('fails with a CryptoError when characters are appended', () => {
    for (const suffix of ['A', 'AA', 'AAA', 'AAAA', '=', '==', '.', '.x', ' ', '\n', '\u0000', 'é']) {
      expectCryptoError(() => open(key, text + suffix, ctx));
    }
  });

  it('refuses non-canonical base64url with MALFORMED', () => {
    const bodyText = body.toString('base64url');
    expect(body.length % 3).not.toBe(0);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(bodyText.at(-1) as string);
    const spare = body.length % 3 === 1 ? 0b1111 : 0b11;
    expect(last & spare).toBe(0);
    const nonCanonicalLast = bodyText.slice(0, -1) + alphabet[last | 1]; // same bytes once decoded
    expect(Buffer.from(nonCanonicalLast, 'base64url').equals(body)).toBe(true);
    const nonceText = nonce.toString('base64url');
    const variants = [
      `sv1.${version}.${nonceText}.${nonCanonicalLast}`,
      `sv1.${version}.${nonceText}.${bodyText}${'='.repeat((4 - (bodyText.length % 4)) % 4)}`,
      `sv1.${version}.${nonceText}.${bodyText.slice(0, 8)}\n${bodyText.slice(8)}`,
      `sv1.${version}.${nonceText}.${bodyText.slice(0, 8)} ${bodyText.slice(8)}`,
      `sv1.${version}.${nonceText}.${body.toString('base64')}`, // padded standard base64
      `sv1.${version}.${nonceText}=.${bodyText}`,
      `sv1.${version}.${nonceText.slice(0, 15)}+.${bodyText}`,
      `sv1.${version}.${nonceText.slice(0, 15)}/.${bodyText}`,
      `sv1.${version}.${nonceText.slice(0, 15)}%.${bodyText}`,
    ];
    for (const variant of variants) expectCryptoError(() => open(key, variant, ctx), 'MALFORMED');
  });

  it('refuses standard-alphabet characters that Node would read as url-safe', () => {
    // Find a sealed value whose ciphertext text contains '-' or '_' and swap in '+' or '/'.
    let sample = seal(key, 1, payload, ctx);
    while (!/[-_]/.test(sample.split('.')[3] ?? '')) sample = seal(key, 1, payload, ctx);
    const swapped = sample.replace(/^(sv1\.1\.[^.]+\.)(.*)$/, (_m, head: string, tail: string) => head + tail.replace('-', '+').replace('_', '/'));
    expect(swapped).not.toBe(sample);
    expectCryptoError(() => open(key, swapped, ctx), 'MALFORMED');
  });

  it.each([
    ['empty', ''],
    ['prefix only', 'sv1.'],
    ['no version', `sv1..${nonce.toString('base64url')}.${body.toString('base64url')}`],
    ['version 0', text.replace(/^sv1\.7\./, 'sv1.0.')],
    ['leading zero', text.replace(/^sv1\.7\./, 'sv1.07.')],
    ['signed version', text.replace(/^sv1\.7\./, 'sv1.+7.')],
    ['negative version', text.replace(/^sv1\.7\./, 'sv1.-7.')],
    ['exponent version', text.replace(/^sv1\.7\./, 'sv1.7e0.')],
    ['spaced version', text.replace(/^sv1\.7\./, 'sv1. 7.')],
    ['version too large', text.replace(/^sv1\.7\./, 'sv1.2147483648.')],
    ['version far too large', text.replace(/^sv1\.7\./, 'sv1.99999999999999999999.')],
    ['three parts', `sv1.7.${nonce.toString('base64url')}${body.toString('base64url')}`],
    ['five parts', `${text}.${body.toString('base64url')}`],
    ['empty ciphertext', `sv1.7.${nonce.toString('base64url')}.`],
    ['ciphertext shorter than a tag', `sv1.7.${nonce.toString('base64url')}.${body.subarray(0, 15).toString('base64url')}`],
    ['short nonce', `sv1.7.${nonce.subarray(0, 11).toString('base64url')}.${body.toString('base64url')}`],
    ['long nonce', `sv1.7.${Buffer.concat([nonce, nonce.subarray(0, 3)]).toString('base64url')}.${body.toString('base64url')}`],
    ['upper-case prefix', text.replace(/^sv1/, 'SV1')],
    ['no prefix', text.slice(4)],
    ['a Fernet token', 'gAAAAABlU_EByecTrZgJc9CskoRGLWQypX2vwllwRTQSKnJ8YcTWdT6RgIrK1SXj30LJ6Yc5gFpfJ17rNkxgUQfqLoTgTj2tTg=='],
    ['leading space', ` ${text}`],
  ])('refuses %s with MALFORMED', (_name, bad) => {
    expectCryptoError(() => open(key, bad, ctx), 'MALFORMED');
  });

  it('refuses unknown format versions with UNSUPPORTED_VERSION', () => {
    for (const prefix of ['sv2.', 'sv9.', 'sv0.', 'sv10.', 'sv11.']) {
      const other = prefix + text.slice(4);
      expectCryptoError(() => open(key, other, ctx), 'UNSUPPORTED_VERSION');
      expectCryptoError(() => sealedKeyVersion(other), 'UNSUPPORTED_VERSION');
    }
  });

  it('refuses a non-string', () => {
    expectCryptoError(() => open(key, 42 as unknown as string, ctx), 'MALFORMED');
    expectCryptoError(() => open(key, null as unknown as string, ctx), 'MALFORMED');
  });

  it('fails with a CryptoError for random edits of the text (property)', () => {
    fc.assert(
      fc.property(fc.nat({ max: text.length - 1 }), fc.string({ minLength: 1, maxLength: 3 }), fc.nat({ max: 3 }), (at, insert, removed) => {
        const edited = text.slice(0, at) + insert + text.slice(at + removed);
        fc.pre(edited !== text);
        expectCryptoError(() => open(key, edited, ctx));
      }),
      { numRuns: 500 },
    );
  });
});

describe('sealedKeyVersion and isSealed', () => {
  it('reads the key version from the header without a key', () => {
    expect(sealedKeyVersion(seal(key, 1, 1, ctx))).toBe(1);
    expect(sealedKeyVersion(seal(key, 2_147_483_647, 1, ctx))).toBe(2_147_483_647);
  });

  it('is strict about the header', () => {
    const text = seal(key, 3, 1, ctx);
    for (const bad of ['', 'sv1.', 'sv1.3', 'sv1.03.x.y', 'sv1.0.x.y', 'sv1.-1.x.y', 'sv1.3.x', 'sv1.3.x.y.z', 'SV1.3.x.y', text.slice(4)]) {
      expectCryptoError(() => sealedKeyVersion(bad), 'MALFORMED');
    }
  });

  it('isSealed checks the sv1 prefix only', () => {
    expect(isSealed(seal(key, 1, 1, ctx))).toBe(true);
    expect(isSealed('sv1.')).toBe(true);
    for (const other of ['', 'sv1', 'sv2.1.x.y', 'SV1.1.x.y', 'gAAAAABl', ' sv1.1.x.y', '{"stopLoss":1}']) expect(isSealed(other)).toBe(false);
    expect(isSealed(undefined as unknown as string)).toBe(false);
  });
});

describe('seal arguments', () => {
  it('refuses values without a JSON representation with PAYLOAD_INVALID', () => {
    const circular: Record<string, unknown> = {};
    circular.me = circular;
    for (const bad of [undefined, () => 1, Symbol('s'), 1n, { n: 2n }, circular, { toJSON: () => { throw new Error('boom'); } }]) {
      expectCryptoError(() => seal(key, 1, bad, ctx), 'PAYLOAD_INVALID');
    }
  });

  it('refuses a data key that is not 32 bytes with KEY_INVALID', () => {
    for (const bad of [Buffer.alloc(16), Buffer.alloc(31), Buffer.alloc(33), 'k'.repeat(32), new Uint8Array(32)]) {
      expectCryptoError(() => seal(bad as Buffer, 1, 1, ctx), 'KEY_INVALID');
      expectCryptoError(() => open(bad as Buffer, seal(key, 1, 1, ctx), ctx), 'KEY_INVALID');
    }
  });

  it('refuses key versions outside 1..2147483647', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 2_147_483_648, Infinity]) expect(() => seal(key, bad, 1, ctx)).toThrow(RangeError);
  });

  it('refuses context fields that are not well-formed strings', () => {
    expect(() => seal(key, 1, 1, { ...ctx, rowId: '\uD800' })).toThrow(TypeError);
    expect(() => seal(key, 1, 1, { ...ctx, rowId: 'a\uDC00b' })).toThrow(TypeError);
    expect(() => seal(key, 1, 1, { ...ctx, rowId: 5 as unknown as string })).toThrow(TypeError);
    expect(() => open(key, seal(key, 1, 1, ctx), { ...ctx, ownerId: undefined as unknown as string })).toThrow(TypeError);
  });
});
