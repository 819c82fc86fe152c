// Fernet (https://github.com/fernet/spec), to read and rotate tokens written by Python's
// `cryptography` in the system this one replaces. Token bytes:
//   0x80 | timestamp (u64 BE, seconds) | IV (16) | AES-128-CBC ciphertext, PKCS7 (16·n, n ≥ 1) | HMAC-SHA256 (32)
// url-safe base64 with '=' padding. Key: url-safe base64 of 32 bytes, signing key then encryption key.
//
// Verification order: strict base64url → version byte → length → HMAC (constant time) → clock
// checks → decrypt → PKCS7 padding. Error codes:
//   MALFORMED            not canonical padded base64url, shorter than 73 bytes, ciphertext not a multiple of 16
//   UNSUPPORTED_VERSION  first byte is not 0x80
//   AUTH_FAILED          HMAC does not verify, or (after a valid HMAC) PKCS7 padding is invalid: the
//                        token was not encrypted with this key's encryption half
//   TOKEN_EXPIRED        ttlSeconds given and timestamp + ttl < now
//   TOKEN_FROM_FUTURE    timestamp > now + 60 s (checked always, with or without ttl)
// Clock checks come after the HMAC, so they only ever report on authentic tokens.
import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { CryptoError } from './errors.js';
import { decodeBase64UrlPaddedStrict, decodeKeyText, encodeBase64UrlPadded, ownCopy } from './encoding.js';

export interface FernetDecryptOptions {
  /** Maximum token age in seconds; older tokens fail with TOKEN_EXPIRED. */
  ttlSeconds?: number;
  /** The current time (default: the system clock). */
  now?: Date;
}

const VERSION = 0x80;
const HEADER_BYTES = 1 + 8 + 16; // version, timestamp, IV
const HMAC_BYTES = 32;
const BLOCK = 16;
const MIN_TOKEN_BYTES = HEADER_BYTES + BLOCK + HMAC_BYTES;
export const FERNET_MAX_CLOCK_SKEW_SECONDS = 60;

interface FernetKeys {
  readonly signing: Buffer;
  readonly encryption: Buffer;
}

// Key halves live here, out of reach of JSON.stringify, util.inspect and property enumeration.
const keysOf = new WeakMap<Fernet, FernetKeys>();

function keys(fernet: Fernet): FernetKeys {
  const found = keysOf.get(fernet);
  if (found === undefined) throw new TypeError('not a Fernet instance');
  return found;
}

function toBytes(data: string | Uint8Array): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('Fernet data must be a string or a Uint8Array');
}

function nowSeconds(now: Date | undefined): number {
  const ms = now === undefined ? Date.now() : now.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('now must be a valid Date');
  return Math.floor(ms / 1000);
}

interface ParsedToken {
  readonly bytes: Buffer; // the whole token
  readonly timestamp: number; // seconds; Infinity when beyond Number.MAX_SAFE_INTEGER
}

function parseToken(token: string): ParsedToken {
  if (typeof token !== 'string') throw new CryptoError('MALFORMED', 'Fernet token is not a string');
  const bytes = decodeBase64UrlPaddedStrict(token);
  if (bytes === undefined) throw new CryptoError('MALFORMED', 'Fernet token is not canonical url-safe base64 with padding');
  if (bytes.length === 0) throw new CryptoError('MALFORMED', 'Fernet token is empty');
  if (bytes[0] !== VERSION) throw new CryptoError('UNSUPPORTED_VERSION', 'Fernet token version byte is not 0x80');
  if (bytes.length < MIN_TOKEN_BYTES) throw new CryptoError('MALFORMED', `Fernet token is ${bytes.length} bytes, shorter than the minimum ${MIN_TOKEN_BYTES}`);
  if ((bytes.length - HEADER_BYTES - HMAC_BYTES) % BLOCK !== 0) {
    throw new CryptoError('MALFORMED', 'Fernet token ciphertext is not a multiple of the 16-byte block size');
  }
  const big = bytes.readBigUInt64BE(1);
  const timestamp = big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : Number.POSITIVE_INFINITY;
  return { bytes, timestamp };
}

