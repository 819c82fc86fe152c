// Per-owner data keys (DEKs), stored only wrapped by a key-encryption key (KEK):
//   wk1.<kekId>.<nonce b64url>.<ciphertext+tag b64url>
// AES-256-GCM under the KEK; the associated data binds the format, the KEK id, the owner and the
// data key version, so a wrapped key copied to another owner or version does not unwrap.
import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CryptoError } from './errors.js';
import { decodeBase64UrlStrict, isKeyVersion, lengthPrefixed } from './encoding.js';
import { KEK_ID_PATTERN } from './keyring.js';
import type { Kek, Keyring } from './keyring.js';

export interface DataKeyContext {
  ownerId: string;
  version: number;
}

export const WRAPPED_KEY_PREFIX = 'wk1.';
const FORMAT = 'wk1';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export function generateDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

function checkKey(key: unknown, what: string): asserts key is Buffer {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
    throw new CryptoError('KEY_INVALID', `${what} must be a ${KEY_BYTES}-byte Buffer`);
  }
}

function associatedData(kekId: string, ctx: DataKeyContext): Buffer {
  if (typeof ctx !== 'object' || ctx === null) throw new TypeError('data key context must be { ownerId, version }');
  if (!isKeyVersion(ctx.version)) throw new RangeError('data key version must be an integer from 1 to 2147483647');
  return lengthPrefixed([FORMAT, kekId, ctx.ownerId, String(ctx.version)], 'data key context');
}

export function wrapDataKey(kek: Kek, dataKey: Buffer, ctx: DataKeyContext): string {
  checkKey(kek.key, `key-encryption key "${KEK_ID_PATTERN.test(kek.id) ? kek.id : '?'}"`);
  if (!KEK_ID_PATTERN.test(kek.id)) throw new CryptoError('KEY_INVALID', 'key-encryption key has a malformed id');
  checkKey(dataKey, 'data key');
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek.key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(kek.id, ctx));
  const sealed = Buffer.concat([cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  return `${FORMAT}.${kek.id}.${nonce.toString('base64url')}.${sealed.toString('base64url')}`;
}

interface ParsedWrappedKey {
  kekId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

function malformed(detail: string): CryptoError {
  return new CryptoError('MALFORMED', `wrapped data key is malformed: ${detail}`);
}

function parseWrapped(wrapped: string): ParsedWrappedKey {
  if (typeof wrapped !== 'string') throw malformed('not a string');
  const parts = wrapped.split('.');
  const format = parts[0] ?? '';
  if (format !== FORMAT) {
    if (/^wk[0-9]+$/.test(format)) throw new CryptoError('UNSUPPORTED_VERSION', 'wrapped data key has an unsupported format version');
    throw malformed('does not start with "wk1."');
  }
  if (parts.length !== 4) throw malformed(`expected 4 dot-separated parts, found ${parts.length}`);
  const [, kekId = '', nonceText = '', sealedText = ''] = parts;
  if (!KEK_ID_PATTERN.test(kekId)) throw malformed('key-encryption key id is invalid');
  const nonce = decodeBase64UrlStrict(nonceText);
  if (nonce === undefined || nonce.length !== NONCE_BYTES) throw malformed(`nonce must be ${NONCE_BYTES} bytes of canonical base64url`);
  const sealed = decodeBase64UrlStrict(sealedText);
  if (sealed === undefined || sealed.length !== KEY_BYTES + TAG_BYTES) {
    throw malformed(`ciphertext must be ${KEY_BYTES + TAG_BYTES} bytes of canonical base64url`);
  }
  return { kekId, nonce, ciphertext: sealed.subarray(0, KEY_BYTES), tag: sealed.subarray(KEY_BYTES) };
}

/** The id of the KEK that wrapped this key (parses, does not decrypt). */
export function wrappedKeyKekId(wrapped: string): string {
  return parseWrapped(wrapped).kekId;
}

export function unwrapDataKey(keyring: Keyring, wrapped: string, ctx: DataKeyContext): Buffer {
  const parsed = parseWrapped(wrapped);
  const kek = keyring.require(parsed.kekId);
  const decipher = createDecipheriv('aes-256-gcm', kek.key, parsed.nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(associatedData(parsed.kekId, ctx));
  decipher.setAuthTag(parsed.tag);
  const head = decipher.update(parsed.ciphertext);
  let tail: Buffer;
  try {
    tail = decipher.final();
  } catch {
    head.fill(0);
    throw new CryptoError(
      'AUTH_FAILED',
      `wrapped data key did not authenticate under key-encryption key "${parsed.kekId}" (tampered, or another owner or version)`,
    );
  }
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}
