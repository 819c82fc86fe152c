import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckViolationError, ForeignKeyViolationError, UniqueViolationError } from 'objection';
import type { Knex } from 'knex';
import { createTestDatabase } from '../testing/index.js';
import type { TestDatabase } from '../testing/index.js';
import { ApiToken, Approval, OwnerKey, Signal, SignalEvent, Subscription, User } from './index.js';
import type { UserRole } from './index.js';

let db: TestDatabase;
let knex: Knex;
beforeAll(async () => {
  db = await createTestDatabase();
  knex = db.knex;
});
afterAll(() => db?.destroy());

const hash = () => createHash('sha256').update(randomBytes(32)).digest('hex');
const newUser = (role: UserRole = 'owner', name = `user-${randomBytes(3).toString('hex')}`) =>
  User.query(knex).insert({ name, role }).returning('*');
const newSignal = (ownerId: string, extra: Partial<Pick<Signal, 'externalId' | 'status' | 'payload'>> = {}) =>
  Signal.query(knex)
    .insert({ ownerId, instrument: 'XAUUSD', side: 'buy', entryPrice: '1923.50', ...extra })
    .returning('*');

describe('User', () => {
  it('persists and reads back with camelCase properties and Date timestamps', async () => {
    const user = await newUser('admin', 'Ada');
    expect(user.id).toMatch(/^[0-9a-f-]{36}$/);
    const read = await User.query(knex).findById(user.id);
    expect(read).toMatchObject({ id: user.id, name: 'Ada', role: 'admin', disabledAt: null });
    expect(read?.createdAt).toBeInstanceOf(Date);

    const row = await knex('users').where({ id: user.id }).first();
    expect(Object.keys(row).sort()).toEqual(['created_at', 'disabled_at', 'id', 'name', 'role']);
  });

  it('enforces the role check', async () => {
    await expect(User.query(knex).insert({ name: 'x', role: 'root' as UserRole })).rejects.toSatisfy(
      (e) => e instanceof CheckViolationError && e.constraint === 'users_role_check',
    );
  });
});

describe('ApiToken', () => {
  it('persists, reads back and cascades with its user', async () => {
    const user = await newUser('subscriber');
    const tokenHash = hash();
    const token = await ApiToken.query(knex).insert({ userId: user.id, tokenHash, label: 'laptop' }).returning('*');
    expect(token).toMatchObject({ userId: user.id, tokenHash, label: 'laptop', lastUsedAt: null, revokedAt: null });
    expect(token.createdAt).toBeInstanceOf(Date);

    const fetched = await ApiToken.query(knex).findOne({ token_hash: tokenHash }).withGraphFetched('user');
    expect(fetched?.user?.id).toBe(user.id);

    await expect(ApiToken.query(knex).insert({ userId: user.id, tokenHash })).rejects.toBeInstanceOf(UniqueViolationError);
    await expect(ApiToken.query(knex).insert({ userId: user.id, tokenHash: 'NOT-HEX' })).rejects.toSatisfy(
      (e) => e instanceof CheckViolationError && e.constraint === 'api_tokens_token_hash_check',
    );

    await User.query(knex).deleteById(user.id);
    expect(await ApiToken.query(knex).findById(token.id)).toBeUndefined();
  });
});

