// Group commit of creates: what arrives together is one statement, and each caller still gets its
// own answer — its own signal, its own error, the first signal for a repeated externalId.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { createKnex } from '@signals/db';
import { createHarness, type Harness, type TestUser } from '../testing/harness.js';
import { SignalInserts } from './signal-inserts.js';

let h: Harness;
let owner: TestUser;
let otherOwner: TestUser;

beforeAll(async () => {
  h = await createHarness();
  owner = await h.user('owner');
  otherOwner = await h.user('owner');
  // Data keys made and cached first, so that the creates below reach the database together.
  await publish(owner);
  await publish(otherOwner);
});
afterAll(() => h.close());

function publish(by: TestUser, extra: Record<string, unknown> = {}) {
  return h.caller(by).signals.create({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1923.50', ownerOnly: { notes: `for ${by.id}` }, ...extra });
}

/** Runs `work` and returns how many statements inserted into signals meanwhile. */
async function countingInserts<T>(work: () => Promise<T>): Promise<{ result: T; statements: number }> {
  let statements = 0;
  const onQuery = (q: { sql: string }) => {
    if (/insert into "signals"/.test(q.sql)) statements += 1;
  };
  h.knex.on('query', onQuery);
  try {
    return { result: await work(), statements };
  } finally {
    h.knex.off('query', onQuery);
  }
}

async function eventsOf(ids: string[]) {
  return (await h.knex('signal_events').whereIn('signal_id', ids).select('signal_id as signalId', 'kind')) as { signalId: string; kind: string }[];
}

describe('signal inserts (group commit)', () => {
  it('writes creates that arrive together in one statement, each caller getting its own signal and event', async () => {
    const { result, statements } = await countingInserts(() =>
      Promise.all(Array.from({ length: 12 }, (_, i) => publish(i % 3 === 0 ? otherOwner : owner, { entryPrice: `${1900 + i}` }))),
    );
    expect(statements).toBe(1);
    expect(new Set(result.map((s) => s.id)).size).toBe(12);
    result.forEach((s, i) => {
      const by = i % 3 === 0 ? otherOwner : owner;
      expect(s).toMatchObject({ ownerId: by.id, entryPrice: `${1900 + i}`, ownerOnly: { notes: `for ${by.id}` }, ownerOnlyState: 'present' });
    });
    const events = await eventsOf(result.map((s) => s.id));
    expect(events.map((e) => e.kind)).toEqual(Array(12).fill('created'));
    expect(new Set(events.map((e) => e.signalId)).size).toBe(12);
  });

  it('fails only the caller whose row the database refuses; the others are stored', async () => {
    const settled = await Promise.allSettled([
      publish(owner, { entryPrice: '1' }),
      publish(owner, { entryPrice: '2', payload: { note: 'nul \u0000 inside' } }),
      publish(owner, { entryPrice: '3' }),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refused = (settled[1] as PromiseRejectedResult).reason as TRPCError;
    expect(refused).toBeInstanceOf(TRPCError);
    expect(refused.code).toBe('BAD_REQUEST');
    const stored = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.id] : []));
    expect(await h.knex('signals').whereIn('id', stored).count({ n: '*' })).toEqual([{ n: '2' }]);
    expect(await eventsOf(stored)).toHaveLength(2);
  });

  it('gives every caller the first signal when one externalId comes twice in one group, with one event', async () => {
    const externalId = `ext-${randomUUID()}`;
    const { result, statements } = await countingInserts(() =>
      Promise.all([publish(owner, { externalId, entryPrice: '10' }), publish(owner, { externalId, entryPrice: '20' })]),
    );
    expect(statements).toBe(1);
    expect(result[0].id).toBe(result[1].id);
    expect(await eventsOf([result[0].id])).toHaveLength(1);
    expect(await h.knex('signals').where({ owner_id: owner.id, external_id: externalId }).count({ n: '*' })).toEqual([{ n: '1' }]);
  });

  it('gives every caller the statement’s own failure (here: no database), writing nothing', async () => {
    const closed = createKnex(h.url);
    await closed.destroy();
    const inserts = new SignalInserts({ knex: closed, events: h.deps.events });
    const rows = Array.from({ length: 3 }, () => ({ id: randomUUID(), owner_id: owner.id, instrument: 'XAUUSD', side: 'buy', entry_price: '1' }));
    const settled = await Promise.allSettled(rows.map((row) => inserts.insert(row)));
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    const reasons = settled.map((s) => (s as PromiseRejectedResult).reason as Error);
    expect(reasons[1]).toBe(reasons[0]);
    expect(await h.knex('signals').whereIn('id', rows.map((r) => r.id)).count({ n: '*' })).toEqual([{ n: '0' }]);
  });
});
