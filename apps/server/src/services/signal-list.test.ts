// signals.list for subscribers reads each followed owner's newest page through the
// (owner_id, created_at, id) index and merges them (see listSignals). These tests hold that query
// to the plain definition: every signal of a followed owner, newest first, filters applied,
// pages that neither skip nor repeat a row, and nothing of owners not followed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TestUser } from '../testing/harness.js';

let h: Harness;
let owners: TestUser[];
let follower: TestUser;

beforeAll(async () => {
  h = await createHarness();
  owners = [await h.user('owner'), await h.user('owner'), await h.user('owner'), await h.user('owner')];
  follower = await h.user('subscriber');
  // Follows the first three owners, not the fourth.
  for (const owner of owners.slice(0, 3)) await h.subscribe(owner, follower);
  // Interleaved in time, with ties on created_at (one statement, one now()) broken by id.
  for (let round = 0; round < 6; round++) {
    for (const [i, owner] of owners.entries()) {
      await h.caller(owner).signals.create({ instrument: i % 2 ? 'EURUSD' : 'XAUUSD', side: 'buy', entryPrice: `${round + 1}` });
    }
  }
  const rows = owners.flatMap((owner) => Array.from({ length: 3 }, () => ({ owner_id: owner.id, instrument: 'GBPUSD', side: 'sell', entry_price: '1' })));
  await h.knex('signals').insert(rows);
  await h.caller(owners[1]!).signals.close({ id: (await h.caller(owners[1]!).signals.list({ limit: 1 })).items[0]!.id });
});
afterAll(() => h.close());

/** The definition, in the plainest SQL: ids newest first. */
async function expected(filter: { status?: string; instrument?: string; ownerId?: string } = {}): Promise<string[]> {
  const q = h
    .knex('signals')
    .whereIn('owner_id', h.knex('subscriptions').select('owner_id').where('subscriber_id', follower.id))
    .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
    .select('id');
  if (filter.status) q.where('status', filter.status);
  if (filter.instrument) q.where('instrument', filter.instrument);
  if (filter.ownerId) q.where('owner_id', filter.ownerId);
  return ((await q) as { id: string }[]).map((r) => r.id);
}

async function allPages(limit: number, filter: { status?: 'open' | 'closed'; instrument?: string; ownerId?: string } = {}): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: { id: string }[]; nextCursor: string | null } = await h.caller(follower).signals.list({ limit, cursor, ...filter });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    ids.push(...page.items.map((s) => s.id));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

describe('signals.list for a subscriber (per-owner index reads, merged)', () => {
  it('returns every signal of the owners followed, newest first, in one page or many', async () => {
    const want = await expected();
    expect(want).toHaveLength(3 * 9);
    expect((await h.caller(follower).signals.list({ limit: 100 })).items.map((s) => s.id)).toEqual(want);
    for (const limit of [1, 2, 5, 7]) expect(await allPages(limit)).toEqual(want);
  });

  it('applies the filters inside each owner’s read, so pages stay full and complete', async () => {
    expect(await allPages(2, { instrument: 'EURUSD' })).toEqual(await expected({ instrument: 'EURUSD' }));
    expect(await allPages(3, { status: 'closed' })).toEqual(await expected({ status: 'closed' }));
    expect(await allPages(4, { ownerId: owners[2]!.id })).toEqual(await expected({ ownerId: owners[2]!.id }));
    expect(await allPages(4, { ownerId: owners[3]!.id })).toEqual([]);
  });

  it('shows public views only, and nothing of an owner not followed', async () => {
    const { items } = await h.caller(follower).signals.list({ limit: 100 });
    expect(items.every((s) => !('ownerOnly' in s))).toBe(true);
    expect(items.some((s) => s.ownerId === owners[3]!.id)).toBe(false);
  });
});
