import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBase64UrlPaddedStrict,
  decodeBase64UrlStrict,
  decodeBase64UrlStrictInto,
  decodeKeyText,
  encodeBase64UrlPadded,
  lengthPrefixed,
  parseKeyVersion,
  writeLengthPrefixedAscii,
} from './encoding.js';

// The documented AAD encoding, written the slow obvious way.
function reference(fields: readonly string[]): Buffer {
  return Buffer.concat(
    fields.flatMap((f) => {
      const bytes = Buffer.from(f, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return [length, bytes];
    }),
  );
}

describe('lengthPrefixed', () => {
  it('matches the documented encoding on its ASCII fast path and its UTF-8 path (property)', () => {
    const field = fc.oneof(fc.string({ unit: 'grapheme-ascii', maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ maxLength: 300 }));
    fc.assert(
      fc.property(fc.array(field, { maxLength: 7 }), (fields) => {
        expect(lengthPrefixed(fields, 'test').equals(reference(fields))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('encodes lengths of 256 and more in all four bytes', () => {
    for (const n of [255, 256, 65_535, 65_536, 70_000]) {
      const fields = ['x'.repeat(n), 'é'.repeat(n % 300)];
      expect(lengthPrefixed(fields, 'test').equals(reference(fields))).toBe(true);
    }
  });

  it('is injective across field boundaries', () => {
    expect(lengthPrefixed(['ab', 'c'], 't').equals(lengthPrefixed(['a', 'bc'], 't'))).toBe(false);
    expect(lengthPrefixed(['', 'a'], 't').equals(lengthPrefixed(['a', ''], 't'))).toBe(false);
  });

  it('refuses lone surrogates, which UTF-8 would merge into U+FFFD', () => {
    expect(() => lengthPrefixed(['\uD800'], 't')).toThrow(TypeError);
    expect(() => lengthPrefixed(['ok', 'x\uDFFF'], 't')).toThrow(TypeError);
    expect(lengthPrefixed(['🚀'], 't').equals(reference(['🚀']))).toBe(true);
  });
});

describe('writeLengthPrefixedAscii', () => {
  it('writes what lengthPrefixed writes for ASCII fields, and declines anything else (property)', () => {
    const field = fc.oneof(fc.string({ unit: 'binary-ascii', maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 40 }));
    fc.assert(
      fc.property(fc.array(field, { maxLength: 6 }), fc.nat({ max: 600 }), (fields, size) => {
        const out = Buffer.alloc(size);
        let end = 0;
        for (const f of fields) if (end >= 0) end = writeLengthPrefixedAscii(out, end, f);
        const ascii = fields.every((f) => Buffer.byteLength(f, 'utf8') === f.length);
        const expected = reference(fields);
        if (ascii && expected.length <= size) expect(out.subarray(0, end).equals(expected)).toBe(true);
        else expect(end).toBe(-1);
      }),
      { numRuns: 500 },
    );
  });
});

describe('strict base64url', () => {
  const canonical = (text: string): boolean => Buffer.from(text, 'base64url').toString('base64url') === text && !/[^A-Za-z0-9_-]/.test(text);

  it('accepts exactly the canonical unpadded text of some bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = Buffer.from(bytes).toString('base64url');
        expect(decodeBase64UrlStrict(text)?.equals(Buffer.from(bytes))).toBe(true);
      }),
    );
    const chars = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= .\n%é'.split(''));
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 24 }), (list) => {
        const text = list.join('');
        expect(decodeBase64UrlStrict(text) !== undefined).toBe(canonical(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes into given memory exactly as decodeBase64UrlStrict does (property)', () => {
    const chars = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= .\n%é\u0141'.split(''));
    const texts = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64url')),
      fc.array(chars, { maxLength: 24 }).map((list) => list.join('')),
    );
    fc.assert(
      fc.property(texts, (text) => {
        const out = Buffer.alloc(64, 0xee);
        const n = decodeBase64UrlStrictInto(text, out);
        const expected = decodeBase64UrlStrict(text);
        if (expected === undefined) expect(n).toBe(-1);
        else expect(out.subarray(0, n).equals(expected)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses text that does not fit the given memory', () => {
    const text = Buffer.alloc(30, 7).toString('base64url');
    expect(decodeBase64UrlStrictInto(text, Buffer.alloc(30))).toBe(30);
    expect(decodeBase64UrlStrictInto(text, Buffer.alloc(29))).toBe(-1);
  });

  it('padded variant accepts exactly what Python urlsafe_b64encode writes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = encodeBase64UrlPadded(Buffer.from(bytes));
        expect(text.length % 4).toBe(0);
        expect(text).toBe(Buffer.from(bytes).toString('base64').replaceAll('+', '-').replaceAll('/', '_'));
        expect(decodeBase64UrlPaddedStrict(text)?.equals(Buffer.from(bytes))).toBe(true);
        if (text.endsWith('=')) expect(decodeBase64UrlPaddedStrict(text.replace(/=+$/, ''))).toBeUndefined();
      }),
    );
  });
});

describe('decodeKeyText', () => {
  it('reads standard or url-safe base64, padded or not, and refuses mixtures and stray bits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 48 }), (bytes) => {
        const b = Buffer.from(bytes);
        for (const text of [b.toString('base64'), b.toString('base64').replace(/=+$/, ''), b.toString('base64url'), encodeBase64UrlPadded(b)]) {
          expect(decodeKeyText(text)?.equals(b)).toBe(true);
        }
      }),
    );
    expect(decodeKeyText('+-AA')).toBeUndefined();
    expect(decodeKeyText('AB==')).toBeUndefined(); // spare bits set
    expect(decodeKeyText('AA=')).toBeUndefined(); // wrong padding
    expect(decodeKeyText('AA===')).toBeUndefined();
    expect(decodeKeyText('A A=')).toBeUndefined();
  });
});

describe('parseKeyVersion', () => {
  it('reads 1..2147483647 in strict decimal only', () => {
    expect(parseKeyVersion('1')).toBe(1);
    expect(parseKeyVersion('2147483647')).toBe(2_147_483_647);
    for (const bad of ['', '0', '01', '-1', '+1', '1.0', '1e3', ' 1', '1 ', '2147483648', '99999999999', '１']) {
      expect(parseKeyVersion(bad)).toBeUndefined();
    }
  });
});