describe('OwnerKey', () => {
  it('uses (owner_id, version) as its id and allows destroying a key', async () => {
    const owner = await newUser();
    await OwnerKey.query(knex).insert({ ownerId: owner.id, version: 1, kekId: 'k1', wrappedKey: 'wrapped-1' });
    await OwnerKey.query(knex).insert({ ownerId: owner.id, version: 2, kekId: 'k1', wrappedKey: 'wrapped-2' });

    const v2 = await OwnerKey.query(knex).findById([owner.id, 2]);
    expect(v2).toMatchObject({ ownerId: owner.id, version: 2, kekId: 'k1', wrappedKey: 'wrapped-2', destroyedAt: null });
    expect(v2?.createdAt).toBeInstanceOf(Date);

    await expect(
      OwnerKey.query(knex).insert({ ownerId: owner.id, version: 2, kekId: 'k2', wrappedKey: 'again' }),
    ).rejects.toBeInstanceOf(UniqueViolationError);

    // Shredding: the wrapped key goes, and the time it went is recorded, together.
    await expect(OwnerKey.query(knex).findById([owner.id, 1]).patch({ wrappedKey: null })).rejects.toSatisfy(
      (e) => e instanceof CheckViolationError && e.constraint === 'owner_keys_destroyed_check',
    );
    await OwnerKey.query(knex).findById([owner.id, 1]).patch({ wrappedKey: null, destroyedAt: new Date() });
    const v1 = await OwnerKey.query(knex).findById([owner.id, 1]);
    expect(v1?.wrappedKey).toBeNull();
    expect(v1?.destroyedAt).toBeInstanceOf(Date);

    await expect(
      OwnerKey.query(knex).insert({ ownerId: owner.id, version: 0, kekId: 'k1', wrappedKey: 'w' }),
    ).rejects.toBeInstanceOf(CheckViolationError);
  });
});

