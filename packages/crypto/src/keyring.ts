// Key-encryption keys (KEKs) from SIGNALS_MASTER_KEYS: "id:base64key,id:base64key", the first
// entry primary (it wraps new data keys), the others kept so that older wrapped keys still open.
import type { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { CryptoError } from './errors.js';
import { decodeKeyText, ownCopy } from './encoding.js';

export interface Kek {
  readonly id: string;
  readonly key: Buffer; // 32 bytes
}

export const KEK_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const KEK_BYTES = 32;

// A KEK as handed out: `key` is readable, but the object never prints or serialises it.
function makeKek(id: string, key: Buffer): Kek {
  const kek = { id, key };
  Object.defineProperties(kek, {
    toJSON: { value: () => ({ id }) },
    toString: { value: () => `[Kek ${id}]` },
    [inspect.custom]: { value: () => `Kek { id: ${JSON.stringify(id)}, key: <redacted> }` },
  });
  return Object.freeze(kek);
}

function invalid(message: string): CryptoError {
  return new CryptoError('KEYRING_INVALID', `SIGNALS_MASTER_KEYS: ${message}`);
}

export class Keyring {
  readonly primary: Kek;
  readonly ids: readonly string[];
  readonly #keks: ReadonlyMap<string, Kek>;

  private constructor(keks: readonly Kek[]) {
    const first = keks[0];
    if (first === undefined) throw invalid('no keys');
    this.primary = first;
    this.ids = Object.freeze(keks.map((k) => k.id));
    this.#keks = new Map(keks.map((k) => [k.id, k]));
  }

  /**
   * Parses "id:base64key,id:base64key". Ids match KEK_ID_PATTERN and are unique; keys are
   * standard or url-safe base64 of exactly 32 bytes. Whitespace around entries, ids and keys is
   * ignored. Errors name the entry (1-based position, and the id once it is known to be valid),
   * never the key text.
   */
  static parse(text: string): Keyring {
    if (typeof text !== 'string' || text.trim() === '') throw invalid('is empty; expected "id:base64key[,id:base64key…]"');
    const keks: Kek[] = [];
    const seen = new Set<string>();
    text.split(',').forEach((rawEntry, index) => {
      const position = index + 1;
      const entry = rawEntry.trim();
      if (entry === '') throw invalid(`entry ${position} is empty`);
      const colon = entry.indexOf(':');
      if (colon < 0) throw invalid(`entry ${position} has no ':' between key id and key`);
      const id = entry.slice(0, colon).trim();
      const keyText = entry.slice(colon + 1).trim();
      if (!KEK_ID_PATTERN.test(id)) {
        throw invalid(`entry ${position}: key id (${id.length} characters) must be 1-32 of A-Z a-z 0-9 _ -`);
      }
      if (seen.has(id)) throw invalid(`entry ${position}: key id "${id}" is used more than once`);
      seen.add(id);
      if (keyText === '') throw invalid(`entry ${position} (id "${id}"): key is empty`);
      const key = decodeKeyText(keyText);
      if (key === undefined) throw invalid(`entry ${position} (id "${id}"): key is not valid base64`);
      if (key.length !== KEK_BYTES) {
        throw invalid(`entry ${position} (id "${id}"): key decodes to ${key.length} bytes, expected ${KEK_BYTES}`);
      }
      keks.push(makeKek(id, ownCopy(key)));
      key.fill(0);
    });
    return new Keyring(keks);
  }

  /** "id:base64key" with a fresh random 32-byte key; default id `k<yyyymmdd><6 hex>` (UTC date). */
  static generateEntry(id?: string): string {
    const kekId = id ?? `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}${randomBytes(3).toString('hex')}`;
    if (!KEK_ID_PATTERN.test(kekId)) throw invalid(`key id (${kekId.length} characters) must be 1-32 of A-Z a-z 0-9 _ -`);
    return `${kekId}:${randomBytes(KEK_BYTES).toString('base64')}`;
  }

  get(id: string): Kek | undefined {
    return this.#keks.get(id);
  }

  require(id: string): Kek {
    const kek = this.#keks.get(id);
    if (kek === undefined) {
      const shown = KEK_ID_PATTERN.test(id) ? `"${id}"` : '(malformed id)';
      throw new CryptoError('UNKNOWN_KEY', `key-encryption key ${shown} is not in the keyring`);
    }
    return kek;
  }

  toJSON(): { primary: string; ids: readonly string[] } {
    return { primary: this.primary.id, ids: this.ids };
  }

  toString(): string {
    return `[Keyring primary=${this.primary.id} ids=${this.ids.join(',')}]`;
  }

  [inspect.custom](): string {
    return `Keyring { primary: ${JSON.stringify(this.primary.id)}, ids: ${JSON.stringify(this.ids)} }`;
  }
}