function hmacVerifies(signing: Buffer, bytes: Buffer): boolean {
  const macStart = bytes.length - HMAC_BYTES;
  const expected = createHmac('sha256', signing).update(bytes.subarray(0, macStart)).digest();
  return timingSafeEqual(expected, bytes.subarray(macStart));
}

function checkClock(timestamp: number, opts: FernetDecryptOptions | undefined): void {
  const now = nowSeconds(opts?.now);
  const ttl = opts?.ttlSeconds;
  if (ttl !== undefined) {
    if (typeof ttl !== 'number' || !(ttl >= 0)) throw new RangeError('ttlSeconds must be a number ≥ 0');
    if (timestamp + ttl < now) throw new CryptoError('TOKEN_EXPIRED', `Fernet token is older than its ${ttl}-second time to live`);
  }
  if (timestamp > now + FERNET_MAX_CLOCK_SKEW_SECONDS) {
    throw new CryptoError('TOKEN_FROM_FUTURE', `Fernet token timestamp is more than ${FERNET_MAX_CLOCK_SKEW_SECONDS} s in the future`);
  }
}

// Decrypts a token whose HMAC has been verified; PKCS7 padding is checked by OpenSSL.
function decryptVerified(encryption: Buffer, bytes: Buffer): Buffer {
  const iv = bytes.subarray(9, HEADER_BYTES);
  const ciphertext = bytes.subarray(HEADER_BYTES, bytes.length - HMAC_BYTES);
  const decipher = createDecipheriv('aes-128-cbc', encryption, iv);
  const head = decipher.update(ciphertext);
  let tail: Buffer;
  try {
    tail = decipher.final();
  } catch {
    head.fill(0);
    throw new CryptoError('AUTH_FAILED', 'Fernet token has a valid HMAC but invalid padding (not encrypted with this key)');
  }
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}

const authFailed = (): CryptoError => new CryptoError('AUTH_FAILED', 'Fernet token HMAC does not verify (tampered or another key)');

export class Fernet {
  /** url-safe base64 (standard base64 tolerated) of 32 bytes: signing key, then encryption key. */
  constructor(key: string) {
    if (typeof key !== 'string') throw new CryptoError('KEY_INVALID', 'Fernet key must be a string');
    const bytes = decodeKeyText(key.trim());
    if (bytes === undefined) throw new CryptoError('KEY_INVALID', 'Fernet key is not valid base64');
    if (bytes.length !== 32) throw new CryptoError('KEY_INVALID', `Fernet key decodes to ${bytes.length} bytes, expected 32`);
    keysOf.set(this, { signing: ownCopy(bytes.subarray(0, 16)), encryption: ownCopy(bytes.subarray(16)) });
    bytes.fill(0);
  }

  /** A fresh key in Python's format: url-safe base64 with padding (44 characters). */
  static generateKey(): string {
    return encodeBase64UrlPadded(randomBytes(32));
  }

  encrypt(data: string | Uint8Array): string {
    return this.encryptAtTime(data, Math.floor(Date.now() / 1000));
  }

  /** Encrypts with the given timestamp (seconds) and, for test vectors only, a given 16-byte IV. */
  encryptAtTime(data: string | Uint8Array, timestampSeconds: number, iv?: Uint8Array): string {
    if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
      throw new RangeError('timestampSeconds must be a non-negative safe integer');
    }
    if (iv !== undefined && (!(iv instanceof Uint8Array) || iv.byteLength !== 16)) throw new RangeError('iv must be 16 bytes');
    const { signing, encryption } = keys(this);
    const plain = toBytes(data);
    const ivBytes = iv === undefined ? randomBytes(16) : iv;
    const cipher = createCipheriv('aes-128-cbc', encryption, ivBytes);
    const head = cipher.update(plain);
    const tail = cipher.final();
    const macStart = HEADER_BYTES + head.length + tail.length;
    const token = Buffer.allocUnsafe(macStart + HMAC_BYTES);
    token[0] = VERSION;
    token.writeBigUInt64BE(BigInt(timestampSeconds), 1);
    token.set(ivBytes, 9);
    head.copy(token, HEADER_BYTES);
    tail.copy(token, HEADER_BYTES + head.length);
    createHmac('sha256', signing).update(token.subarray(0, macStart)).digest().copy(token, macStart);
    return encodeBase64UrlPadded(token);
  }

  decrypt(token: string, opts?: FernetDecryptOptions): Buffer {
    const parsed = parseToken(token);
    const { signing, encryption } = keys(this);
    if (!hmacVerifies(signing, parsed.bytes)) throw authFailed();
    checkClock(parsed.timestamp, opts);
    return decryptVerified(encryption, parsed.bytes);
  }

  /** The token's timestamp in seconds, after verifying its HMAC (no clock checks). */
  extractTimestamp(token: string): number {
    const parsed = parseToken(token);
    if (!hmacVerifies(keys(this).signing, parsed.bytes)) throw authFailed();
    if (!Number.isFinite(parsed.timestamp)) throw new CryptoError('MALFORMED', 'Fernet token timestamp is out of range');
    return parsed.timestamp;
  }

  toJSON(): string {
    return '[Fernet]';
  }

  toString(): string {
    return '[Fernet]';
  }

  [inspect.custom](): string {
    return 'Fernet { key: <redacted> }';
  }
}

