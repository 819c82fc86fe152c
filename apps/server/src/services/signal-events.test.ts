// signals.onChange: the outbox, the feed over real HTTP (SSE), resumption, and delivery across
// replicas through LISTEN/NOTIFY.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { createHarness, type Harness, type TestUser } from '../testing/harness.js';
import { openFeed, sleep } from '../testing/live.js';
import { createDeps } from '../deps.js';
import { listen, type RunningServer } from '../server.js';
import { SIGNAL_EVENTS_CHANNEL } from '../events/hub.js';
import { revokeToken } from './users.js';
import { comparePositions, parseEventId, type EventPosition } from './event-position.js';
import { writeSignalsWithEvents } from './signal-events.js';
import { SIGNAL_COLUMNS } from './signal-rows.js';

const CANARY = `CANARY-${crypto.randomUUID()}`;

let h: Harness;
let url: string;
let owner: TestUser;
let otherOwner: TestUser;
let follower: TestUser;
let stranger: TestUser;

beforeAll(async () => {
  h = await createHarness();
  url = (await h.serve()).url;
  owner = await h.user('owner');
  otherOwner = await h.user('owner');
  follower = await h.user('subscriber');
  stranger = await h.user('subscriber');
  await h.subscribe(owner, follower);
  await h.subscribe(otherOwner, stranger);
});
afterAll(() => h.close());

