// @signals/crypto: keyring, per-owner data keys, sealed owner-only payloads and legacy Fernet.
// No I/O, no imports of other workspace packages: node:crypto and node:buffer only.
export { CryptoError, isCryptoError } from './errors.js';
export type { CryptoErrorCode } from './errors.js';
export { Keyring, KEK_ID_PATTERN } from './keyring.js';
export type { Kek } from './keyring.js';
export { generateDataKey, wrapDataKey, wrappedKeyKekId, unwrapDataKey, WRAPPED_KEY_PREFIX } from './data-key.js';
export type { DataKeyContext } from './data-key.js';
export { SEALED_PREFIX, seal, isSealed, sealedKeyVersion, open } from './sealed.js';
export type { SealContext } from './sealed.js';
export { Fernet, MultiFernet, parseLegacyFernetKeys, FERNET_MAX_CLOCK_SKEW_SECONDS } from './fernet.js';
export type { FernetDecryptOptions } from './fernet.js';
export { MAX_KEY_VERSION } from './encoding.js';
