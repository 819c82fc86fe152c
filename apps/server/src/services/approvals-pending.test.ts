// approvals.pending reads each followed owner's newest pending page through the partial index on
// open signals and merges them (see pendingApprovals). These tests hold that query to the plain
// definition: every open, unexpired signal of a followed owner that the caller has not decided on,
// newest first, in pages that are exactly consecutive slices of it, for every page size; nothing of
// owners not followed; and, with many newer signals of an owner not followed, a plan that reads
// the per-owner index rather than walking the global created_at one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TestUser } from '../testing/harness.js';

let h: Harness;
let owners: TestUser[];
let me: TestUser;
let other: TestUser;
let loner: TestUser;
/** One pending signal of mine that is decided later, in the cursor test. */
let decidedLater: string;

beforeAll(async () => {
  h = await createHarness();
  owners = [await h.user('owner'), await h.user('owner'), await h.user('owner'), await h.user('owner')];
  me = await h.user('subscriber');
  other = await h.user('subscriber');
  loner = await h.user('subscriber');
  // I follow the first three owners, not the fourth; `other` follows all four; `loner` nobody.
  for (const owner of owners.slice(0, 3)) await h.subscribe(owner, me);
  for (const owner of owners) await h.subscribe(owner, other);

  // Interleaved in time, one signal per owner per round.
  const created: string[][] = owners.map(() => []);
  for (let round = 0; round < 6; round++) {
    for (const [i, owner] of owners.entries()) {
      created[i]!.push((await h.caller(owner).signals.create({ instrument: 'XAUUSD', side: 'buy', entryPrice: `${round + 1}` })).id);
    }
  }
  // Ties on created_at, within and across owners (one statement, one now()), broken by id.
  const tied = owners.flatMap((owner) => Array.from({ length: 3 }, () => ({ owner_id: owner.id, instrument: 'GBPUSD', side: 'sell', entry_price: '1' })));
  await h.knex('signals').insert(tied);
  // One more round after the ties, so they sit in the middle of the order.
  for (const [i, owner] of owners.entries()) {
    created[i]!.push((await h.caller(owner).signals.create({ instrument: 'EURUSD', side: 'sell', entryPrice: '1.08' })).id);
  }

  // Not pending for me: closed, cancelled, expired, decided by me (either way).
  await h.caller(owners[0]!).signals.close({ id: created[0]![1]! });
  await h.caller(owners[1]!).signals.cancel({ id: created[1]![2]! });
  await h.knex('signals').update({ expires_at: new Date(Date.now() - 1000) }).where('id', created[2]![3]!);
  await h.caller(me).approvals.decide({ signalId: created[0]![4]!, decision: 'approve' });
  await h.caller(me).approvals.decide({ signalId: created[2]![0]!, decision: 'reject', reason: 'no' });
  // Still pending for me: an expiry in the future, and a decision by someone else.
  await h.knex('signals').update({ expires_at: new Date(Date.now() + 3_600_000) }).where('id', created[1]![3]!);
  await h.caller(other).approvals.decide({ signalId: created[1]![4]!, decision: 'approve' });
  // The unfollowed owner's signals: open, undecided, and never mine.
  decidedLater = created[1]![5]!;
});
afterAll(() => h.close());

/** The definition, in the plainest SQL: ids newest first, optionally strictly after a cursor row. */
async function expected(who: TestUser, cursor?: string): Promise<string[]> {
  const q = h
    .knex('signals')
    .whereIn('owner_id', h.knex('subscriptions').select('owner_id').where('subscriber_id', who.id))
    .where('status', 'open')
    .whereRaw('(expires_at is null or expires_at > now())')
    .whereNotIn('id', h.knex('approvals').select('signal_id').where('user_id', who.id))
    .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
    .select('id');
  if (cursor) q.whereRaw('(created_at, id) < (select created_at, id from signals where id = ?)', [cursor]);
  return ((await q) as { id: string }[]).map((r) => r.id);
}

interface Page {
  items: { id: string; ownerId: string }[];
  nextCursor: string | null;
}

/** Walks every page of `limit`, checking each is exactly the next slice of `want`. */
async function checkPages(who: TestUser, want: string[], limit: number): Promise<void> {
  let cursor: string | null = null;
  let offset = 0;
  do {
    const page: Page = await h.caller(who).approvals.pending({ limit, cursor });
    const slice = want.slice(offset, offset + limit);
    expect(page.items.map((s) => s.id), `limit ${limit}, offset ${offset}`).toEqual(slice);
    offset += page.items.length;
    expect(page.nextCursor, `limit ${limit}, offset ${offset}`).toBe(offset < want.length ? slice.at(-1)! : null);
    cursor = page.nextCursor;
  } while (cursor);
  expect(offset).toBe(want.length);
}

