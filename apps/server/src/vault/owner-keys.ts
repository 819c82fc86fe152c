// Per-owner data keys (DEKs) in `owner_keys`, stored only wrapped by a KEK. Keys are created with
// the vault's own connection, never inside a caller's transaction: a key cached from a transaction
// that later rolled back would seal data under a key that no longer exists.
import type { Knex } from 'knex';
import { generateDataKey, unwrapDataKey, wrapDataKey, type Keyring } from '@signals/crypto';
import { TtlCache } from './data-key-cache.js';

export interface OwnerKeyRow {
  ownerId: string;
  version: number;
  kekId: string;
  wrappedKey: string | null;
  destroyedAt: Date | null;
}

export type DataKeyLookup = { state: 'usable'; key: Buffer } | { state: 'destroyed' } | { state: 'missing' };

export class OwnerKeys {
  private readonly keys: TtlCache<Buffer>;
  /** Each owner's newest version, so sealing many payloads costs no query per payload. */
  private readonly newest: TtlCache<number>;

  constructor(
    private readonly knex: Knex,
    private readonly keyring: Keyring,
    cache: { maxEntries: number; ttlMs: number } = { maxEntries: 10_000, ttlMs: 60_000 },
  ) {
    this.keys = new TtlCache<Buffer>(cache);
    this.newest = new TtlCache<number>(cache);
  }

  /** The owner's newest usable data key, created (version 1) on first use. */
  async current(ownerId: string): Promise<{ version: number; key: Buffer }> {
    const cachedVersion = this.newest.get(ownerId);
    if (cachedVersion !== undefined) {
      const lookup = await this.byVersion(ownerId, cachedVersion);
      if (lookup.state === 'usable') return { version: cachedVersion, key: lookup.key };
    }
    let row = await this.newestRow(ownerId);
    if (!row) {
      await this.insertVersion(ownerId, 1);
      row = await this.newestRow(ownerId);
    }
    if (!row || row.destroyedAt || !row.wrappedKey) {
      throw new OwnerKeyDestroyedError();
    }
    const key = this.unwrapCached(row);
    this.newest.set(ownerId, row.version);
    return { version: row.version, key };
  }

  /** The data key of one version, as needed to open a sealed value. */
  async byVersion(ownerId: string, version: number): Promise<DataKeyLookup> {
    const cached = this.keys.get(cacheKey(ownerId, version));
    if (cached) return { state: 'usable', key: cached };
    const row = await this.rows().where({ owner_id: ownerId, version }).first();
    if (!row) return { state: 'missing' };
    if (row.destroyedAt || !row.wrappedKey) return { state: 'destroyed' };
    return { state: 'usable', key: this.unwrapCached(row) };
  }

  /** Adds a new newest version (key rotation for one owner); returns it. */
  async rotate(ownerId: string): Promise<number> {
    const newest = await this.newestRow(ownerId, { includeDestroyed: true });
    const version = (newest?.version ?? 0) + 1;
    await this.insertVersion(ownerId, version);
    this.newest.delete(ownerId);
    return version;
  }

  /** Forgets cached keys of an owner (after shredding or rotation in this process). */
  forget(ownerId: string): void {
    this.keys.deletePrefix(`${ownerId}:`);
    this.newest.delete(ownerId);
  }

  private async insertVersion(ownerId: string, version: number): Promise<void> {
    const kek = this.keyring.primary;
    const wrapped = wrapDataKey(kek, generateDataKey(), { ownerId, version });
    await this.knex('owner_keys')
      .insert({ owner_id: ownerId, version, kek_id: kek.id, wrapped_key: wrapped })
      .onConflict(['owner_id', 'version'])
      .ignore();
  }

  private unwrapCached(row: OwnerKeyRow): Buffer {
    const key = cacheKey(row.ownerId, row.version);
    const cached = this.keys.get(key);
    if (cached) return cached;
    const dataKey = unwrapDataKey(this.keyring, row.wrappedKey as string, { ownerId: row.ownerId, version: row.version });
    this.keys.set(key, dataKey);
    return dataKey;
  }

  private rows() {
    return this.knex('owner_keys').select<OwnerKeyRow[]>(
      'owner_id as ownerId', 'version', 'kek_id as kekId', 'wrapped_key as wrappedKey', 'destroyed_at as destroyedAt',
    );
  }

  private async newestRow(ownerId: string, opts: { includeDestroyed?: boolean } = {}): Promise<OwnerKeyRow | undefined> {
    const query = this.rows().where({ owner_id: ownerId }).orderBy('version', 'desc').first();
    if (!opts.includeDestroyed) query.whereNull('destroyed_at');
    return (await query) as OwnerKeyRow | undefined;
  }
}

export class OwnerKeyDestroyedError extends Error {
  constructor() {
    super("The owner's data keys were destroyed; no new owner-only payloads can be sealed.");
    this.name = 'OwnerKeyDestroyedError';
  }
}

function cacheKey(ownerId: string, version: number): string {
  return `${ownerId}:${version}`;
}
