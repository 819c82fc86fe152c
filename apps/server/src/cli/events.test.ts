// `signals events prune` and `signals events status` as an operator runs them: a real process on a
// real PostgreSQL, with events aged by setting created_at in SQL.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@signals/db/testing';
import { runCli } from '../testing/cli.js';
import { createUser } from '../services/users.js';
import { pruneSignalEvents } from '../services/signal-events-retention.js';


let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ownerId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  ownerId = (await createUser(db.knex, { name: 'Events owner', role: 'owner' })).user.id;
});
afterAll(() => db.destroy());
// Every test starts from an empty outbox (the tests of a file run one after another).
beforeEach(async () => {
  await db.knex('signal_events').delete();
});

const signals = (...args: string[]) => runCli(db.url, ...args);

/** Adds `count` events (each on a new signal) created `age` ago (a PostgreSQL interval); returns their ids. */
async function seedEvents(count: number, age: string): Promise<string[]> {
  const signalRows = Array.from({ length: count }, () => ({ id: randomUUID(), owner_id: ownerId, instrument: 'XAUUSD', side: 'buy', entry_price: '1' }));
  await db.knex('signals').insert(signalRows);
  const rows = (await db.knex('signal_events')
    .insert(signalRows.map((s) => ({ signal_id: s.id, owner_id: ownerId, kind: 'created', created_at: db.knex.raw('now() - ?::interval', [age]) })))
    .returning('id')) as { id: string }[];
  return rows.map((r) => String(r.id));
}

async function remainingIds(): Promise<string[]> {
  const rows = (await db.knex('signal_events').select('id').orderBy('id')) as { id: string }[];
  return rows.map((r) => String(r.id));
}

const json = (stdout: string) => JSON.parse(stdout.trim()) as Record<string, unknown>;

