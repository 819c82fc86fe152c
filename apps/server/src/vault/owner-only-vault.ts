// The owner-only vault: the one place where owner-only payloads are sealed and opened. Routers hand
// it a signal and get back plaintext for the owner only; they never see a key or a ciphertext.
import { isCryptoError, isSealed, open, seal, sealedKeyVersion, type MultiFernet, type SealContext } from '@signals/crypto';
import type { Logger } from '../logger.js';
import type { OwnerKeys } from './owner-keys.js';

/** Binds a sealed value to its place: table, column, row and owner (the key version is bound by seal). */
export const OWNER_ONLY_COLUMN = { table: 'signals', column: 'owner_only_payload' } as const;

export interface SealedRef {
  signalId: string;
  ownerId: string;
}

export interface StoredRef extends SealedRef {
  ownerOnlyPayload: string | null;
}

export type OpenedOwnerOnly =
  | { state: 'absent'; value: null }
  | { state: 'present'; value: Record<string, unknown> }
  | { state: 'destroyed'; value: null };

/** Why a stored payload could not be opened: a stable code, never the ciphertext or plaintext. */
export type VaultErrorReason =
  | 'MALFORMED'
  | 'UNSUPPORTED_VERSION'
  | 'UNKNOWN_KEY'
  | 'AUTH_FAILED'
  | 'PAYLOAD_INVALID'
  | 'KEY_MISSING'
  | 'LEGACY_KEYS_MISSING'
  | 'NOT_OWNER';

export class VaultError extends Error {
  readonly code = 'OWNER_ONLY_UNREADABLE';
  constructor(readonly reason: VaultErrorReason, readonly signalId: string) {
    super(`The owner-only payload of signal ${signalId} could not be opened (${reason}).`);
    this.name = 'VaultError';
  }
}

export class OwnerOnlyVault {
  constructor(
    private readonly keys: OwnerKeys,
    private readonly legacy: MultiFernet | null,
    private readonly log: Logger,
  ) {}

  /** Seals a payload for one signal under its owner's newest data key. */
  async seal(ref: SealedRef, value: Record<string, unknown>): Promise<string> {
    const { version, key } = await this.keys.current(ref.ownerId);
    return seal(key, version, value, contextOf(ref));
  }

  /**
   * Opens a signal's payload for a viewer. Anyone but the owner is refused here too, even though
   * routers only ask on the owner's behalf: the vault does not rely on its callers for that.
   */
  async openFor(viewerId: string, ref: StoredRef): Promise<OpenedOwnerOnly> {
    if (viewerId !== ref.ownerId) throw this.fail('NOT_OWNER', ref.signalId);
    const stored = ref.ownerOnlyPayload;
    if (stored === null) return { state: 'absent', value: null };
    if (isShredded(stored)) return { state: 'destroyed', value: null };
    try {
      if (isSealed(stored)) return await this.openSealed(stored, ref);
      return this.openLegacy(stored, ref.signalId);
    } catch (err) {
      if (err instanceof VaultError) throw err;
      if (isCryptoError(err)) throw this.fail((err as { code: VaultErrorReason }).code, ref.signalId);
      throw err;
    }
  }

  /**
   * Re-encryption: opens a stored payload and seals it again under the owner's newest data key,
   * bound to the same row. The plaintext never leaves this method. Returns null when the value is
   * already on the newest key, or its key was destroyed (nothing to move).
   */
  async resealToNewest(ref: StoredRef): Promise<string | null> {
    const stored = ref.ownerOnlyPayload;
    if (stored === null || isShredded(stored)) return null;
    const newest = await this.keys.current(ref.ownerId);
    if (isSealed(stored) && sealedKeyVersion(stored) >= newest.version) return null;
    const opened = await this.openFor(ref.ownerId, ref);
    if (opened.state !== 'present') return null;
    return seal(newest.key, newest.version, opened.value, contextOf(ref));
  }

  private async openSealed(stored: string, ref: StoredRef): Promise<OpenedOwnerOnly> {
    const version = sealedKeyVersion(stored);
    const lookup = await this.keys.byVersion(ref.ownerId, version);
    if (lookup.state === 'destroyed') return { state: 'destroyed', value: null };
    if (lookup.state === 'missing') throw this.fail('KEY_MISSING', ref.signalId);
    return { state: 'present', value: asObject(open(lookup.key, stored, contextOf(ref)), ref.signalId, this) };
  }

  /** Tokens written by the earlier system: Fernet over `json.dumps(payload, sort_keys=True)`. */
  private openLegacy(stored: string, signalId: string): OpenedOwnerOnly {
    if (!this.legacy) throw this.fail('LEGACY_KEYS_MISSING', signalId);
    const text = this.legacy.decrypt(stored).toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw this.fail('PAYLOAD_INVALID', signalId);
    }
    return { state: 'present', value: asObject(parsed, signalId, this) };
  }

  /** @internal */
  fail(reason: VaultErrorReason, signalId: string): VaultError {
    this.log.warn({ signalId, reason }, 'owner-only payload could not be opened');
    return new VaultError(reason, signalId);
  }
}

function asObject(value: unknown, signalId: string, vault: OwnerOnlyVault): Record<string, unknown> {
  if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw vault.fail('PAYLOAD_INVALID', signalId);
}

/**
 * What crypto-shredding leaves in place of a legacy Fernet payload: those were under the earlier
 * system's shared key, not the owner's data key, so destroying the data key alone would not erase them.
 */
export const SHREDDED_MARKER = 'shredded';

export function isShredded(stored: string): boolean {
  return stored === SHREDDED_MARKER;
}

function contextOf(ref: SealedRef): SealContext {
  // Spelled out: an object spread here cost about 1 µs per payload (docs/performance.md).
  return { table: OWNER_ONLY_COLUMN.table, column: OWNER_ONLY_COLUMN.column, rowId: ref.signalId, ownerId: ref.ownerId };
}
