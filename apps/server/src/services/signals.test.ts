import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { createHarness, type Harness, type TestUser } from '../testing/harness.js';

const CANARY = 'CANARY-7f3a9c-owner-only';

let h: Harness;
let owner: TestUser;
let otherOwner: TestUser;
let admin: TestUser;
let follower: TestUser;
let stranger: TestUser;

beforeAll(async () => {
  h = await createHarness();
  owner = await h.user('owner');
  otherOwner = await h.user('owner');
  admin = await h.user('admin');
  follower = await h.user('subscriber');
  stranger = await h.user('subscriber');
  await h.subscribe(owner, follower);
});
afterAll(() => h.close());

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (err) {
    if (err instanceof TRPCError) return err.code;
    throw err;
  }
}

const publish = (extra: Record<string, unknown> = {}) =>
  h.caller(owner).signals.create({
    instrument: 'XAUUSD',
    side: 'buy',
    entryPrice: '1923.50',
    payload: { confidence: 0.8 },
    ownerOnly: { stopLoss: '1900.00', takeProfit: '1980.25', strategy: 'breakout', notes: CANARY },
    ...extra,
  });

describe('signals', () => {
  it('gives the owner the payload back and stores only ciphertext', async () => {
    const created = await publish();
    expect(created.ownerOnly).toEqual({ stopLoss: '1900.00', takeProfit: '1980.25', strategy: 'breakout', notes: CANARY });
    expect(created.ownerOnlyState).toBe('present');
    expect(created.entryPrice).toBe('1923.50');
    const row = await h.knex('signals').where('id', created.id).first();
    expect(row.owner_only_payload).toMatch(/^sv1\.1\./);
    expect(JSON.stringify(row)).not.toContain(CANARY);
    expect(JSON.stringify(row)).not.toContain('1980.25');
    const read = await h.caller(owner).signals.byId({ id: created.id });
    expect(read).toEqual(created);
  });

  it('shows the public view, without the owner-only field, to admins, other owners and subscribers', async () => {
    const created = await publish();
    for (const viewer of [admin, otherOwner, follower]) {
      const view = await h.caller(viewer).signals.byId({ id: created.id });
      expect(view).not.toHaveProperty('ownerOnly');
      expect(view).not.toHaveProperty('ownerOnlyState');
      expect(JSON.stringify(view)).not.toContain(CANARY);
      expect(view.id).toBe(created.id);
    }
  });

  it('hides the signal from an unrelated subscriber (NOT_FOUND, not FORBIDDEN)', async () => {
    const created = await publish();
    expect(await codeOf(h.caller(stranger).signals.byId({ id: created.id }))).toBe('NOT_FOUND');
    expect(await codeOf(h.caller(stranger).signals.byId({ id: crypto.randomUUID() }))).toBe('NOT_FOUND');
  });

  it('publishes idempotently per owner with externalId', async () => {
    const first = await publish({ externalId: 'ext-1' });
    const again = await publish({ externalId: 'ext-1', entryPrice: '1.5' });
    expect(again.id).toBe(first.id);
    expect(again.entryPrice).toBe('1923.50');
    const other = await h.caller(otherOwner).signals.create({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1', externalId: 'ext-1' });
    expect(other.id).not.toBe(first.id);
    const parallel = await Promise.all(Array.from({ length: 8 }, () => publish({ externalId: 'ext-race' })));
    expect(new Set(parallel.map((s) => s.id)).size).toBe(1);
  });

  it('updates with optimistic concurrency: a stale version gets CONFLICT', async () => {
    const created = await publish();
    const updated = await h.caller(owner).signals.update({
      id: created.id,
      expectedVersion: 1,
      patch: { entryPrice: '1930', ownerOnly: { stopLoss: '1910' } },
    });
    expect(updated.version).toBe(2);
    expect(updated.ownerOnly).toEqual({ stopLoss: '1910' });
    expect(await codeOf(h.caller(owner).signals.update({ id: created.id, expectedVersion: 1, patch: { entryPrice: '1' } }))).toBe('CONFLICT');
    const cleared = await h.caller(owner).signals.update({ id: created.id, expectedVersion: 2, patch: { ownerOnly: null } });
    expect(cleared.ownerOnly).toBeNull();
    expect(cleared.ownerOnlyState).toBe('absent');
  });

  it('lets only the owner change a signal', async () => {
    const created = await publish();
    expect(await codeOf(h.caller(follower).signals.close({ id: created.id }))).toBe('FORBIDDEN');
    expect(await codeOf(h.caller(otherOwner).signals.close({ id: created.id }))).toBe('FORBIDDEN');
    expect(await codeOf(h.caller(otherOwner).signals.update({ id: created.id, expectedVersion: 1, patch: { entryPrice: '2' } }))).toBe('FORBIDDEN');
    expect(await codeOf(h.caller(stranger).signals.cancel({ id: created.id }))).toBe('FORBIDDEN');
  });

  it('closes and cancels open signals only', async () => {
    const a = await publish();
    const closed = await h.caller(owner).signals.close({ id: a.id });
    expect(closed.status).toBe('closed');
    expect(await codeOf(h.caller(owner).signals.cancel({ id: a.id }))).toBe('PRECONDITION_FAILED');
    expect(await codeOf(h.caller(owner).signals.update({ id: a.id, expectedVersion: closed.version, patch: { entryPrice: '3' } }))).toBe('PRECONDITION_FAILED');
    const b = await publish();
    expect((await h.caller(owner).signals.cancel({ id: b.id })).status).toBe('cancelled');
  });

  it('lists newest first with cursor pagination and filters', async () => {
    const mine = await h.caller(otherOwner).signals.list({ limit: 100 });
    const base = mine.items.length;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await h.caller(otherOwner).signals.create({ instrument: 'EURUSD', side: 'sell', entryPrice: `1.0${i}` })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { id: string }[]; nextCursor: string | null } = await h.caller(otherOwner).signals.list({ limit: 2, cursor, instrument: 'EURUSD' });
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((s) => s.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const all = await h.caller(otherOwner).signals.list({ limit: 100 });
    expect(all.items.length).toBe(base + 5);
    expect((await h.caller(otherOwner).signals.list({ status: 'closed' })).items).toEqual([]);
  });

  it('lists for subscribers only the signals of owners they follow, as public views', async () => {
    await publish();
    const followed = await h.caller(follower).signals.list({});
    expect(followed.items.length).toBeGreaterThan(0);
    for (const s of followed.items) {
      expect(s.ownerId).toBe(owner.id);
      expect(s).not.toHaveProperty('ownerOnly');
    }
    expect(JSON.stringify(followed)).not.toContain(CANARY);
    expect((await h.caller(stranger).signals.list({})).items).toEqual([]);
    expect((await h.caller(stranger).signals.list({ ownerId: owner.id })).items).toEqual([]);
  });

  it('rejects bad input with BAD_REQUEST and field errors, changing nothing', async () => {
    const before = await h.knex('signals').count({ n: '*' }).first();
    const bad: unknown[] = [
      { instrument: 'x', side: 'buy', entryPrice: '1' },
      { instrument: 'XAUUSD', side: 'hold', entryPrice: '1' },
      { instrument: 'XAUUSD', side: 'buy', entryPrice: '-1' },
      { instrument: 'XAUUSD', side: 'buy', entryPrice: '1e5' },
      { instrument: 'XAUUSD', side: 'buy', entryPrice: 1923.5 },
      { instrument: 'XAUUSD', side: 'buy', entryPrice: '1', payload: JSON.parse('{"__proto__": {"polluted": true}}') },
      { instrument: 'XAUUSD', side: 'buy', entryPrice: '1', expiresAt: new Date(Date.now() - 1000) },
    ];
    for (const input of bad) {
      const err = await h.caller(owner).signals.create(input as never).catch((e: unknown) => e);
      expect(err, JSON.stringify(input)).toBeInstanceOf(TRPCError);
      expect((err as TRPCError).code).toBe('BAD_REQUEST');
    }
    const after = await h.knex('signals').count({ n: '*' }).first();
    expect(after).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses an owner-only payload over 16 KiB with PAYLOAD_TOO_LARGE', async () => {
    const before = await h.knex('signals').count({ n: '*' }).first();
    expect(await codeOf(publish({ ownerOnly: { notes: 'x'.repeat(8000), more: 'y'.repeat(9000) } }))).toBe('PAYLOAD_TOO_LARGE');
    expect(await h.knex('signals').count({ n: '*' }).first()).toEqual(before);
  });

  it('never writes owner-only data to the logs', async () => {
    await publish();
    expect(h.logs()).not.toContain(CANARY);
  });
});
