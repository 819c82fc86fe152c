// Strict text encodings shared by the formats (internal, not exported from the package).
// Node's base64 decoders are lenient (they skip unknown characters, whitespace and padding, and
// ignore non-zero trailing bits), so every decoder here re-encodes the bytes and compares with the
// input: exactly one text is accepted for each byte string.
import { Buffer } from 'node:buffer';

/** Canonical unpadded base64url (RFC 4648 §5) → bytes, or undefined when not canonical. */
export function decodeBase64UrlStrict(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/**
 * decodeBase64UrlStrict into `out`, for callers that reuse memory: the number of bytes written at
 * the start of `out`, or -1 when the text is not canonical. `out` needs room for 3/4 of the text's
 * length; text that does not fit is refused (-1), never half read.
 */
export function decodeBase64UrlStrictInto(text: string, out: Buffer): number {
  const length = out.write(text, 0, 'base64url');
  return out.toString('base64url', 0, length) === text ? length : -1;
}

/** The '=' padding that standard base64 appends for `byteLength` bytes. */
export function base64Padding(byteLength: number): string {
  const rest = byteLength % 3;
  return rest === 0 ? '' : rest === 1 ? '==' : '=';
}

/** Bytes → base64url WITH '=' padding (what Python's base64.urlsafe_b64encode writes). */
export function encodeBase64UrlPadded(bytes: Buffer): string {
  return bytes.toString('base64url') + base64Padding(bytes.length);
}

/** Canonical padded base64url → bytes, or undefined when not canonical. */
export function decodeBase64UrlPaddedStrict(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64url');
  return encodeBase64UrlPadded(bytes) === text ? bytes : undefined;
}

const KEY_TEXT = /^([A-Za-z0-9+/]*|[A-Za-z0-9_-]*)(=*)$/;

/**
 * Key text in standard or url-safe base64 (one alphabet, not mixed), padding optional but exact
 * when present, canonical (no stray trailing bits) → bytes, or undefined.
 */
export function decodeKeyText(text: string): Buffer | undefined {
  const match = KEY_TEXT.exec(text);
  if (match === null) return undefined;
  const body = match[1] ?? '';
  const padding = match[2] ?? '';
  const bytes = Buffer.from(body, 'base64url'); // Node's decoder reads both alphabets
  let canonical = bytes.toString('base64url');
  if (/[+/]/.test(body)) canonical = canonical.replaceAll('-', '+').replaceAll('_', '/');
  if (canonical !== body) return undefined;
  if (padding !== '' && padding !== base64Padding(bytes.length)) return undefined;
  return bytes;
}

const LONE_SURROGATE = /\p{Surrogate}/u;
const NOT_PRINTABLE_ASCII = /[^ -~]/;

/**
 * Unambiguous encoding of a list of strings for associated data: each field is its UTF-8 byte
 * length as a 4-byte big-endian unsigned integer followed by its UTF-8 bytes. Strings with lone
 * surrogates are refused: UTF-8 would turn different ones into the same U+FFFD bytes.
 */
export function lengthPrefixed(fields: readonly string[], what: string): Buffer {
  // Fast path for the usual printable-ASCII fields (ids, table and column names): build the bytes
  // as one latin1 string, where every character is one byte, and convert it in one native call.
  // Anything else takes the general UTF-8 path; both give the same bytes.
  let latin1 = '';
  for (const field of fields) {
    if (typeof field !== 'string') throw new TypeError(`${what}: every context field must be a string`);
    if (NOT_PRINTABLE_ASCII.test(field)) return lengthPrefixedUtf8(fields, what);
    latin1 += lengthPrefix(field.length) + field;
  }
  return Buffer.from(latin1, 'latin1');
}

/** The 4-byte big-endian length prefix as a latin1 string (one character per byte). */
export function lengthPrefix(n: number): string {
  return n < 0x100 ? `\0\0\0${String.fromCharCode(n)}` : String.fromCharCode(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

export function lengthPrefixedUtf8(fields: readonly string[], what: string): Buffer {
  let total = 0;
  const lengths: number[] = [];
  for (const field of fields) {
    if (LONE_SURROGATE.test(field)) throw new TypeError(`${what}: context field contains a lone UTF-16 surrogate`);
    const length = Buffer.byteLength(field, 'utf8');
    lengths.push(length);
    total += 4 + length;
  }
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (let i = 0; i < fields.length; i++) {
    const length = lengths[i] as number;
    out.writeUInt32BE(length, offset);
    offset += 4;
    offset += out.write(fields[i] as string, offset, length, 'utf8');
  }
  return out;
}

/** A copy of the bytes in memory of its own (small Buffer.from copies share Node's pool slab). */
export function ownCopy(bytes: Uint8Array): Buffer {
  const copy = Buffer.alloc(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

/** Key versions are PostgreSQL `integer`s ≥ 1. */
export const MAX_KEY_VERSION = 2_147_483_647;

export function isKeyVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_KEY_VERSION;
}

const DECIMAL = /^[1-9][0-9]{0,9}$/;

/** Strict decimal key version (no sign, no leading zeros, 1..MAX_KEY_VERSION) or undefined. */
export function parseKeyVersion(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const value = Number(text);
  return value <= MAX_KEY_VERSION ? value : undefined;
}

/**
 * Writes one lengthPrefixed() field, u32 big-endian length ‖ bytes, into `out` at `offset` when
 * the field is ASCII (its UTF-8 bytes are its character codes) and fits; returns the offset after
 * it, or -1 (with `out` partly written) so that the caller takes the general UTF-8 path.
 */
export function writeLengthPrefixedAscii(out: Uint8Array, offset: number, field: string): number {
  const n = field.length;
  if (offset + 4 + n > out.length) return -1;
  out[offset] = n >>> 24;
  out[offset + 1] = (n >>> 16) & 0xff;
  out[offset + 2] = (n >>> 8) & 0xff;
  out[offset + 3] = n & 0xff;
  const start = offset + 4;
  for (let i = 0; i < n; i++) {
    const code = field.charCodeAt(i);
    if (code > 0x7f) return -1;
    out[start + i] = code;
  }
  return start + n;
}