const publish = (by: TestUser = owner, extra: Record<string, unknown> = {}) =>
  h.caller(by).signals.create({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1923.50', ownerOnly: { stopLoss: '1900', notes: CANARY }, ...extra });

interface NotificationClient {
  query(sql: string): Promise<unknown>;
  on(event: 'notification', listener: (msg: { payload?: string }) => void): unknown;
}

const position = (eventId: string) => parseEventId(eventId) as EventPosition;
const ascending = (eventIds: string[]) => eventIds.every((id, i) => i === 0 || comparePositions(position(eventIds[i - 1]!), position(id)) < 0);

/** The position of the newest event, as a client would resume from it. */
async function latestPosition(): Promise<string> {
  const { rows } = (await h.knex.raw(`select tx_id::text || '.' || id as position from signal_events order by tx_id desc, id desc limit 1`)) as { rows: { position: string }[] };
  return rows[0]!.position;
}

async function eventsOf(signalId: string) {
  return (await h.knex('signal_events').where('signal_id', signalId).orderBy('id').select('kind', 'owner_id as ownerId')) as { kind: string; ownerId: string }[];
}

describe('the signal_events outbox', () => {
  it('records created, updated, closed and cancelled, once each, and nothing for refused or repeated writes', async () => {
    const a = await publish(owner, { externalId: 'outbox-1' });
    await publish(owner, { externalId: 'outbox-1' }); // idempotent: the same signal, no new event
    const updated = await h.caller(owner).signals.update({ id: a.id, expectedVersion: 1, patch: { entryPrice: '1930' } });
    await expect(h.caller(owner).signals.update({ id: a.id, expectedVersion: 1, patch: { entryPrice: '1' } })).rejects.toBeInstanceOf(TRPCError);
    await expect(h.caller(follower).signals.close({ id: a.id })).rejects.toBeInstanceOf(TRPCError);
    await h.caller(owner).signals.close({ id: a.id });
    await expect(h.caller(owner).signals.cancel({ id: a.id })).rejects.toBeInstanceOf(TRPCError);
    expect(updated.version).toBe(2);
    expect(await eventsOf(a.id)).toEqual(['created', 'updated', 'closed'].map((kind) => ({ kind, ownerId: owner.id })));

    const b = await publish();
    await h.caller(owner).signals.cancel({ id: b.id });
    expect((await eventsOf(b.id)).map((e) => e.kind)).toEqual(['created', 'cancelled']);
  });

  it('tells other replicas only that something changed: no ids, no kinds, never payload contents', async () => {
    // A plain connection of our own, outside the pool (what the hub does too).
    const client = h.knex.client as unknown as { acquireRawConnection(): Promise<NotificationClient>; destroyRawConnection(c: NotificationClient): Promise<void> };
    const listener = await client.acquireRawConnection();
    try {
      const payloads: string[] = [];
      listener.on('notification', (msg) => payloads.push(msg.payload ?? ''));
      await listener.query(`LISTEN ${SIGNAL_EVENTS_CHANNEL}`);
      const s = await publish();
      await h.caller(owner).signals.close({ id: s.id });
      for (let i = 0; i < 200 && payloads.length < 1; i++) await sleep(10);
      expect(payloads.length).toBeGreaterThan(0);
      // The sending process's instance id, so that it can ignore its own echo.
      for (const p of payloads) expect(p).toMatch(/^[0-9a-f-]{36}$/);
      expect(payloads.join('')).not.toContain(s.id);
      expect(payloads.join('')).not.toContain(CANARY);
    } finally {
      await client.destroyRawConnection(listener);
    }
  });

  it('does not make writers wait for each other: a create commits while another event’s transaction is open', async () => {
    const a = await publish();
    const trx = await h.knex.transaction();
    try {
      // A signal write with its event, the way the services write, in a transaction left open…
      const update = trx('signals').update({ updated_at: new Date() }).where('id', a.id).returning(SIGNAL_COLUMNS);
      expect(await writeSignalsWithEvents({ ...h.deps, knex: trx }, update, 'updated')).toMatchObject([{ id: a.id }]);
      // …does not hold up another writer (one lock for the whole outbox would).
      const created = await Promise.race([publish(), sleep(3_000).then(() => null)]);
      expect(created).not.toBeNull();
    } finally {
      await trx.rollback();
    }
  });
});

describe('signals.onChange over SSE', () => {
  it('pushes new signals and status changes: the owner view to the owner, the public view to subscribers, nothing to others', async () => {
    const feeds = { owner: openFeed(url, owner.token), follower: openFeed(url, follower.token), stranger: openFeed(url, stranger.token), otherOwner: openFeed(url, otherOwner.token) };
    try {
      await Promise.all(Object.values(feeds).map((f) => f.until(() => f.raw().includes('event: connected'), 'connected')));
      await sleep(100);
      const s = await publish();
      await h.caller(owner).signals.update({ id: s.id, expectedVersion: 1, patch: { entryPrice: '1925' } });
      await h.caller(owner).signals.close({ id: s.id });
      const mine = (f: (typeof feeds)['owner']) => f.events.filter((e) => e.data.signal.id === s.id);
      await feeds.owner.until(() => mine(feeds.owner).length === 3, 'three owner events');
      await feeds.follower.until(() => mine(feeds.follower).length === 3, 'three follower events');

      expect(mine(feeds.owner).map((e) => e.data.kind)).toEqual(['created', 'updated', 'closed']);
      expect(mine(feeds.follower).map((e) => e.data.kind)).toEqual(['created', 'updated', 'closed']);
      expect(ascending(mine(feeds.owner).map((e) => e.id))).toBe(true);
      expect(mine(feeds.follower).map((e) => e.id)).toEqual(mine(feeds.owner).map((e) => e.id));
      for (const e of mine(feeds.owner)) expect(e.data.signal).toMatchObject({ ownerOnly: { stopLoss: '1900', notes: CANARY }, ownerOnlyState: 'present' });
      for (const e of mine(feeds.follower)) {
        expect(e.data.signal).not.toHaveProperty('ownerOnly');
        expect(e.data.signal).not.toHaveProperty('ownerOnlyState');
      }
      // Dates arrive as dates (superjson), and the view is the signal as it is when delivered.
      expect(mine(feeds.follower)[0]!.data.signal.createdAt).toBeInstanceOf(Date);

      await sleep(300);
      expect(mine(feeds.stranger)).toEqual([]);
      expect(mine(feeds.otherOwner)).toEqual([]);
      expect(feeds.follower.raw()).not.toContain(CANARY);
      expect(feeds.follower.raw()).not.toContain('ownerOnly');
      expect(feeds.stranger.raw()).not.toContain(s.id);
      expect(feeds.owner.raw()).toContain(CANARY);
      for (const f of Object.values(feeds)) expect(f.error).toBeNull();
    } finally {
      for (const f of Object.values(feeds)) f.close();
    }
    expect(h.logs()).not.toContain(CANARY);
  });

  it('resumes from lastEventId after a reconnect: what was missed arrives, nothing twice', async () => {
    const first = openFeed(url, follower.token);
    const a = await (async () => {
      await first.connected();
      const created = await publish();
      await first.until(() => first.events.some((e) => e.data.signal.id === created.id), 'the first event');
      return created;
    })();
    const last = first.events.at(-1)!;
    first.close();

    const missed = [await publish(), await publish()];
    await h.caller(owner).signals.close({ id: a.id });

    const second = openFeed(url, follower.token, { lastEventId: last.id });
    try {
      await second.until(() => second.events.length >= 3, 'the missed events');
      await sleep(300);
      expect(second.events.map((e) => [e.data.signal.id, e.data.kind])).toEqual([
        [missed[0]!.id, 'created'],
        [missed[1]!.id, 'created'],
        [a.id, 'closed'],
      ]);
      expect(second.events.map((e) => e.id)).not.toContain(last.id);
      expect(new Set(second.events.map((e) => e.id)).size).toBe(second.events.length);
    } finally {
      second.close();
    }
  });

  it('misses nothing when many changes commit concurrently', async () => {
    const feed = openFeed(url, follower.token);
    try {
      await feed.connected();
      const created = await Promise.all(Array.from({ length: 40 }, () => publish()));
      await Promise.all(created.slice(0, 20).map((s) => h.caller(owner).signals.close({ id: s.id })));
      const expected = created.length + 20;
      await feed.until(() => feed.events.length >= expected, `${expected} events`, 20_000);
      await sleep(300);
      expect(feed.events).toHaveLength(expected);
      expect(new Set(feed.events.map((e) => `${e.data.signal.id}:${e.data.kind}`)).size).toBe(expected);
      expect(ascending(feed.events.map((e) => e.id))).toBe(true);
    } finally {
      feed.close();
    }
  });

  it('holds back what commits behind an open older transaction, then delivers both in order, soon and once', async () => {
    // A replica that polls once a minute: what arrives here in time arrives by its own retries. (Other
    // test files' write transactions in the same cluster can hold the horizon back a little too.)
    const depsD = createDeps({ knex: h.knex, keyring: h.keyring, log: h.deps.log, events: { pollIntervalMs: 60_000 } });
    const replicaD = await listen(depsD);
    const feed = openFeed(replicaD.url, follower.token);
    const a = await publish();
    const older = await h.knex.transaction();
    try {
      await feed.connected();
      // The older transaction records an event first; a newer one commits while it is open.
      await older('signal_events').insert({ signal_id: a.id, owner_id: owner.id, kind: 'updated' });
      const newer = await publish();
      await sleep(300);
      // Delivering the newer event now would move the cursor past the older one, and lose it.
      expect(feed.events.filter((e) => e.data.signal.id === newer.id)).toEqual([]);
      await older.commit();
      await feed.until(() => feed.events.some((e) => e.data.signal.id === newer.id), 'the held-back event', 5_000);
      await sleep(200);
      const mine = feed.events.filter((e) => [a.id, newer.id].includes(e.data.signal.id));
      expect(mine.map((e) => [e.data.signal.id, e.data.kind])).toEqual([
        [a.id, 'updated'],
        [newer.id, 'created'],
      ]);
      expect(ascending(feed.events.map((e) => e.id))).toBe(true);
    } finally {
      if (!older.isCompleted()) await older.rollback();
      feed.close();
      await replicaD.close();
      await depsD.events.close();
    }
  });

  it('keeps an owner’s feed going past a payload that does not open: that event says unreadable', async () => {
    const feed = openFeed(url, owner.token);
    try {
      await feed.connected();
      const [a, b] = [await publish(), await publish()];
      // b's sealed value moved into a's row: bound to b's id, it must not open there.
      const bSealed = (await h.knex('signals').where('id', b.id).first('owner_only_payload')).owner_only_payload as string;
      await h.knex('signals').where('id', a.id).update({ owner_only_payload: bSealed });
      // A change of a, recorded the way the services record one.
      await writeSignalsWithEvents(h.deps, h.knex('signals').update({ entry_price: '1930' }).where('id', a.id).returning(SIGNAL_COLUMNS), 'updated');
      const after = await publish();
      await feed.until(() => feed.events.some((e) => e.data.signal.id === after.id), 'the event after the unreadable one');
      const ofA = feed.events.filter((e) => e.data.signal.id === a.id).map((e) => [e.data.kind, e.data.signal]);
      expect(ofA.at(-1)).toEqual(['updated', expect.objectContaining({ ownerOnly: null, ownerOnlyState: 'unreadable' })]);
      expect(feed.error).toBeNull();
      expect(feed.connections).toBe(1);
    } finally {
      feed.close();
    }
  });

  it('resumes from a plain event id given before positions existed', async () => {
    const lastPlainId = String((await h.knex('signal_events').max({ id: 'id' }).first())!.id);
    const after = await publish();
    const feed = openFeed(url, follower.token, { lastEventId: lastPlainId });
    try {
      await feed.until(() => feed.events.some((e) => e.data.signal.id === after.id), 'the event after it');
      await sleep(200);
      expect(feed.events.map((e) => e.data.signal.id)).toEqual([after.id]);
      expect(feed.events[0]!.id).toMatch(/^\d+\.\d+$/);
    } finally {
      feed.close();
    }
  });

  it('resumes across more than one batch, in order, between other owners’ events', async () => {
    const lastEventId = await latestPosition();
    const missed: string[] = [];
    for (let i = 0; i < 130; i++) {
      missed.push((await publish()).id);
      if (i % 10 === 0) await publish(otherOwner); // not for this follower
    }
    const feed = openFeed(url, follower.token, { lastEventId });
    try {
      await feed.until(() => feed.events.length >= missed.length, 'all missed events', 20_000);
      await sleep(200);
      expect(feed.events.map((e) => e.data.signal.id)).toEqual(missed);
      expect(new Set(feed.events.map((e) => e.id)).size).toBe(missed.length);
    } finally {
      feed.close();
    }
  });

  it('reconnects by itself after the connection drops, resuming with Last-Event-ID', async () => {
    const running = await h.serve();
    const feed = openFeed(running.url, follower.token);
    try {
      await feed.connected();
      const before = await publish();
      await feed.until(() => feed.events.some((e) => e.data.signal.id === before.id), 'the first event');
      running.server.closeAllConnections(); // the server keeps listening; the stream is cut
      const during = [await publish(), await publish()];
      await feed.until(() => during.every((d) => feed.events.some((e) => e.data.signal.id === d.id)), 'the events published while disconnected', 15_000);
      expect(feed.connections).toBe(2);
      expect(feed.error).toBeNull();
      const ids = feed.events.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(feed.events.filter((e) => e.data.signal.id === before.id)).toHaveLength(1);
    } finally {
      feed.close();
    }
  });

  it('delivers across replicas: a change written through one server reaches a feed on another (NOTIFY, not polling)', async () => {
    // Replica B: its own services and hub on the same database, polling only once a minute.
    const depsB = createDeps({ knex: h.knex, keyring: h.keyring, log: h.deps.log, events: { pollIntervalMs: 60_000 } });
    let replicaB: RunningServer | undefined;
    const feed = (async () => {
      replicaB = await listen(depsB);
      return openFeed(replicaB.url, follower.token);
    })();
    const f = await feed;
    try {
      await f.until(() => f.raw().includes('event: connected'), 'connected');
      await f.until(() => depsB.events.listening, 'replica B to LISTEN');
      await sleep(100);
      const started = Date.now();
      const s = await publish(); // written by replica A's services
      await f.until(() => f.events.some((e) => e.data.signal.id === s.id), 'the event on replica B', 5_000);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      f.close();
      await replicaB?.close();
      await depsB.events.close();
    }
  });

  it('listens again after losing its LISTEN connection, and delivers what happened meanwhile', async () => {
    const depsC = createDeps({ knex: h.knex, keyring: h.keyring, log: h.deps.log, events: { pollIntervalMs: 60_000, reconnectDelayMs: 100 } });
    const replicaC = await listen(depsC);
    const f = openFeed(replicaC.url, follower.token);
    try {
      await f.until(() => f.raw().includes('event: connected') && depsC.events.listening, 'connected and listening');
      const killed = await h.knex.raw("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'LISTEN %'");
      expect((killed as { rows: unknown[] }).rows.length).toBeGreaterThan(0);
      await f.until(() => !depsC.events.listening, 'the hub to notice');
      const during = await publish();
      await f.until(() => f.events.some((e) => e.data.signal.id === during.id), 'the event published while the hub was down', 5_000);
      expect(depsC.events.listening).toBe(true);
      const after = await publish();
      await f.until(() => f.events.some((e) => e.data.signal.id === after.id), 'an event after recovery', 5_000);
    } finally {
      f.close();
      await replicaC.close();
      await depsC.events.close();
    }
  });

  it('ends the feed with UNAUTHORIZED once its token is revoked, delivering nothing more', async () => {
    const reader = await h.user('subscriber');
    await h.subscribe(owner, reader);
    const feed = openFeed(url, reader.token);
    try {
      await feed.connected();
      await revokeToken(h.knex, reader.tokenId);
      const s = await publish();
      await feed.until(() => feed.error !== null, 'the feed to fail');
      expect(feed.error?.data?.code).toBe('UNAUTHORIZED');
      expect(feed.events.filter((e) => e.data.signal.id === s.id)).toEqual([]);
    } finally {
      feed.close();
    }
  });

  it('stops delivering an owner’s signals once the subscription is removed', async () => {
    const reader = await h.user('subscriber');
    await h.subscribe(owner, reader);
    const feed = openFeed(url, reader.token);
    try {
      await feed.connected();
      const seen = await publish();
      await feed.until(() => feed.events.some((e) => e.data.signal.id === seen.id), 'the first event');
      await h.caller(await h.user('admin')).subscriptions.remove({ ownerId: owner.id, subscriberId: reader.id });
      const unseen = await publish();
      await sleep(500);
      expect(feed.events.map((e) => e.data.signal.id)).toEqual([seen.id]);
      expect(feed.raw()).not.toContain(unseen.id);
    } finally {
      feed.close();
    }
  });

  it('refuses a malformed lastEventId with BAD_REQUEST, and treats one from the future as "from now"', async () => {
    const bad = openFeed(url, follower.token, { lastEventId: 'abc' });
    try {
      await bad.until(() => bad.error !== null, 'the refusal');
      expect(bad.error?.data?.code).toBe('BAD_REQUEST');
    } finally {
      bad.close();
    }
    for (const lastEventId of ['999999999999999.1', '999999999999']) {
      const future = openFeed(url, follower.token, { lastEventId });
      try {
        await future.connected();
        const s = await publish();
        await future.until(() => future.events.some((e) => e.data.signal.id === s.id), 'the new event');
        expect(future.events).toHaveLength(1);
      } finally {
        future.close();
      }
    }
  });

  it('closes promptly with feeds open, cutting them so that clients reconnect elsewhere', async () => {
    const running = await h.serve();
    const feed = openFeed(running.url, follower.token);
    await feed.until(() => feed.raw().includes('event: connected'), 'connected');
    const started = Date.now();
    await running.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    feed.close();
  });
});
