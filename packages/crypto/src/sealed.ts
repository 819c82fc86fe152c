// The sealed owner-only payload:
//   sv1.<keyVersion decimal>.<nonce b64url>.<ciphertext+tag b64url>
// JSON text encrypted with AES-256-GCM under the owner's data key, a fresh 96-bit nonce per seal,
// and associated data that binds the value to its table, column, row, owner and key version.
// The layout is frozen: see docs/ciphertext-format.md.
import { Buffer, isAscii } from 'node:buffer';
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { CryptoError } from './errors.js';
import { decodeBase64UrlStrictInto, isKeyVersion, lengthPrefixedUtf8, MAX_KEY_VERSION, writeLengthPrefixedAscii } from './encoding.js';

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
const GCM_OPTIONS = { authTagLength: TAG_BYTES } as const;

// How many times the nonce pool and the scratch memory (below) have been used: see there.
let sharedStateUses = 0;

// Nonces are views into a block of CSPRNG output that is refilled every 341 seals: one
// randomFillSync call per block instead of one per seal. Each 12-byte window is handed out once.
// A view stays valid only until the next refill, which is enough: seal() uses its nonce
// synchronously (createCipheriv copies it) and never keeps it. The block's base64url text is made
// at the refill too: 12 bytes are exactly 16 characters, so each nonce's text is a slice of it.
const NONCE_POOL_SIZE = 4092; // 341 nonces
const noncePool = Buffer.alloc(NONCE_POOL_SIZE);
let noncePoolText = '';
let noncePoolOffset = NONCE_POOL_SIZE;

function nextNonceOffset(): number {
  sharedStateUses++;
  if (noncePoolOffset + NONCE_BYTES > NONCE_POOL_SIZE) {
    randomFillSync(noncePool);
    noncePoolText = noncePool.toString('base64url');
    noncePoolOffset = 0;
  }
  const offset = noncePoolOffset;
  noncePoolOffset += NONCE_BYTES;
  return offset;
}

// The data key's own code (see the scratch memory below) sealed or opened while the key was in use.
function reentered(): CryptoError {
  return new CryptoError('KEY_INVALID', 'data key ran code that sealed or opened a value while it was in use (a Buffer with an exotic prototype)');
}

function checkDataKey(dataKey: unknown): asserts dataKey is Buffer {
  if (!Buffer.isBuffer(dataKey) || dataKey.length !== KEY_BYTES) {
    throw new CryptoError('KEY_INVALID', `data key must be a ${KEY_BYTES}-byte Buffer`);
  }
}

// Scratch memory reused by every call, so that the hot path allocates no Buffers of its own.
// Nothing in it is secret (associated data, nonces and ciphertext are public). Each use is
// synchronous: written, then consumed by node:crypto (which copies or hashes it at once and keeps
// no reference) with none of the caller's code running in between, so a call never sees another
// call's bytes. The caller's code can run in seal's JSON.stringify (toJSON methods, which may
// even seal or open), where the context's fields are read (getters) and, for a data key with an
// exotic prototype (a Proxy), inside createCipheriv/createDecipheriv. Every use of the scratch
// memory and of the nonce pool counts in sharedStateUses: the code is ordered, or compares the
// count, so that no such call falls unnoticed between a write and its use.
//   - AAD_SCRATCH: the associated data, starting with the constant first field (length-prefixed
//     "sv1");
//   - NONCE_SCRATCH: a nonce read from text;
//   - SEALED_SCRATCH: ciphertext‖tag read from text, when it fits;
//   - TAIL_SCRATCH: the last 0–2 ciphertext bytes and the tag, for their base64url text.
const AAD_SCRATCH = Buffer.alloc(512);
const AAD_HEAD_BYTES = AAD_SCRATCH.write(`\0\0\0${String.fromCharCode(FORMAT.length)}${FORMAT}`, 'latin1');
const NONCE_SCRATCH = Buffer.alloc(NONCE_BYTES);
const SEALED_SCRATCH = Buffer.alloc(6144);
const SEALED_SCRATCH_CHARS = (SEALED_SCRATCH.length / 3) * 4;
const TAIL_SCRATCH = Buffer.alloc(2 + TAG_BYTES);

interface ContextFields {
  table: string;
  column: string;
  rowId: string;
  ownerId: string;
}

