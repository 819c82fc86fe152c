import { Buffer } from 'node:buffer';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Keyring } from './keyring.js';
import { expectCryptoError } from '../test/helpers.js';

const key32 = (fill: number): Buffer => Buffer.alloc(32, fill);
const b64 = (bytes: Buffer): string => bytes.toString('base64');

describe('Keyring.parse', () => {
  it('reads id:key entries, the first one primary', () => {
    const keyring = Keyring.parse(`k2:${b64(key32(2))},k1:${b64(key32(1))}`);
    expect(keyring.primary.id).toBe('k2');
    expect(keyring.primary.key.equals(key32(2))).toBe(true);
    expect(keyring.ids).toEqual(['k2', 'k1']);
    expect(keyring.get('k1')?.key.equals(key32(1))).toBe(true);
    expect(keyring.get('k3')).toBeUndefined();
    expect(keyring.require('k1').id).toBe('k1');
  });

  it('tolerates whitespace around entries, ids and keys', () => {
    const keyring = Keyring.parse(`  k1 : ${b64(key32(1))} ,\n\tk2:${b64(key32(2))}\n`);
    expect(keyring.ids).toEqual(['k1', 'k2']);
    expect(keyring.get('k2')?.key.equals(key32(2))).toBe(true);
  });

  it('accepts standard and url-safe base64, with or without padding', () => {
    const bytes = Buffer.from(Array.from({ length: 32 }, (_, i) => 0xf8 + i * 37));
    const standard = bytes.toString('base64');
    const urlSafe = bytes.toString('base64url');
    expect(standard).toMatch(/[+/]/); // the test means something only if the alphabets differ
    for (const text of [standard, standard.replace(/=+$/, ''), urlSafe, `${urlSafe}=`]) {
      expect(Keyring.parse(`a:${text}`).primary.key.equals(bytes)).toBe(true);
    }
  });

  it('accepts ids of 1 to 32 characters of A-Z a-z 0-9 _ -', () => {
    for (const id of ['a', 'K_2025-01', 'x'.repeat(32), '0']) expect(Keyring.parse(`${id}:${b64(key32(1))}`).primary.id).toBe(id);
  });

  it('keeps its own copy of each key', () => {
    const keyring = Keyring.parse(`a:${b64(key32(9))}`);
    expect(keyring.primary.key.byteOffset).toBe(0);
    expect(keyring.primary.key.buffer.byteLength).toBe(32);
  });

  const good = b64(key32(7));
  const errors: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['blank', '  \n ', /empty/],
    ['missing colon', good, /entry 1 has no ':'/],
    ['empty entry', `a:${good},`, /entry 2 is empty/],
    ['empty id', `:${good}`, /entry 1: key id/],
    ['id too long', `${'x'.repeat(33)}:${good}`, /entry 1: key id \(33 characters\)/],
    ['id with bad characters', `k.1:${good}`, /entry 1: key id/],
    ['id with a space inside', `k 1:${good}`, /entry 1: key id/],
    ['duplicate ids', `a:${good},b:${good},a:${b64(key32(8))}`, /entry 3: key id "a" is used more than once/],
    ['empty key', 'a:', /entry 1 \(id "a"\): key is empty/],
    ['bad base64 character', `a:${good.slice(0, 10)}!${good.slice(11)}`, /entry 1 \(id "a"\): key is not valid base64/],
    ['mixed alphabets', `a:${'+-'.repeat(21)}AA`, /not valid base64/],
    ['wrong padding', `a:${good.replace(/=$/, '==')}`, /not valid base64/],
    // 'c' → 'd' sets a spare bit: Node would decode the same 32 bytes, we refuse the alternative text.
    ['non-canonical trailing bits', `a:${good.slice(0, 42)}d=`, /not valid base64/],
    ['31-byte key', `a:${b64(Buffer.alloc(31, 7))}`, /decodes to 31 bytes, expected 32/],
    ['33-byte key', `a:${b64(Buffer.alloc(33, 7))}`, /decodes to 33 bytes, expected 32/],
    ['16-byte key in 2nd entry', `a:${good},b:${b64(Buffer.alloc(16, 7))}`, /entry 2 \(id "b"\): key decodes to 16 bytes/],
  ];
  it.each(errors)('refuses %s with KEYRING_INVALID naming the entry', (_name, text, message) => {
    const err = expectCryptoError(() => Keyring.parse(text), 'KEYRING_INVALID');
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/^SIGNALS_MASTER_KEYS/);
    // Never the key text, nor any long run of it.
    const keyParts = text.split(',').map((e) => e.slice(e.indexOf(':') + 1).trim()).filter((k) => k.length >= 8);
    for (const k of keyParts) expect(err.message).not.toContain(k.slice(0, 8));
  });

  it('never echoes key text, whatever the entry looks like (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 40 }), fc.constantFrom('', 'a:', 'bad id:', ':'), (bytes, prefix) => {
        const keyText = Buffer.from(bytes).toString('base64');
        try {
          Keyring.parse(`${prefix}${keyText}`);
        } catch (err) {
          expect(String((err as Error).message)).not.toContain(keyText.slice(0, 12));
          return;
        }
        expect(bytes.length).toBe(32); // only a 32-byte key with a valid id parses
        expect(prefix).toBe('a:');
      }),
    );
  });
});