export class MultiFernet {
  readonly #fernets: readonly Fernet[];

  constructor(fernets: readonly Fernet[]) {
    if (!Array.isArray(fernets) || fernets.length === 0) throw new CryptoError('KEY_INVALID', 'MultiFernet needs at least one key');
    for (const f of fernets) if (!(f instanceof Fernet)) throw new TypeError('MultiFernet takes Fernet instances');
    this.#fernets = [...fernets];
  }

  get size(): number {
    return this.#fernets.length;
  }

  encrypt(data: string | Uint8Array): string {
    return (this.#fernets[0] as Fernet).encrypt(data);
  }

  decrypt(token: string, opts?: FernetDecryptOptions): Buffer {
    const parsed = parseToken(token);
    const { encryption } = this.#verifyingKeys(parsed);
    checkClock(parsed.timestamp, opts);
    return decryptVerified(encryption, parsed.bytes);
  }

  /** Decrypts with any key and re-encrypts under the first, keeping the original timestamp. */
  rotate(token: string): string {
    const parsed = parseToken(token);
    const { encryption } = this.#verifyingKeys(parsed);
    if (!Number.isFinite(parsed.timestamp)) throw new CryptoError('MALFORMED', 'Fernet token timestamp is out of range');
    // As Python's MultiFernet.rotate: no clock checks, the timestamp is carried over unchanged.
    const plain = decryptVerified(encryption, parsed.bytes);
    try {
      return (this.#fernets[0] as Fernet).encryptAtTime(plain, parsed.timestamp);
    } finally {
      plain.fill(0);
    }
  }

  // The keys of the first Fernet whose signing key verifies the HMAC.
  #verifyingKeys(parsed: ParsedToken): FernetKeys {
    for (const f of this.#fernets) {
      const k = keys(f);
      if (hmacVerifies(k.signing, parsed.bytes)) return k;
    }
    throw new CryptoError('AUTH_FAILED', `Fernet token HMAC does not verify under any of the ${this.#fernets.length} keys`);
  }

  toJSON(): string {
    return `[MultiFernet ${this.#fernets.length} keys]`;
  }

  toString(): string {
    return `[MultiFernet ${this.#fernets.length} keys]`;
  }

  [inspect.custom](): string {
    return `MultiFernet { keys: ${this.#fernets.length} }`;
  }
}

/** SIGNALS_LEGACY_FERNET_KEYS: comma-separated Fernet keys, the first used to encrypt. */
export function parseLegacyFernetKeys(text: string): MultiFernet {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new CryptoError('KEYRING_INVALID', 'SIGNALS_LEGACY_FERNET_KEYS is empty; expected comma-separated Fernet keys');
  }
  const fernets = text.split(',').map((entry, index) => {
    const key = entry.trim();
    if (key === '') throw new CryptoError('KEYRING_INVALID', `SIGNALS_LEGACY_FERNET_KEYS: entry ${index + 1} is empty`);
    try {
      return new Fernet(key);
    } catch (err) {
      const reason = err instanceof CryptoError ? err.message : 'invalid key';
      throw new CryptoError('KEYRING_INVALID', `SIGNALS_LEGACY_FERNET_KEYS: entry ${index + 1}: ${reason}`);
    }
  });
  return new MultiFernet(fernets);
}
