// Crypto-shredding and legacy Fernet payloads, end to end on real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fernet, MultiFernet, open, sealedKeyVersion, unwrapDataKey } from '@signals/crypto';
import { authenticate } from '../auth/authenticate.js';
import { createDeps } from '../deps.js';
import { createInnerContext } from '../context.js';
import { appRouter } from '../routers/_app.js';
import { createCallerFactory } from '../trpc.js';
import { createHarness, type Harness } from '../testing/harness.js';
import { OWNER_ONLY_COLUMN } from '../vault/owner-only-vault.js';
import { reencryptPayloads } from './reencrypt.js';
import { shredOwner } from './shred.js';
import { keyStatus } from './key-status.js';

const legacyKey = Fernet.generateKey();
const legacy = new MultiFernet([new Fernet(legacyKey)]);
const createCaller = createCallerFactory(appRouter);
let h: Harness;

beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

/** Services configured with the earlier system's Fernet key. */
const withLegacy = () => createDeps({ knex: h.knex, keyring: h.keyring, legacyFernet: legacy, log: h.deps.log });

/** A row as the earlier system wrote it: Fernet over json.dumps(payload, sort_keys=True). */
async function insertLegacy(ownerId: string, payload: Record<string, unknown>): Promise<string> {
  const id = crypto.randomUUID();
  const sorted = JSON.stringify(Object.fromEntries(Object.entries(payload).sort(([a], [b]) => a.localeCompare(b))));
  await h.knex('signals').insert({ id, owner_id: ownerId, instrument: 'GBPUSD', side: 'sell', entry_price: '1.27', owner_only_payload: legacy.encrypt(sorted) });
  return id;
}

describe('legacy Fernet payloads', () => {
  it('reach the owner like any other payload, and reencrypt converts them to sealed envelopes', async () => {
    const owner = await h.user('owner');
    const id = await insertLegacy(owner.id, { takeProfit: '1.25', stopLoss: '1.29', strategy: 'legacy' });
    const deps = withLegacy();
    const caller = createCaller(createInnerContext({ deps, user: owner }));
    expect(await caller.signals.byId({ id })).toMatchObject({ ownerOnlyState: 'present', ownerOnly: { stopLoss: '1.29', takeProfit: '1.25', strategy: 'legacy' } });

    // Without the legacy keys the owner gets a stable error, never garbage.
    await expect(h.caller(owner).signals.byId({ id })).rejects.toMatchObject({ code: 'INTERNAL_SERVER_ERROR', message: expect.stringContaining('LEGACY_KEYS_MISSING') });

    expect((await keyStatus(h.knex, h.keyring)).payloads.legacyFernet).toBeGreaterThanOrEqual(1);
    const result = await reencryptPayloads(deps);
    expect(result.failed).toEqual([]);
    const row = await h.knex('signals').where('id', id).first('owner_only_payload');
    expect(row.owner_only_payload).toMatch(/^sv1\.1\./);
    // Converted rows no longer need the legacy key.
    expect(await h.caller(owner).signals.byId({ id })).toMatchObject({ ownerOnly: { strategy: 'legacy' } });
  });
});

describe('owners shred', () => {
  it('destroys the data keys: nothing of the owner opens with any key, and the API says destroyed', async () => {
    const owner = await h.user('owner');
    const follower = await h.user('subscriber');
    await h.subscribe(owner, follower);
    const sealedIds = await h.seedSignals(owner, 5, 'to-shred-');
    const legacyId = await insertLegacy(owner.id, { notes: 'legacy to shred' });
    const other = await h.user('owner');
    const otherIds = await h.seedSignals(other, 2, 'keep-');
    const keysBefore = await h.knex('owner_keys').where('owner_id', owner.id).select('version', 'wrapped_key');

    const dry = await shredOwner(h.knex, h.deps.ownerKeys, owner.id, { dryRun: true });
    expect(dry).toMatchObject({ destroyedKeys: 1, sealedPayloads: 5, erasedLegacyPayloads: 1 });
    expect(await h.knex('owner_keys').where('owner_id', owner.id).whereNull('destroyed_at').count({ n: '*' }).first()).toEqual({ n: '1' });

    const result = await shredOwner(h.knex, h.deps.ownerKeys, owner.id);
    expect(result).toMatchObject({ destroyedKeys: 1, sealedPayloads: 5, erasedLegacyPayloads: 1, dryRun: false });

    const keys = await h.knex('owner_keys').where('owner_id', owner.id).select('wrapped_key', 'destroyed_at');
    expect(keys).toEqual([{ wrapped_key: null, destroyed_at: expect.any(Date) }]);
    expect((await h.knex('users').where('id', owner.id).first('disabled_at')).disabled_at).toBeInstanceOf(Date);

    // No stored value of the owner opens with any key: not the KEK (nothing left to unwrap), not
    // even the data key as it was before the shred, applied to another owner's context.
    const rows = await h.knex('signals').where('owner_id', owner.id).select('id', 'owner_only_payload');
    expect(rows.find((r) => r.id === legacyId)!.owner_only_payload).toBe('shredded');
    expect(() => legacy.decrypt(rows.find((r) => r.id === legacyId)!.owner_only_payload)).toThrow();
    const otherKey = await h.knex('owner_keys').where('owner_id', other.id).first('version', 'wrapped_key');
    const otherDek = unwrapDataKey(h.keyring, otherKey.wrapped_key, { ownerId: other.id, version: otherKey.version });
    for (const r of rows.filter((r) => sealedIds.includes(r.id))) {
      expect(() => open(otherDek, r.owner_only_payload, { ...OWNER_ONLY_COLUMN, rowId: r.id, ownerId: owner.id })).toThrow();
      expect(sealedKeyVersion(r.owner_only_payload)).toBe(1);
    }
    expect(keysBefore).toHaveLength(1);

    // The API, through fresh services (no cached key): destroyed, never an error or garbage.
    const deps = withLegacy();
    const ownerCaller = createCaller(createInnerContext({ deps, user: owner }));
    for (const id of [...sealedIds, legacyId]) {
      expect(await ownerCaller.signals.byId({ id })).toMatchObject({ ownerOnly: null, ownerOnlyState: 'destroyed' });
    }
    // Subscribers keep the history (public view), and other owners are untouched.
    const followerCaller = createCaller(createInnerContext({ deps, user: follower }));
    expect((await followerCaller.signals.list({ ownerId: owner.id })).items.length).toBe(6);
    const otherCaller = createCaller(createInnerContext({ deps, user: other }));
    for (const [i, id] of otherIds.entries()) expect(await otherCaller.signals.byId({ id })).toMatchObject({ ownerOnly: { notes: `keep-${i}` } });
    // The disabled owner's token no longer authenticates.
    expect(await authenticate(h.knex, `Bearer ${owner.token}`)).toBeNull();
    expect((await keyStatus(h.knex, h.keyring)).payloads.onDestroyedKey).toBe(5);
    // Re-encryption leaves shredded rows alone.
    expect(await reencryptPayloads(deps)).toMatchObject({ pending: 0, failed: [] });
  });
});