describe('signals events prune', () => {
  it('--older-than deletes only the events older than the duration', async () => {
    const old = await seedEvents(5, '40 days');
    const middling = await seedEvents(3, '10 days');
    const fresh = await seedEvents(4, '0 seconds');

    const pruned = await signals('events', 'prune', '--older-than', '30d', '--json');
    expect(pruned.code).toBe(0);
    expect(pruned.stdout.trim().split('\n')).toHaveLength(1);
    const result = json(pruned.stdout);
    expect(result).toEqual({ pending: 5, deleted: 5, cutoff: expect.any(String) });
    // The cut-off is now minus 30 days (on the database's clock, which is this machine's here).
    expect(Math.abs(Date.parse(result.cutoff as string) - (Date.now() - 30 * 86_400_000))).toBeLessThan(60_000);
    expect(await remainingIds()).toEqual([...middling, ...fresh].sort((a, b) => Number(a) - Number(b)));
    expect(await db.knex('signal_events').whereIn('id', old)).toEqual([]);

    // Hours, and the human output; the fresh events stay.
    const human = await signals('events', 'prune', '--older-than', '120h');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^Deleted 3 event\(s\) created before \d{4}-\d\d-\d\dT/);
    expect(await remainingIds()).toEqual(fresh);
  }, 60_000);

  it('deletes in batches until every matching event is gone, with progress on stderr', async () => {
    await seedEvents(23, '2 hours');
    const fresh = await seedEvents(2, '0 seconds');

    const dry = await signals('events', 'prune', '--older-than', '90m', '--dry-run', '--json');
    expect(json(dry.stdout)).toMatchObject({ pending: 23, deleted: 0 });
    expect(await remainingIds()).toHaveLength(25);

    const pruned = await signals('events', 'prune', '--older-than', '90m', '--batch-size', '4', '--json');
    expect(pruned.code).toBe(0);
    expect(json(pruned.stdout)).toMatchObject({ pending: 23, deleted: 23 });
    expect(pruned.stderr).toContain('prune events: 23 to do');
    expect(pruned.stderr).toContain('prune events: 23/23 (100%)');
    expect(await remainingIds()).toEqual(fresh);
  }, 60_000);

  it('takes one batch of --batch-size rows at a time (service)', async () => {
    await seedEvents(10, '1 day');
    const batches: number[] = [];
    const progress = () => ({ start() {}, advance: (n: number) => batches.push(n), stop() {} });
    const result = await pruneSignalEvents(db.knex, { all: true }, { batchSize: 4, progress });
    expect(batches).toEqual([4, 4, 2]);
    expect(result).toEqual({ pending: 10, deleted: 10, cutoff: null });
    expect(await remainingIds()).toEqual([]);
  });

  it('--all deletes every event, old and new', async () => {
    await seedEvents(6, '400 days');
    await seedEvents(5, '0 seconds');
    const pruned = await signals('events', 'prune', '--all', '--batch-size', '3', '--json');
    expect(pruned.code).toBe(0);
    expect(json(pruned.stdout)).toEqual({ pending: 11, deleted: 11, cutoff: null });
    expect(await remainingIds()).toEqual([]);

    const again = await signals('events', 'prune', '--all');
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('Deleted 0 event(s) (all of them).\n');
  }, 60_000);

  it('explains bad flags, exits 2 and deletes nothing', async () => {
    const ids = await seedEvents(3, '100 days');
    const [neither, both, noUnit, badUnit, zero, badBatch, jsonError] = await Promise.all([
      signals('events', 'prune'),
      signals('events', 'prune', '--all', '--older-than', '30d'),
      signals('events', 'prune', '--older-than', '30'),
      signals('events', 'prune', '--older-than', '2w'),
      signals('events', 'prune', '--older-than', '0d'),
      signals('events', 'prune', '--all', '--batch-size', 'many'),
      signals('events', 'prune', '--older-than', 'soon', '--json'),
    ]);
    for (const r of [neither, both, noUnit, badUnit, zero, badBatch, jsonError]) expect(r.code).toBe(2);
    expect(neither.stderr).toContain('error: Give exactly one of --older-than <duration> (e.g. --older-than 30d) or --all.');
    expect(both.stderr).toContain('Give exactly one of --older-than');
    for (const r of [noUnit, badUnit, zero]) expect(r.stderr).toMatch(/^error: --older-than: .*e\.g\. 30d, 12h or 90m/m);
    expect(badBatch.stderr).toMatch(/^error: --batch-size: /m);
    expect(json(jsonError.stdout)).toEqual({ error: { code: 'USAGE', message: expect.stringMatching(/^--older-than: .*30d/) } });
    expect(await remainingIds()).toEqual(ids);
  }, 60_000);
});

describe('signals events status', () => {
  it('counts the events and gives the oldest and newest', async () => {
    const empty = await signals('events', 'status', '--json');
    expect(empty.code).toBe(0);
    expect(json(empty.stdout)).toEqual({ count: 0, oldest: null, newest: null });

    const [a, b] = await seedEvents(2, '3 days');
    const [c] = await seedEvents(1, '0 seconds');
    await db.knex('signal_events').update({ created_at: '2026-01-02T03:04:05.000Z' }).where('id', a!);
    await db.knex('signal_events').update({ created_at: '2026-02-03T04:05:06.000Z' }).where('id', b!);
    await db.knex('signal_events').update({ created_at: '2026-03-04T05:06:07.000Z' }).where('id', c!);

    const [status, human] = await Promise.all([signals('events', 'status', '--json'), signals('events', 'status')]);
    expect(json(status.stdout)).toEqual({ count: 3, oldest: '2026-01-02T03:04:05.000Z', newest: '2026-03-04T05:06:07.000Z' });
    expect(human.stdout).toBe('3 event(s); oldest 2026-01-02T03:04:05.000Z, newest 2026-03-04T05:06:07.000Z.\n');
  }, 60_000);

  it('has --help', async () => {
    for (const args of [['events'], ['events', 'prune'], ['events', 'status']]) {
      const help = await signals(...args, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Usage: signals events');
    }
  }, 60_000);
});