describe('approvals.pending for a subscriber (per-owner index reads, merged)', () => {
  it('matches the plain definition page by page, for every page size', async () => {
    const want = await expected(me);
    // 3 followed owners × (7 created + 3 tied) signals, less closed, cancelled, expired and 2 decided.
    expect(want).toHaveLength(3 * 10 - 5);
    expect((await h.caller(me).approvals.pending({ limit: 100 })).items.map((s) => s.id)).toEqual(want);
    for (let limit = 1; limit <= want.length + 1; limit++) await checkPages(me, want, limit);
  });

  it('holds for another subscriber too: other decisions, and all four owners', async () => {
    const want = await expected(other);
    expect(want).toHaveLength(4 * 10 - 3 - 1);
    for (const limit of [1, 2, 3, 5, 8, 13, 100]) await checkPages(other, want, limit);
  });

  it('shows public views only, and nothing of an owner not followed', async () => {
    const { items } = await h.caller(me).approvals.pending({ limit: 100 });
    expect(items.every((s) => !('ownerOnly' in s))).toBe(true);
    expect(items.some((s) => s.ownerId === owners[3]!.id)).toBe(false);
    expect(await h.caller(loner).approvals.pending({ limit: 100 })).toEqual({ items: [], nextCursor: null });
  });

  it('continues from any signal as cursor: one no longer pending, one of an owner not followed, an unknown one', async () => {
    const all = await expected(me);
    // Decided after its page was read: the next page still starts right after it.
    const at = all.indexOf(decidedLater);
    expect(at).toBeGreaterThan(0);
    await h.caller(me).approvals.decide({ signalId: decidedLater, decision: 'approve' });
    const after = await expected(me, decidedLater);
    expect(after).toEqual(all.slice(at + 1));
    for (const limit of [1, 4, 100]) {
      const page = await h.caller(me).approvals.pending({ limit, cursor: decidedLater });
      expect(page.items.map((s) => s.id)).toEqual(after.slice(0, limit));
    }
    // A signal of the owner I do not follow, as a position in time.
    const foreign = ((await h.knex('signals').where('owner_id', owners[3]!.id).orderBy('created_at').select('id')) as { id: string }[])[3]!.id;
    const afterForeign = await expected(me, foreign);
    expect(afterForeign.length).toBeGreaterThan(0);
    expect((await h.caller(me).approvals.pending({ limit: 100, cursor: foreign })).items.map((s) => s.id)).toEqual(afterForeign);
    // No such signal: nothing after it (as before).
    expect(await h.caller(me).approvals.pending({ limit: 5, cursor: crypto.randomUUID() })).toEqual({ items: [], nextCursor: null });
  });
});

describe('approvals.pending with many newer signals of an owner not followed', () => {
  beforeAll(async () => {
    // 30,000 signals newer than all of mine, of the owner I do not follow.
    await h.knex.raw(
      `insert into signals (owner_id, instrument, side, entry_price, created_at)
       select ?, 'XAUUSD', 'buy', 1, now() + g * interval '1 millisecond' from generate_series(1, 30000) g`,
      [owners[3]!.id],
    );
    await h.knex.raw('analyze signals');
    await h.knex.raw('analyze approvals');
    await h.knex.raw('analyze subscriptions');
  });

  it('still matches the plain definition', async () => {
    const want = await expected(me);
    for (const limit of [1, 3, 7, want.length]) await checkPages(me, want, limit);
  });

  it('reads the per-owner index, not the global created_at index', async () => {
    const queries: { sql: string; bindings: readonly unknown[] }[] = [];
    const record = (q: { sql: string; bindings?: readonly unknown[] }) => queries.push({ sql: q.sql, bindings: q.bindings ?? [] });
    h.knex.on('query', record);
    try {
      const first = await h.caller(me).approvals.pending({ limit: 5 });
      await h.caller(me).approvals.pending({ limit: 5, cursor: first.nextCursor });
    } finally {
      h.knex.off('query', record);
    }
    const pending = queries.filter((q) => /"approvals" as "a"/.test(q.sql));
    expect(pending).toHaveLength(2);
    for (const q of pending) {
      // The logged SQL has PostgreSQL's $n placeholders; knex.raw takes ?, in order.
      const bindings: unknown[] = [];
      const sql = q.sql.replace(/\$(\d+)/g, (_, n: string) => (bindings.push(q.bindings[Number(n) - 1]), '?'));
      const result = (await h.knex.raw(`explain (format json) ${sql}`, bindings as never[])) as { rows: { 'QUERY PLAN': unknown }[] };
      const indexes = new Set<string>();
      const scans: string[] = [];
      const walk = (node: Record<string, unknown>) => {
        if (typeof node['Index Name'] === 'string') indexes.add(node['Index Name']);
        if (node['Relation Name'] === 'signals') scans.push(String(node['Node Type']));
        for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
      };
      walk((result.rows[0]!['QUERY PLAN'] as { Plan: Record<string, unknown> }[])[0]!.Plan);
      expect([...indexes]).toContain('signals_open_owner_id_created_at_id_index');
      expect([...indexes]).not.toContain('signals_created_at_id_index');
      expect([...indexes]).not.toContain('signals_status_created_at_id_index');
      expect(scans).not.toContain('Seq Scan');
    }
  });
});