/** The context's fields, read once (they may be getters), or the message of the TypeError. */
function readContext(ctx: SealContext): ContextFields | string {
  if (typeof ctx !== 'object' || ctx === null) return 'seal context must be { table, column, rowId, ownerId }';
  const { table, column, rowId, ownerId } = ctx;
  if (typeof table !== 'string' || typeof column !== 'string' || typeof rowId !== 'string' || typeof ownerId !== 'string') {
    return 'seal context: table, column, rowId and ownerId must be strings';
  }
  return { table, column, rowId, ownerId };
}

// lengthPrefixed([FORMAT, table, column, rowId, ownerId, String(keyVersion)]). ASCII fields (the
// usual ids and names) are written straight into AAD_SCRATCH and the result is a view of it,
// valid until the next call; anything else takes the general UTF-8 path (same bytes, and the
// TypeError for lone surrogates) into a Buffer of its own.
function associatedData(keyVersion: number, f: ContextFields): Buffer {
  const version = String(keyVersion);
  sharedStateUses++;
  let end = writeLengthPrefixedAscii(AAD_SCRATCH, AAD_HEAD_BYTES, f.table);
  if (end >= 0) end = writeLengthPrefixedAscii(AAD_SCRATCH, end, f.column);
  if (end >= 0) end = writeLengthPrefixedAscii(AAD_SCRATCH, end, f.rowId);
  if (end >= 0) end = writeLengthPrefixedAscii(AAD_SCRATCH, end, f.ownerId);
  if (end >= 0) end = writeLengthPrefixedAscii(AAD_SCRATCH, end, version);
  if (end >= 0) return AAD_SCRATCH.subarray(0, end);
  return lengthPrefixedUtf8([FORMAT, f.table, f.column, f.rowId, f.ownerId, version], 'seal context');
}

export function seal(dataKey: Buffer, keyVersion: number, value: unknown, ctx: SealContext): string {
  checkDataKey(dataKey);
  if (!isKeyVersion(keyVersion)) throw new RangeError('key version must be an integer from 1 to 2147483647');
  const fields = readContext(ctx);
  if (typeof fields === 'string') throw new TypeError(fields);
  // Built before the value is serialised, so that a bad context is reported first, as it always was.
  let aad = associatedData(keyVersion, fields);
  let uses = sharedStateUses;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    // The engine's message can quote property names of the value: do not pass it on.
    throw new CryptoError('PAYLOAD_INVALID', 'value is not JSON-serialisable (circular structure, BigInt or a throwing toJSON)');
  }
  if (json === undefined) throw new CryptoError('PAYLOAD_INVALID', 'value has no JSON representation (undefined, a function or a symbol)');
  // A toJSON method that sealed or opened a value has reused the scratch: write the AAD again.
  if (sharedStateUses !== uses) aad = associatedData(keyVersion, fields);
  const nonceOffset = nextNonceOffset();
  const nonceStart = (nonceOffset / NONCE_BYTES) * NONCE_CHARS;
  const nonceText = noncePoolText.slice(nonceStart, nonceStart + NONCE_CHARS);
  uses = sharedStateUses;
  const cipher = createCipheriv('aes-256-gcm', dataKey, noncePool.subarray(nonceOffset, nonceOffset + NONCE_BYTES), GCM_OPTIONS);
  if (sharedStateUses !== uses) throw reentered(); // before anything is output under that nonce
  cipher.setAAD(aad);
  // The cipher reads the string itself (no intermediate Buffer); for ASCII text latin1 gives the
  // same bytes as UTF-8 with a plain copy.
  const body = cipher.update(json, Buffer.byteLength(json, 'utf8') === json.length ? 'latin1' : 'utf8');
  cipher.final(); // GCM is a stream mode: final() adds no bytes, it computes the tag
  // base64url(body ‖ tag) without copying the body: base64 of a concatenation is the
  // concatenation of the parts' base64 when the first part is a multiple of 3 bytes long.
  const split = body.length - (body.length % 3);
  const rest = body.length - split;
  if (rest > 0) TAIL_SCRATCH[0] = body[split] as number;
  if (rest > 1) TAIL_SCRATCH[1] = body[split + 1] as number;
  TAIL_SCRATCH.set(cipher.getAuthTag(), rest);
  return `${SEALED_PREFIX}${keyVersion}.${nonceText}.${body.toString('base64url', 0, split)}${TAIL_SCRATCH.toString('base64url', 0, rest + TAG_BYTES)}`;
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