describe('Keyring.generateEntry', () => {
  it('makes a parseable entry with a fresh 32-byte key', () => {
    const entry = Keyring.generateEntry();
    const keyring = Keyring.parse(entry);
    expect(keyring.primary.key.length).toBe(32);
    expect(keyring.primary.id).toMatch(/^k\d{8}[0-9a-f]{6}$/);
    expect(keyring.primary.id.slice(1, 9)).toBe(new Date().toISOString().slice(0, 10).replaceAll('-', ''));
    const other = Keyring.parse(Keyring.generateEntry());
    expect(other.primary.key.equals(keyring.primary.key)).toBe(false);
    expect(other.primary.id).not.toBe(keyring.primary.id);
  });

  it('uses a given id, and refuses an invalid one', () => {
    expect(Keyring.parse(Keyring.generateEntry('prod-2025')).primary.id).toBe('prod-2025');
    expectCryptoError(() => Keyring.generateEntry('no way'), 'KEYRING_INVALID');
    expectCryptoError(() => Keyring.generateEntry(''), 'KEYRING_INVALID');
  });

  it('makes entries that join into a keyring', () => {
    const keyring = Keyring.parse([Keyring.generateEntry('new'), Keyring.generateEntry('old')].join(','));
    expect(keyring.ids).toEqual(['new', 'old']);
  });
});

describe('Keyring lookups and redaction', () => {
  const keyring = Keyring.parse(`main:${b64(key32(0x41))},old:${b64(key32(0x42))}`);
  const secrets = [b64(key32(0x41)), b64(key32(0x42)), key32(0x41).toString('hex'), key32(0x42).toString('hex'), '65,65,65'];

  it('require throws UNKNOWN_KEY naming the id', () => {
    const err = expectCryptoError(() => keyring.require('gone'), 'UNKNOWN_KEY');
    expect(err.message).toContain('"gone"');
    expect(expectCryptoError(() => keyring.require('not an id!'), 'UNKNOWN_KEY').message).not.toContain('not an id!');
  });

  it('does not reveal keys through JSON, inspect or string conversion', () => {
    const renderings = [
      JSON.stringify(keyring),
      JSON.stringify({ keyring }),
      inspect(keyring, { depth: 10 }),
      String(keyring),
      `${keyring}`,
      JSON.stringify(keyring.primary),
      inspect(keyring.primary, { depth: 10 }),
      String(keyring.require('old')),
      inspect({ nested: [keyring.get('old')] }, { depth: 10 }),
    ];
    for (const text of renderings) for (const secret of secrets) expect(text).not.toContain(secret);
    expect(JSON.parse(JSON.stringify(keyring))).toEqual({ primary: 'main', ids: ['main', 'old'] });
    expect(inspect(keyring)).toContain('main');
  });

  it('hands out frozen KEKs and ids', () => {
    expect(Object.isFrozen(keyring.primary)).toBe(true);
    expect(Object.isFrozen(keyring.ids)).toBe(true);
  });
});