describe('Signal', () => {
  it('keeps entry_price exact, as text', async () => {
    const owner = await newUser();
    const prices = ['1923.50000000001', '1923.50', '0.00000000000000000001', '123456789012345678901234567890.123456789'];
    for (const entryPrice of prices) {
      const created = await Signal.query(knex)
        .insert({ ownerId: owner.id, instrument: 'XAUUSD', side: 'sell', entryPrice })
        .returning('*');
      expect(created.entryPrice).toBe(entryPrice);
      const read = await Signal.query(knex).findById(created.id);
      expect(read?.entryPrice).toBe(entryPrice);
      expect(typeof read?.entryPrice).toBe('string');
    }
  });

  it('round-trips the jsonb payload without renaming its keys', async () => {
    const owner = await newUser();
    const payload = { camelCase: 1, snake_case: 2, nested: { innerKey: 3, inner_key: [{ deepKey: true }] } };
    const created = await newSignal(owner.id, { payload });
    expect(created.payload).toEqual(payload);

    const read = await Signal.query(knex).findById(created.id);
    expect(read?.payload).toEqual(payload);
    const row = await knex('signals').where({ id: created.id }).first('payload');
    expect(row.payload).toEqual(payload);
  });

  it('fills defaults and reads back every column', async () => {
    const owner = await newUser();
    const expiresAt = new Date('2030-01-02T03:04:05.678Z');
    const created = await Signal.query(knex)
      .insert({
        ownerId: owner.id,
        instrument: 'EURUSD',
        side: 'sell',
        entryPrice: '1.08',
        ownerOnlyPayload: 'sv1.1.bm9uY2U.Y2lwaGVy',
        externalId: 'ext-1',
        expiresAt,
      })
      .returning('*');
    const read = await Signal.query(knex).findById(created.id);
    expect(read).toMatchObject({
      ownerId: owner.id,
      instrument: 'EURUSD',
      side: 'sell',
      entryPrice: '1.08',
      status: 'open',
      payload: {},
      ownerOnlyPayload: 'sv1.1.bm9uY2U.Y2lwaGVy',
      externalId: 'ext-1',
      version: 1,
      expiresAt,
    });
    expect(read?.createdAt).toBeInstanceOf(Date);
    expect(read?.updatedAt).toBeInstanceOf(Date);
  });

  it('sets updatedAt on update and patch', async () => {
    const owner = await newUser();
    const created = await newSignal(owner.id);
    const createdAt = created.createdAt.getTime();
    expect(created.updatedAt.getTime()).toBe(createdAt);

    const within = async (patch: () => PromiseLike<unknown>) => {
      await new Promise((r) => setTimeout(r, 20));
      const before = Date.now();
      await patch();
      const after = Date.now();
      const read = await Signal.query(knex).findById(created.id);
      expect(read!.updatedAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(read!.updatedAt.getTime()).toBeLessThanOrEqual(after);
      expect(read!.createdAt.getTime()).toBe(createdAt);
      return read!;
    };
    expect(await within(() => created.$query(knex).patch({ status: 'closed', version: 2 }))).toMatchObject({
      status: 'closed',
      version: 2,
    });
    expect(await within(() => Signal.query(knex).patch({ status: 'cancelled' }).where('id', created.id))).toMatchObject({
      status: 'cancelled',
    });
    const full = await Signal.query(knex).findById(created.id);
    expect(await within(() => full!.$query(knex).update({ ...full!, entryPrice: '2000.1' }))).toMatchObject({
      entryPrice: '2000.1',
    });
  });

  it('enforces unique (owner_id, external_id), allowing many nulls and other owners', async () => {
    const owner = await newUser();
    const other = await newUser();
    await newSignal(owner.id, { externalId: 'same' });
    await expect(newSignal(owner.id, { externalId: 'same' })).rejects.toSatisfy(
      (e) => e instanceof UniqueViolationError && e.constraint === 'signals_owner_id_external_id_unique',
    );
    await expect(newSignal(other.id, { externalId: 'same' })).resolves.toBeInstanceOf(Signal);
    await newSignal(owner.id);
    await newSignal(owner.id);
  });

  it('enforces side, status and payload checks, and its owner', async () => {
    const owner = await newUser();
    const base = { ownerId: owner.id, instrument: 'XAUUSD', entryPrice: '1' };
    const check = (constraint: string) => (e: unknown) => e instanceof CheckViolationError && e.constraint === constraint;
    await expect(Signal.query(knex).insert({ ...base, side: 'hold' as 'buy' })).rejects.toSatisfy(check('signals_side_check'));
    await expect(Signal.query(knex).insert({ ...base, side: 'buy', status: 'done' as 'open' })).rejects.toSatisfy(
      check('signals_status_check'),
    );
    await expect(knex('signals').insert({ owner_id: owner.id, instrument: 'X', side: 'buy', entry_price: '1', payload: '[1]' })).rejects.toMatchObject({
      code: '23514',
      constraint: 'signals_payload_check',
    });
    await expect(
      Signal.query(knex).insert({ ...base, side: 'buy', ownerId: '00000000-0000-4000-8000-000000000000' }),
    ).rejects.toBeInstanceOf(ForeignKeyViolationError);
    // A user with signals cannot be deleted.
    await newSignal(owner.id);
    await expect(User.query(knex).deleteById(owner.id)).rejects.toBeInstanceOf(ForeignKeyViolationError);
    expect(await User.query(knex).findById(owner.id)).toBeInstanceOf(User);
  });
});

describe('Subscription', () => {
  it('persists with a composite id and refuses self-subscription and duplicates', async () => {
    const owner = await newUser('owner');
    const subscriber = await newUser('subscriber');
    const sub = await Subscription.query(knex).insert({ ownerId: owner.id, subscriberId: subscriber.id }).returning('*');
    expect(sub.createdAt).toBeInstanceOf(Date);

    const read = await Subscription.query(knex).findById([owner.id, subscriber.id]).withGraphFetched('[owner, subscriber]');
    expect(read?.owner?.id).toBe(owner.id);
    expect(read?.subscriber?.id).toBe(subscriber.id);

    await expect(Subscription.query(knex).insert({ ownerId: owner.id, subscriberId: subscriber.id })).rejects.toBeInstanceOf(
      UniqueViolationError,
    );
    await expect(Subscription.query(knex).insert({ ownerId: owner.id, subscriberId: owner.id })).rejects.toSatisfy(
      (e) => e instanceof CheckViolationError && e.constraint === 'subscriptions_not_self_check',
    );
  });
});

describe('Approval', () => {
  it('keeps one decision per signal and subscriber, within its checks, and goes with its signal', async () => {
    const owner = await newUser('owner');
    const subscriber = await newUser('subscriber');
    const signal = await newSignal(owner.id);
    const approval = await Approval.query(knex)
      .insert({ signalId: signal.id, userId: subscriber.id, decision: 'approved', reason: 'looks good', ip: '127.0.0.1', userAgent: 'vitest' })
      .returning('*');
    expect(approval).toMatchObject({ signalId: signal.id, userId: subscriber.id, decision: 'approved', reason: 'looks good', ip: '127.0.0.1', userAgent: 'vitest' });
    expect(approval.decidedAt).toBeInstanceOf(Date);
    const read = await Approval.query(knex).findById(approval.id).withGraphFetched('[signal, user]');
    expect(read?.signal?.id).toBe(signal.id);
    expect(read?.user?.id).toBe(subscriber.id);

    await expect(Approval.query(knex).insert({ signalId: signal.id, userId: subscriber.id, decision: 'rejected' })).rejects.toSatisfy(
      (e) => e instanceof UniqueViolationError && e.constraint === 'approvals_signal_id_user_id_unique',
    );
    const other = await newUser('subscriber');
    const check = (constraint: string) => (e: unknown) => e instanceof CheckViolationError && e.constraint === constraint;
    await expect(Approval.query(knex).insert({ signalId: signal.id, userId: other.id, decision: 'maybe' as 'approved' })).rejects.toSatisfy(check('approvals_decision_check'));
    await expect(Approval.query(knex).insert({ signalId: signal.id, userId: other.id, decision: 'approved', reason: 'x'.repeat(501) })).rejects.toSatisfy(check('approvals_reason_check'));
    await expect(Approval.query(knex).insert({ signalId: signal.id, userId: other.id, decision: 'approved', userAgent: 'x'.repeat(513) })).rejects.toSatisfy(
      check('approvals_user_agent_check'),
    );

    await Signal.query(knex).deleteById(signal.id);
    expect(await Approval.query(knex).findById(approval.id)).toBeUndefined();
  });
});

describe('SignalEvent', () => {
  it('numbers events in insertion order with a bigserial id read as text', async () => {
    const owner = await newUser('owner');
    const signal = await newSignal(owner.id);
    const first = await SignalEvent.query(knex).insert({ signalId: signal.id, ownerId: owner.id, kind: 'created' }).returning('*');
    const second = await SignalEvent.query(knex).insert({ signalId: signal.id, ownerId: owner.id, kind: 'closed' }).returning('*');
    expect(typeof first.id).toBe('string');
    expect(BigInt(second.id)).toBeGreaterThan(BigInt(first.id));
    await expect(SignalEvent.query(knex).insert({ signalId: signal.id, ownerId: owner.id, kind: 'deleted' as 'created' })).rejects.toSatisfy(
      (e) => e instanceof CheckViolationError && e.constraint === 'signal_events_kind_check',
    );
  });
});

describe('relations', () => {
  it('finds related rows both ways', async () => {
    const owner = await newUser('owner');
    const otherOwner = await newUser('owner');
    const subscriber = await newUser('subscriber');
    const s1 = await newSignal(owner.id);
    const s2 = await newSignal(owner.id);
    await newSignal(otherOwner.id);
    await Subscription.query(knex).insert({ ownerId: owner.id, subscriberId: subscriber.id });
    await ApiToken.query(knex).insert({ userId: owner.id, tokenHash: hash() });
    await OwnerKey.query(knex).insert({ ownerId: owner.id, version: 1, kekId: 'k1', wrappedKey: 'w' });

    const signals = await User.relatedQuery('signals', knex).for(owner.id).orderBy('created_at');
    expect(signals.map((s) => s.id).sort()).toEqual([s1.id, s2.id].sort());
    expect(signals.every((s) => s instanceof Signal)).toBe(true);

    const viaInstance = await owner.$relatedQuery('signals', knex);
    expect(viaInstance).toHaveLength(2);

    const subscribers = await User.relatedQuery('subscribers', knex).for(owner.id);
    expect(subscribers.map((u) => u.id)).toEqual([subscriber.id]);
    const owners = await User.relatedQuery('subscribedOwners', knex).for(subscriber.id);
    expect(owners.map((u) => u.id)).toEqual([owner.id]);

    const graph = await User.query(knex).findById(owner.id).withGraphFetched('[apiTokens, ownerKeys, signals]');
    expect(graph?.apiTokens).toHaveLength(1);
    expect(graph?.ownerKeys?.[0]).toBeInstanceOf(OwnerKey);
    expect(graph?.signals).toHaveLength(2);

    const withOwner = await Signal.query(knex).findById(s1.id).withGraphJoined('owner');
    expect(withOwner?.owner?.name).toBe(owner.name);
  });
});