/** Strict decimal key version in text[start, end) (see parseKeyVersion), or undefined. */
function keyVersionAt(text: string, start: number, end: number): number | undefined {
  if (end - start < 1 || end - start > 10 || text.charCodeAt(start) === 0x30 /* 0 */) return undefined;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (!(digit >= 0 && digit <= 9)) return undefined;
    value = value * 10 + digit;
  }
  return value <= MAX_KEY_VERSION ? value : undefined;
}

// The key version of a sealed value, after checking the prefix, the version and the part count
// (steps 1–2 of the reading rules, without base64). The nonce is then the NONCE_CHARS characters
// after the '.' that ends the version, and ciphertext‖tag runs from the next '.' to the end.
function parseHeader(text: string): number {
  if (typeof text !== 'string') throw malformed('not a string');
  if (!text.startsWith(SEALED_PREFIX)) throw wrongPrefix(text);
  const versionEnd = text.indexOf('.', 4);
  if (versionEnd < 0) throw malformed('expected 4 dot-separated parts');
  const keyVersion = keyVersionAt(text, 4, versionEnd);
  if (keyVersion === undefined) throw malformed('key version must be a positive decimal integer without leading zeros');
  const nonceEnd = versionEnd + 1 + NONCE_CHARS;
  if (text.charCodeAt(nonceEnd) !== 0x2e /* . */ || text.indexOf('.', versionEnd + 1) !== nonceEnd) {
    throw malformed(`expected 4 dot-separated parts with a ${NONCE_CHARS}-character nonce`);
  }
  if (text.indexOf('.', nonceEnd + 1) >= 0) throw malformed('expected 4 dot-separated parts');
  return keyVersion;
}

/** The data key version named in the header (does not decrypt). */
export function sealedKeyVersion(text: string): number {
  return parseHeader(text);
}

// base64url alphabet value of each character code below 128, -1 for every other character.
const BASE64URL_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) BASE64URL_VALUE['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.charCodeAt(i)] = i;

// The 16 characters from `start` decoded into NONCE_SCRATCH, or false when one is not in the
// base64url alphabet. 16 alphabet characters carry exactly 96 bits (no padding, no spare bits),
// so any 16 of them are the canonical text of their 12 bytes.
function decodeNonce(text: string, start: number): boolean {
  for (let i = 0, o = 0; i < NONCE_CHARS; i += 4, o += 3) {
    const a = BASE64URL_VALUE[text.charCodeAt(start + i)] ?? -1;
    const b = BASE64URL_VALUE[text.charCodeAt(start + i + 1)] ?? -1;
    const c = BASE64URL_VALUE[text.charCodeAt(start + i + 2)] ?? -1;
    const d = BASE64URL_VALUE[text.charCodeAt(start + i + 3)] ?? -1;
    if ((a | b | c | d) < 0) return false;
    NONCE_SCRATCH[o] = (a << 2) | (b >> 4);
    NONCE_SCRATCH[o + 1] = ((b & 15) << 4) | (c >> 2);
    NONCE_SCRATCH[o + 2] = ((c & 3) << 6) | d;
  }
  return true;
}

export function open(dataKey: Buffer, text: string, ctx: SealContext): unknown {
  checkDataKey(dataKey);
  const keyVersion = parseHeader(text);
  // Read before the scratch memory is written (getters); a bad context is reported after the
  // text's own errors, in the order of the reading rules, as it always was.
  const fields = readContext(ctx);
  const nonceStart = text.indexOf('.', 4) + 1; // parseHeader checked it
  const uses = ++sharedStateUses;
  if (!decodeNonce(text, nonceStart)) throw malformed('nonce is not canonical base64url of 12 bytes');
  const sealedText = text.slice(nonceStart + NONCE_CHARS + 1);
  const sealed = sealedText.length <= SEALED_SCRATCH_CHARS ? SEALED_SCRATCH : Buffer.allocUnsafe((sealedText.length >>> 2) * 3 + 2);
  const sealedLength = decodeBase64UrlStrictInto(sealedText, sealed);
  if (sealedLength < 0) throw malformed('ciphertext is not canonical base64url');
  if (sealedLength < TAG_BYTES) throw malformed('ciphertext is shorter than the 16-byte tag');
  if (typeof fields === 'string') throw new TypeError(fields);
  const tagStart = sealedLength - TAG_BYTES;
  const decipher = createDecipheriv('aes-256-gcm', dataKey, NONCE_SCRATCH, GCM_OPTIONS);
  if (sharedStateUses !== uses) throw reentered();
  decipher.setAAD(associatedData(keyVersion, fields));
  decipher.setAuthTag(sealed.subarray(tagStart, sealedLength));
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
