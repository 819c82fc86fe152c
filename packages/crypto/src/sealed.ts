// The sealed owner-only payload:
//   sv1.<keyVersion decimal>.<nonce b64url>.<ciphertext+tag b64url>
// JSON text encrypted with AES-256-GCM under the owner's data key, a fresh 96-bit nonce per seal,
// and associated data that binds the value to its table, column, row, owner and key version.
// The layout is frozen: see docs/ciphertext-format.md.
import { Buffer, isAscii } from 'node:buffer';
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { CryptoError } from './errors.js';
import { decodeBase64UrlStrict, isKeyVersion, isPrintableAscii, lengthPrefix, lengthPrefixedUtf8, parseKeyVersion } from './encoding.js';

export interface SealContext {
  table: string;
  column: string;
  rowId: string;
  ownerId: string;
}

export const SEALED_PREFIX = 'sv1.';
const FORMAT = 'sv1';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const NONCE_CHARS = 16; // 12 bytes → 16 base64url characters, no padding
const TAG_BYTES = 16;
const NONCE_TEXT = /^[A-Za-z0-9_-]{16}$/;
const GCM_OPTIONS = { authTagLength: TAG_BYTES } as const;

// Nonces are views into a block of CSPRNG output that is refilled every 341 seals: one
// randomFillSync call per block instead of one per seal. Each 12-byte window is handed out once.
// A view stays valid only until the next refill, which is enough: seal() uses its nonce
// synchronously (createCipheriv copies it, the text encoding reads it) and never keeps it.
const NONCE_POOL_SIZE = 4092; // 341 nonces
const noncePool = Buffer.alloc(NONCE_POOL_SIZE);
let noncePoolOffset = NONCE_POOL_SIZE;

function freshNonce(): Buffer {
  if (noncePoolOffset + NONCE_BYTES > NONCE_POOL_SIZE) {
    randomFillSync(noncePool);
    noncePoolOffset = 0;
  }
  const nonce = noncePool.subarray(noncePoolOffset, noncePoolOffset + NONCE_BYTES);
  noncePoolOffset += NONCE_BYTES;
  return nonce;
}

function checkDataKey(dataKey: unknown): asserts dataKey is Buffer {
  if (!Buffer.isBuffer(dataKey) || dataKey.length !== KEY_BYTES) {
    throw new CryptoError('KEY_INVALID', `data key must be a ${KEY_BYTES}-byte Buffer`);
  }
}

// lengthPrefixed([FORMAT, table, column, rowId, ownerId, String(keyVersion)]), unrolled for the
// hot path: one latin1 string converted in one native call when every field is printable ASCII.
const AAD_HEAD = lengthPrefix(FORMAT.length) + FORMAT;

function associatedData(keyVersion: number, ctx: SealContext): Buffer {
  if (typeof ctx !== 'object' || ctx === null) throw new TypeError('seal context must be { table, column, rowId, ownerId }');
  const { table, column, rowId, ownerId } = ctx;
  if (typeof table !== 'string' || typeof column !== 'string' || typeof rowId !== 'string' || typeof ownerId !== 'string') {
    throw new TypeError('seal context: table, column, rowId and ownerId must be strings');
  }
  const version = String(keyVersion);
  if (!isPrintableAscii(table) || !isPrintableAscii(column) || !isPrintableAscii(rowId) || !isPrintableAscii(ownerId)) {
    return lengthPrefixedUtf8([FORMAT, table, column, rowId, ownerId, version], 'seal context');
  }
  return Buffer.from(
    AAD_HEAD +
      lengthPrefix(table.length) + table +
      lengthPrefix(column.length) + column +
      lengthPrefix(rowId.length) + rowId +
      lengthPrefix(ownerId.length) + ownerId +
      lengthPrefix(version.length) + version,
    'latin1',
  );
}

