// End to end: the real client over real HTTP against the real server on an ephemeral port, on a
// throwaway PostgreSQL. What each role gets back, on the wire and in the database.
import { Writable } from 'node:stream';
import { Keyring } from '@signals/crypto';
import { createTestDatabase, type TestDatabase } from '@signals/db/testing';
import { addSubscription, createDeps, createLogger, createUser, listen, type RunningServer } from '@signals/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignalsClient, isOwnerView, isSignalsError, TRPCClientError, type AppRouter, type OwnerSignalView, type SignalsClient, type SignalsErrorCode } from './index.js';

/** Appears only in owner-only payloads: it must never reach anyone else, the database or the logs. */
const CANARY = `canary-${crypto.randomUUID()}`;

interface Recorded {
  url: string;
  headers: Headers;
  status: number;
  body: string;
}

/** A fetch that delegates to the global one and keeps every exchange, response body included. */
function recordingFetch(log: Recorded[]): typeof globalThis.fetch {
  return async (input, init) => {
    const response = await globalThis.fetch(input, init);
    const request = new Request(input, init);
    log.push({ url: request.url, headers: request.headers, status: response.status, body: await response.clone().text() });
    return response;
  };
}

/** The error a call fails with (and a test failure if it does not fail). */
async function failure(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

function expectCode(err: unknown, code: SignalsErrorCode) {
  expect(err).toBeInstanceOf(TRPCClientError);
  expect(isSignalsError(err), String(err)).toBe(true);
  expect(isSignalsError(err, code), `expected ${code}, got ${isSignalsError(err) ? err.data?.code : String(err)}: ${String(err)}`).toBe(true);
  // And only that code.
  expect((err as TRPCClientError<AppRouter>).data?.code).toBe(code);
  expect(isSignalsError(err, code === 'NOT_FOUND' ? 'CONFLICT' : 'NOT_FOUND')).toBe(false);
}

describe('@signals/client against the server', () => {
  let db: TestDatabase;
  let server: RunningServer;
  const logLines: string[] = [];

  interface Actor {
    id: string;
    token: string;
    client: SignalsClient;
    wire: Recorded[];
  }
  let owner: Actor;
  let otherOwner: Actor;
  let subscriber: Actor;
  let stranger: Actor;
  let admin: Actor;

  /** The owner's first signal, with the canary in its owner-only payload. */
  let first: OwnerSignalView;
  const ownerOnly = { stopLoss: '1900.00', takeProfit: '1990.00', strategy: 'breakout', notes: `do not share: ${CANARY}`, levels: [1, 2, { deep: CANARY }] };

  beforeAll(async () => {
    db = await createTestDatabase();
    const keyring = Keyring.parse(Keyring.generateEntry('e2e1'));
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString('utf8'));
        done();
      },
    });
    const deps = createDeps({ knex: db.knex, keyring, log: createLogger('trace', sink) });
    server = await listen(deps);

    const actor = async (role: 'admin' | 'owner' | 'subscriber', name: string): Promise<Actor> => {
      const created = await createUser(db.knex, { name, role });
      const wire: Recorded[] = [];
      return { id: created.user.id, token: created.token, wire, client: createSignalsClient({ url: server.url, token: created.token, fetch: recordingFetch(wire) }) };
    };
    owner = await actor('owner', 'owner-e2e');
    otherOwner = await actor('owner', 'other-owner-e2e');
    subscriber = await actor('subscriber', 'subscriber-e2e');
    stranger = await actor('subscriber', 'stranger-e2e');
    admin = await actor('admin', 'admin-e2e');
    await addSubscription(db.knex, owner.id, subscriber.id);
  });

  afterAll(async () => {
    await server?.close();
    await db?.destroy();
  });

  it('lets the owner publish and read back the owner-only payload', async () => {
    const expiresAt = new Date(Date.now() + 3_600_000);
    first = await owner.client.signals.create.mutate({
      instrument: 'XAUUSD',
      side: 'buy',
      entryPrice: '1923.50',
      payload: { confidence: 0.8, timeframe: 'H4' },
      ownerOnly,
      externalId: 'e2e-first',
      expiresAt,
    });
    expect(first).toMatchObject({
      ownerId: owner.id,
      instrument: 'XAUUSD',
      side: 'buy',
      entryPrice: '1923.50',
      status: 'open',
      payload: { confidence: 0.8, timeframe: 'H4' },
      ownerOnly,
      ownerOnlyState: 'present',
      externalId: 'e2e-first',
      version: 1,
    });
    // superjson brings dates back as dates.
    expect(first.expiresAt).toBeInstanceOf(Date);
    expect(first.expiresAt?.getTime()).toBe(expiresAt.getTime());
    expect(first.createdAt).toBeInstanceOf(Date);

    const read = await owner.client.signals.byId.query({ id: first.id });
    expect(isOwnerView(read)).toBe(true);
    expect(read).toEqual(first);
  });

  it('gives subscribers and admins the public view, without any owner-only field, also on the wire', async () => {
    for (const viewer of [subscriber, admin, otherOwner]) {
      viewer.wire.length = 0;
      const view = await viewer.client.signals.byId.query({ id: first.id });
      expect(isOwnerView(view)).toBe(false);
      expect(Object.keys(view).sort()).toEqual(
        ['id', 'ownerId', 'instrument', 'side', 'entryPrice', 'status', 'payload', 'externalId', 'version', 'expiresAt', 'createdAt', 'updatedAt'].sort(),
      );
      const { ownerOnly: _o, ownerOnlyState: _s, ...publicPart } = first;
      expect(view).toEqual(publicPart);

      const listed = await viewer.client.signals.list.query({ ownerId: owner.id });
      expect(listed.items.map((s) => s.id)).toContain(first.id);
      for (const item of listed.items) expect(item).not.toHaveProperty('ownerOnly');

      // The raw JSON: the right responses were seen, and none has the key or the canary.
      expect(viewer.wire).toHaveLength(2);
      for (const exchange of viewer.wire) {
        expect(exchange.status).toBe(200);
        expect(exchange.body).toContain(first.id);
        expect(exchange.body).toContain('1923.50');
        expect(exchange.body).not.toContain('ownerOnly');
        expect(exchange.body).not.toContain(CANARY);
        expect(exchange.body).not.toContain('breakout');
      }
    }
  });

  it('answers NOT_FOUND to a subscriber of someone else, without leaking anything', async () => {
    stranger.wire.length = 0;
    const err = await failure(stranger.client.signals.byId.query({ id: first.id }));
    expectCode(err, 'NOT_FOUND');
    expect(isSignalsError(err, 'FORBIDDEN')).toBe(false);
    expect(stranger.wire).toHaveLength(1);
    expect(stranger.wire[0]!.status).toBe(404);
    expect(stranger.wire[0]!.body).not.toContain(CANARY);
    expect((await stranger.client.signals.list.query({})).items).toEqual([]);
  });

  it('refuses a stale update with CONFLICT and keeps the winning write', async () => {
    const updated = await owner.client.signals.update.mutate({ id: first.id, expectedVersion: 1, patch: { entryPrice: '1925.00' } });
    expect(updated).toMatchObject({ id: first.id, version: 2, entryPrice: '1925.00', ownerOnly });

    const err = await failure(owner.client.signals.update.mutate({ id: first.id, expectedVersion: 1, patch: { entryPrice: '1800.00' } }));
    expectCode(err, 'CONFLICT');
    expect(await owner.client.signals.byId.query({ id: first.id })).toMatchObject({ version: 2, entryPrice: '1925.00' });
  });

  it('returns the same signal when the same externalId is published again', async () => {
    const again = await owner.client.signals.create.mutate({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1923.50', ownerOnly, externalId: 'e2e-first' });
    expect(again.id).toBe(first.id);
    expect(again.version).toBe(2);
    const [{ count }] = (await db.knex('signals').where({ owner_id: owner.id, external_id: 'e2e-first' }).count({ count: '*' })) as [{ count: string }];
    expect(Number(count)).toBe(1);
  });

  it('pages through signals.list with nextCursor', async () => {
    const created: string[] = [first.id];
    for (let i = 0; i < 6; i++) {
      const s = await owner.client.signals.create.mutate({ instrument: `PAGE${i}`, side: i % 2 ? 'sell' : 'buy', entryPrice: `${100 + i}.25` });
      created.push(s.id);
    }
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const page: { items: { id: string; ownerId: string }[]; nextCursor: string | null } = await owner.client.signals.list.query({ limit: 3, cursor });
      pageSizes.push(page.items.length);
      for (const item of page.items) {
        expect(item.ownerId).toBe(owner.id);
        seen.push(item.id);
      }
      cursor = page.nextCursor;
      if (cursor === null) break;
      expect(cursor).toBe(page.items.at(-1)?.id);
    }
    expect(cursor).toBeNull();
    expect(pageSizes).toEqual([3, 3, 1]);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...created].sort());
    // Newest first.
    expect(seen[0]).toBe(created.at(-1));
    expect(seen.at(-1)).toBe(first.id);
  });

  it('answers BAD_REQUEST to invalid input and PAYLOAD_TOO_LARGE to an owner-only payload over 16 KiB', async () => {
    const badInstrument = await failure(owner.client.signals.create.mutate({ instrument: 'not valid!', side: 'buy', entryPrice: '1.00' }));
    expectCode(badInstrument, 'BAD_REQUEST');
    expect(isSignalsError(badInstrument) && badInstrument.data?.fieldErrors?.map((f) => f.path)).toEqual(['instrument']);

    // @ts-expect-error the types refuse it too; the server must refuse it on its own
    const badSide = await failure(owner.client.signals.create.mutate({ instrument: 'XAUUSD', side: 'hold', entryPrice: '1.00' }));
    expectCode(badSide, 'BAD_REQUEST');

    const badPrice = await failure(owner.client.signals.create.mutate({ instrument: 'XAUUSD', side: 'buy', entryPrice: '-1' }));
    expectCode(badPrice, 'BAD_REQUEST');

    const big = { blob: 'x'.repeat(16 * 1024) }; // 16 KiB of text, a little more once serialized
    const tooLarge = await failure(owner.client.signals.create.mutate({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1.00', ownerOnly: big }));
    expectCode(tooLarge, 'PAYLOAD_TOO_LARGE');
    // Just under the limit is fine.
    const fits = await owner.client.signals.create.mutate({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1.00', ownerOnly: { blob: 'x'.repeat(16 * 1024 - 20) } });
    expect(fits.ownerOnly?.blob).toHaveLength(16 * 1024 - 20);
  });

  it('answers UNAUTHORIZED to a bad token', async () => {
    const wire: Recorded[] = [];
    const intruder = createSignalsClient({ url: server.url, token: `sig_${'A'.repeat(43)}`, fetch: recordingFetch(wire) });
    expectCode(await failure(intruder.me.get.query()), 'UNAUTHORIZED');
    expectCode(await failure(intruder.signals.byId.query({ id: first.id })), 'UNAUTHORIZED');
    expect(wire.every((w) => w.status === 401 && !w.body.includes(CANARY))).toBe(true);
    // The same call with a good token works, so it was the token.
    expect(await owner.client.me.get.query()).toMatchObject({ id: owner.id, role: 'owner' });
  });

  it('stores the owner-only payload as sv1. ciphertext, without the canary, and never logs it', async () => {
    const row = (await db.knex('signals').where({ id: first.id }).first()) as Record<string, unknown>;
    const sealed = row.owner_only_payload;
    expect(typeof sealed).toBe('string');
    expect(sealed as string).toMatch(/^sv1\./);
    expect(sealed as string).not.toContain(CANARY);
    expect(Buffer.from((sealed as string).replace(/^sv1\./, '').replace(/\./g, ''), 'base64url').toString('latin1')).not.toContain(CANARY);
    expect(JSON.stringify(row)).not.toContain(CANARY);
    expect(JSON.stringify(row)).not.toContain('breakout');

    const everything = (await db.knex.raw("select string_agg(s::text, '\n') as dump from signals s")) as { rows: { dump: string }[] };
    expect(everything.rows[0]!.dump).toContain(first.id);
    expect(everything.rows[0]!.dump).not.toContain(CANARY);

    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('')).not.toContain(CANARY);
  });
});

describe('createSignalsClient', () => {
  it('sends every call through the fetch it is given, with the token, under /trpc', async () => {
    const calls: { url: string; authorization: string | null }[] = [];
    const fake: typeof globalThis.fetch = async (input, init) => {
      const request = new Request(input, init);
      calls.push({ url: request.url, authorization: request.headers.get('authorization') });
      const body = JSON.stringify([{ result: { data: { json: { id: 'u1', name: 'someone', role: 'owner' } } } }]);
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    };
    // A base URL with a trailing slash still gets exactly one /trpc.
    const client = createSignalsClient({ url: 'http://signals.invalid:1234/', token: 'sig_custom', fetch: fake });
    await expect(client.me.get.query()).resolves.toEqual({ id: 'u1', name: 'someone', role: 'owner' });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toMatch(/^http:\/\/signals\.invalid:1234\/trpc\/me\.get\?batch=1/);
    expect(calls[0]!.authorization).toBe('Bearer sig_custom');
  });

  it('surfaces a failing fetch as a TRPCClientError caused by it', async () => {
    const boom = new Error('network down');
    const client = createSignalsClient({ url: 'http://signals.invalid', token: 'sig_x', fetch: () => Promise.reject(boom) });
    const err = await failure(client.me.get.query());
    expect(err).toBeInstanceOf(TRPCClientError);
    expect((err as TRPCClientError<never>).cause).toBe(boom);
    expect(isSignalsError(err)).toBe(true);
    expect(isSignalsError(err, 'UNAUTHORIZED')).toBe(false);
    expect(isSignalsError(new Error('plain'))).toBe(false);
  });
});
