// Typed errors with stable codes. A message names what is wrong and where (entry position,
// key id, field), never key material, plaintext or ciphertext: these errors end up in logs.

export type CryptoErrorCode =
  | 'KEYRING_INVALID' // bad SIGNALS_MASTER_KEYS / legacy key config
  | 'KEY_INVALID' // a key of wrong length / bad base64
  | 'MALFORMED' // stored text is not of the expected shape (bad base64, wrong part count, truncated…)
  | 'UNSUPPORTED_VERSION' // a format prefix we do not know (e.g. sv9.)
  | 'UNKNOWN_KEY' // names a KEK id / key that is not configured
  | 'AUTH_FAILED' // GCM tag or HMAC did not verify (tampered, wrong key, moved to another row)
  | 'TOKEN_EXPIRED' // Fernet ttl
  | 'TOKEN_FROM_FUTURE' // Fernet timestamp beyond 60 s clock skew
  | 'PAYLOAD_INVALID'; // decrypted bytes are not valid JSON / value not JSON-serialisable

// A registry-wide brand, so that isCryptoError also recognises errors thrown by a second copy of
// this module (two resolutions of the package in one process), where instanceof would not.
const BRAND = Symbol.for('@signals/crypto.CryptoError');

export class CryptoError extends Error {
  readonly code: CryptoErrorCode;

  constructor(code: CryptoErrorCode, message: string) {
    super(message);
    this.code = code;
  }

  static {
    Object.defineProperty(CryptoError.prototype, 'name', { value: 'CryptoError', writable: true, configurable: true });
    Object.defineProperty(CryptoError.prototype, BRAND, { value: true });
  }
}

export function isCryptoError(err: unknown, code?: CryptoErrorCode): err is CryptoError {
  const branded =
    err instanceof CryptoError ||
    (typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true);
  return branded && (code === undefined || (err as CryptoError).code === code);
}