export function seal(dataKey: Buffer, keyVersion: number, value: unknown, ctx: SealContext): string {
  checkDataKey(dataKey);
  if (!isKeyVersion(keyVersion)) throw new RangeError('key version must be an integer from 1 to 2147483647');
  const aad = associatedData(keyVersion, ctx);
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    // The engine's message can quote property names of the value: do not pass it on.
    throw new CryptoError('PAYLOAD_INVALID', 'value is not JSON-serialisable (circular structure, BigInt or a throwing toJSON)');
  }
  if (json === undefined) throw new CryptoError('PAYLOAD_INVALID', 'value has no JSON representation (undefined, a function or a symbol)');
  const nonce = freshNonce();
  const cipher = createCipheriv('aes-256-gcm', dataKey, nonce, GCM_OPTIONS);
  cipher.setAAD(aad);
  // The cipher reads the string itself (no intermediate Buffer); for ASCII text latin1 gives the
  // same bytes as UTF-8 with a plain copy.
  const body = cipher.update(json, Buffer.byteLength(json, 'utf8') === json.length ? 'latin1' : 'utf8');
  cipher.final(); // GCM is a stream mode: final() adds no bytes, it computes the tag
  // base64url(body ‖ tag) without copying the body: base64 of a concatenation is the
  // concatenation of the parts' base64 when the first part is a multiple of 3 bytes long.
  const split = body.length - (body.length % 3);
  const tail = Buffer.concat([body.subarray(split), cipher.getAuthTag()]);
  return `${FORMAT}.${keyVersion}.${nonce.toString('base64url')}.${body.toString('base64url', 0, split)}${tail.toString('base64url')}`;
}

export function isSealed(text: string): boolean {
  return typeof text === 'string' && text.startsWith(SEALED_PREFIX);
}

function malformed(detail: string): CryptoError {
  return new CryptoError('MALFORMED', `sealed value is malformed: ${detail}`);
}

// Why text that does not start with "sv1." is refused.
function wrongPrefix(text: string): CryptoError {
  if (/^sv[0-9]+\./.test(text)) return new CryptoError('UNSUPPORTED_VERSION', 'sealed value has an unsupported format version');
  return malformed('does not start with "sv1."');
}

interface Parsed {
  keyVersion: number;
  nonceText: string;
  sealedText: string;
}

function parseParts(text: string): Parsed {
  if (typeof text !== 'string') throw malformed('not a string');
  if (!text.startsWith(SEALED_PREFIX)) throw wrongPrefix(text);
  const versionEnd = text.indexOf('.', 4);
  if (versionEnd < 0) throw malformed('expected 4 dot-separated parts');
  const keyVersion = parseKeyVersion(text.slice(4, versionEnd));
  if (keyVersion === undefined) throw malformed('key version must be a positive decimal integer without leading zeros');
  const nonceEnd = versionEnd + 1 + NONCE_CHARS;
  if (text.charCodeAt(nonceEnd) !== 0x2e /* . */ || text.indexOf('.', versionEnd + 1) !== nonceEnd) {
    throw malformed(`expected 4 dot-separated parts with a ${NONCE_CHARS}-character nonce`);
  }
  const sealedText = text.slice(nonceEnd + 1);
  if (sealedText.includes('.')) throw malformed('expected 4 dot-separated parts');
  return { keyVersion, nonceText: text.slice(versionEnd + 1, nonceEnd), sealedText };
}

/** The data key version named in the header (does not decrypt). */
export function sealedKeyVersion(text: string): number {
  return parseParts(text).keyVersion;
}

export function open(dataKey: Buffer, text: string, ctx: SealContext): unknown {
  checkDataKey(dataKey);
  const { keyVersion, nonceText, sealedText } = parseParts(text);
  // 16 alphabet characters carry exactly 96 bits (no padding, no spare bits): always canonical.
  if (!NONCE_TEXT.test(nonceText)) throw malformed('nonce is not canonical base64url of 12 bytes');
  const nonce = Buffer.from(nonceText, 'base64url');
  const sealed = decodeBase64UrlStrict(sealedText);
  if (sealed === undefined) throw malformed('ciphertext is not canonical base64url');
  if (sealed.length < TAG_BYTES) throw malformed('ciphertext is shorter than the 16-byte tag');
  const tagStart = sealed.length - TAG_BYTES;
  const decipher = createDecipheriv('aes-256-gcm', dataKey, nonce, GCM_OPTIONS);
  decipher.setAAD(associatedData(keyVersion, ctx));
  decipher.setAuthTag(sealed.subarray(tagStart));
  const plain = decipher.update(sealed.subarray(0, tagStart));
  try {
    decipher.final();
  } catch {
    plain.fill(0); // unauthenticated output: never let it linger
    throw new CryptoError(
      'AUTH_FAILED',
      'sealed value did not authenticate (tampered, wrong data key, or bound to another row, column, owner or key version)',
    );
  }
  try {
    // latin1 decoding is the same as UTF-8 for ASCII bytes, and faster.
    return JSON.parse(isAscii(plain) ? plain.toString('latin1') : plain.toString('utf8'));
  } catch {
    throw new CryptoError('PAYLOAD_INVALID', 'sealed value decrypted to bytes that are not JSON');
  }
}
