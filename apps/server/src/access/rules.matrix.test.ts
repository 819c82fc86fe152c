// The role × procedure matrix, generated from the rules table and checked over real HTTP. Every
// procedure of the router must have a rule and a sample call here, or this test fails; subscriptions
// are called over SSE the way @signals/client calls them. Every response body of the matrix is kept
// and scanned at the end: owner-only data (the field, or the canary planted in every owner-only
// payload) may reach nobody but the signal's owner.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { TRPCError } from '@trpc/server';
import superjson from 'superjson';
import type { AppRouter } from '../routers/_app.js';
import { appRouter } from '../routers/_app.js';
import { createCallerFactory, procedure, router } from '../trpc.js';
import { createInnerContext } from '../context.js';
import { rules, ruleFor, type Rule } from './rules.js';
import { createHarness, type Harness, type TestUser } from '../testing/harness.js';
import { openFeed, sleep, type LiveFeed } from '../testing/live.js';
import { revokeToken, disableUser } from '../services/users.js';

type Identity = 'anonymous' | 'badToken' | 'revokedToken' | 'disabledUser' | 'admin' | 'owner' | 'otherOwner' | 'subscriberOfOwner' | 'otherSubscriber';
const IDENTITIES: Identity[] = ['anonymous', 'badToken', 'revokedToken', 'disabledUser', 'admin', 'owner', 'otherOwner', 'subscriberOfOwner', 'otherSubscriber'];

/** Planted in the owner-only payload of every signal the matrix works on. */
const CANARY = `CANARY-${crypto.randomUUID()}`;

interface Fixture {
  users: Record<Exclude<Identity, 'anonymous' | 'badToken' | 'revokedToken' | 'disabledUser'>, TestUser>;
  /** A fresh open signal of `owner` for each call, so state changes do not leak between cells. */
  freshSignal(): Promise<{ id: string; version: number }>;
  spareSubscriber: TestUser;
  spareTokenUser: TestUser;
}

type Call = { type: 'query' | 'mutation' | 'subscription'; input: unknown };

/** One sample call per procedure: valid input, so only access decides the outcome. */
const samples: Record<string, (f: Fixture) => Promise<Call>> = {
  'health.ping': async () => ({ type: 'query', input: undefined }),
  'me.get': async () => ({ type: 'query', input: undefined }),
  'signals.create': async () => ({ type: 'mutation', input: { instrument: 'XAUUSD', side: 'buy', entryPrice: '1', ownerOnly: { stopLoss: '0.5' } } }),
  'signals.byId': async (f) => ({ type: 'query', input: { id: (await f.freshSignal()).id } }),
  'signals.list': async (f) => ({ type: 'query', input: { ownerId: f.users.owner.id } }),
  'signals.update': async (f) => {
    const s = await f.freshSignal();
    return { type: 'mutation', input: { id: s.id, expectedVersion: s.version, patch: { entryPrice: '2' } } };
  },
  'signals.close': async (f) => ({ type: 'mutation', input: { id: (await f.freshSignal()).id } }),
  'signals.cancel': async (f) => ({ type: 'mutation', input: { id: (await f.freshSignal()).id } }),
  'signals.onChange': async () => ({ type: 'subscription', input: {} }),
  'approvals.pending': async () => ({ type: 'query', input: {} }),
  'approvals.decide': async (f) => ({ type: 'mutation', input: { signalId: (await f.freshSignal()).id, decision: 'approve', reason: 'matrix' } }),
  'approvals.forSignal': async (f) => ({ type: 'query', input: { signalId: (await f.freshSignal()).id } }),
  'subscriptions.add': async (f) => ({ type: 'mutation', input: { ownerId: f.users.owner.id, subscriberId: f.spareSubscriber.id } }),
  'subscriptions.remove': async (f) => ({ type: 'mutation', input: { ownerId: f.users.owner.id, subscriberId: f.spareSubscriber.id } }),
  'subscriptions.list': async () => ({ type: 'query', input: {} }),
  'users.create': async () => ({ type: 'mutation', input: { name: 'matrix', role: 'subscriber' } }),
  'users.list': async () => ({ type: 'query', input: {} }),
  'users.disable': async (f) => ({ type: 'mutation', input: { userId: f.spareSubscriber.id } }),
  'tokens.create': async (f) => ({ type: 'mutation', input: { userId: f.spareTokenUser.id } }),
  'tokens.revoke': async (f) => ({ type: 'mutation', input: { tokenId: f.spareTokenUser.tokenId } }),
};

/** What the rules table says each identity gets (written out here, not taken from rules.ts). */
function expected(rule: Rule, who: Identity): string {
  if (rule.roles === 'public') return 'OK';
  if (who === 'anonymous' || who === 'badToken' || who === 'revokedToken' || who === 'disabledUser') return 'UNAUTHORIZED';
  const role = who === 'admin' ? 'admin' : who === 'owner' || who === 'otherOwner' ? 'owner' : 'subscriber';
  if (!rule.roles.includes(role)) return 'FORBIDDEN';
  if (rule.rows === 'visible-signal') return who === 'otherSubscriber' ? 'NOT_FOUND' : 'OK';
  if (rule.rows === 'own-signal') return who === 'owner' ? 'OK' : who === 'otherSubscriber' ? 'NOT_FOUND' : 'FORBIDDEN';
  if (rule.rows === 'subscribed-signal') return who === 'subscriberOfOwner' ? 'OK' : who === 'otherSubscriber' ? 'NOT_FOUND' : 'FORBIDDEN';
  return 'OK';
}

/** Which identities a live feed must deliver a new signal of `owner` to, and with which view. */
function feedView(who: Identity): 'owner' | 'public' | null {
  return who === 'owner' ? 'owner' : who === 'subscriberOfOwner' ? 'public' : null;
}

let h: Harness;
let url: string;
let fixture: Fixture;
const tokens = {} as Record<Identity, string | null>;
const callerIds = {} as Record<Identity, string | null>;

/** Every response body of the matrix: who asked, for what, and what came back. */
interface Exchange {
  who: Identity;
  path: string;
  body: string;
}
const exchanges: Exchange[] = [];

beforeAll(async () => {
  h = await createHarness();
  url = (await h.serve()).url;
  const users = {
    admin: await h.user('admin'),
    owner: await h.user('owner'),
    otherOwner: await h.user('owner'),
    subscriberOfOwner: await h.user('subscriber'),
    otherSubscriber: await h.user('subscriber'),
  };
  await h.subscribe(users.owner, users.subscriberOfOwner);
  // The other subscriber follows another owner, so "subscriber of someone else" is literal.
  await h.subscribe(users.otherOwner, users.otherSubscriber);
  const revoked = await h.user('owner');
  await revokeToken(h.knex, revoked.tokenId);
  const disabled = await h.user('admin');
  await disableUser(h.knex, disabled.id);
  Object.assign(tokens, {
    anonymous: null,
    badToken: 'sig_' + 'A'.repeat(43),
    revokedToken: revoked.token,
    disabledUser: disabled.token,
    ...Object.fromEntries(Object.entries(users).map(([k, u]) => [k, u.token])),
  });
  Object.assign(callerIds, {
    anonymous: null,
    badToken: null,
    revokedToken: null,
    disabledUser: null,
    ...Object.fromEntries(Object.entries(users).map(([k, u]) => [k, u.id])),
  });
  const spareSubscriber = await h.user('subscriber');
  fixture = {
    users,
    freshSignal: async () => {
      const s = await h.caller(users.owner).signals.create({
        instrument: 'XAUUSD',
        side: 'buy',
        entryPrice: '1',
        ownerOnly: { stopLoss: '0.9', takeProfit: '1.4', strategy: 'matrix', notes: CANARY },
      });
      return { id: s.id, version: s.version };
    },
    spareSubscriber,
    spareTokenUser: await h.user('subscriber'),
  };
});
afterAll(() => h.close());

function clientFor(token: string | null, who: Identity, path: string) {
  const recording: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    exchanges.push({ who, path, body: await response.clone().text() });
    return response;
  };
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, transformer: superjson, fetch: recording, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) })],
  });
}

function codeOf(err: unknown): string {
  if (err instanceof TRPCClientError) return String((err.data as { code?: string } | undefined)?.code);
  throw err;
}

async function callOverHttp(who: Identity, path: string, call: Call): Promise<string> {
  const client = clientFor(tokens[who], who, path) as unknown as Record<string, Record<string, Record<string, (i: unknown) => Promise<unknown>>>>;
  const [domain, name] = path.split('.') as [string, string];
  try {
    await client[domain]![name]![call.type === 'query' ? 'query' : 'mutate']!(call.input);
    return 'OK';
  } catch (err) {
    return codeOf(err);
  }
}

/**
 * A subscription cell, for all identities at once: each subscribes over SSE; then the owner
 * publishes a signal. An identity gets 'OK' when its stream stays open without an error, and the
 * error's code otherwise. Those the feed is for must also receive the new signal, in their view;
 * the others must receive nothing.
 */
async function subscribeOverHttp(path: string, call: Call): Promise<{ got: Record<Identity, string>; feeds: Record<Identity, LiveFeed> }> {
  expect(path).toBe('signals.onChange'); // the one subscription; a new one needs its own open*() helper
  const feeds = Object.fromEntries(IDENTITIES.map((who) => [who, openFeed(url, tokens[who], call.input as { lastEventId?: string })])) as Record<Identity, LiveFeed>;
  try {
    // Every stream answered (connected, or refused), and the refusals had time to arrive.
    await Promise.all(IDENTITIES.map((who) => feeds[who].until(() => feeds[who].connections > 0 && (feeds[who].raw().includes('event: connected') || feeds[who].error !== null), `${who} connected`)));
    await sleep(300);
    const published = await fixture.freshSignal();
    for (const who of IDENTITIES) {
      if (feedView(who) && !feeds[who].error) {
        await feeds[who].until(() => feeds[who].events.some((e) => e.data.signal.id === published.id), `${who} to receive ${published.id}`);
      }
    }
    await sleep(300); // long enough for a wrongly delivered event to show up too
    for (const who of IDENTITIES) {
      const mine = feeds[who].events.filter((e) => e.data.signal.id === published.id);
      const view = feedView(who);
      if (!view || feeds[who].error) {
        expect(mine, `${who} must not receive ${published.id}`).toEqual([]);
      } else {
        expect(mine.map((e) => e.data.kind), who).toEqual(['created']);
        expect('ownerOnly' in mine[0]!.data.signal, `${who} gets the ${view} view`).toBe(view === 'owner');
      }
    }
    const got = Object.fromEntries(IDENTITIES.map((who) => [who, feeds[who].error ? codeOf(feeds[who].error) : 'OK'])) as Record<Identity, string>;
    return { got, feeds };
  } finally {
    for (const who of IDENTITIES) {
      feeds[who].close();
      exchanges.push({ who, path, body: feeds[who].raw() });
    }
  }
}

const procedurePaths = Object.keys(appRouter._def.procedures);

/** Owner-only data in a response body to `callerId`: the canary, or an owner-only field on a signal not theirs. */
function leaks(body: string, callerId: string | null, isOwner: boolean): string[] {
  const found: string[] = [];
  if (!isOwner && body.includes(CANARY)) found.push('the canary');
  const documents = body.trimStart().startsWith('{') || body.trimStart().startsWith('[') ? [body] : body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (!value || typeof value !== 'object') return;
    const record = value as Record<string, unknown>;
    if (('ownerOnly' in record || 'ownerOnlyState' in record) && record.ownerId !== callerId) found.push(`an owner-only field of a signal of ${String(record.ownerId)}`);
    Object.values(record).forEach(visit);
  };
  for (const doc of documents) {
    if (!doc.trim()) continue;
    visit(JSON.parse(doc));
  }
  return found;
}

describe('access rules', () => {
  it('has a rule and a sample call for every procedure, and no rule without a procedure', () => {
    for (const path of procedurePaths) {
      expect(ruleFor(path), `rule for ${path}`).toBeDefined();
      expect(samples[path], `sample call for ${path}`).toBeDefined();
    }
    expect(Object.keys(rules).sort()).toEqual([...procedurePaths].sort());
    expect(Object.keys(samples).sort()).toEqual([...procedurePaths].sort());
  });

  it('refuses a procedure that has no rule, whoever calls it', async () => {
    const withExtra = router({ extra: router({ unruled: procedure.query(() => 'leaked') }) });
    const caller = createCallerFactory(withExtra)(createInnerContext({ deps: h.deps, user: fixture.users.admin }));
    const err = await caller.extra.unruled().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCError);
    expect((err as TRPCError).code).toBe('FORBIDDEN');
    expect((err as TRPCError).message).toMatch(/No access rule/);
  });

  for (const path of Object.keys(rules)) {
    it(`${path}: every identity gets what the rules table says`, async () => {
      const rule = ruleFor(path)!;
      const want = Object.fromEntries(IDENTITIES.map((who) => [who, expected(rule, who)]));
      const probe = await samples[path]!(fixture);
      if (probe.type === 'subscription') {
        const { got } = await subscribeOverHttp(path, probe);
        expect(got).toEqual(want);
        return;
      }
      const got: Record<string, string> = {};
      for (const who of IDENTITIES) {
        const call = await samples[path]!(fixture);
        got[who] = await callOverHttp(who, path, call);
        // Restore shared state that an allowed call changed.
        if (got[who] === 'OK' && path === 'users.disable') await h.knex('users').update({ disabled_at: null }).where('id', fixture.spareSubscriber.id);
        if (got[who] === 'OK' && path === 'tokens.revoke') await h.knex('api_tokens').update({ revoked_at: null }).where('id', fixture.spareTokenUser.tokenId);
      }
      expect(got).toEqual(want);
    });
  }

  it('sent owner-only data to nobody but the owner, over the whole matrix (SSE included)', () => {
    const paths = new Set(exchanges.map((e) => e.path));
    expect([...paths].sort(), 'every procedure was called and recorded').toEqual([...procedurePaths].sort());
    // The canary was really there to be found: the owner got it back, in JSON and over SSE.
    expect(exchanges.some((e) => e.who === 'owner' && e.path === 'signals.byId' && e.body.includes(CANARY))).toBe(true);
    expect(exchanges.some((e) => e.who === 'owner' && e.path === 'signals.onChange' && e.body.includes(CANARY))).toBe(true);
    // And subscribers really saw those signals, without it.
    expect(exchanges.some((e) => e.who === 'subscriberOfOwner' && e.path === 'approvals.pending' && e.body.includes('"instrument":"XAUUSD"'))).toBe(true);
    expect(exchanges.some((e) => e.who === 'subscriberOfOwner' && e.path === 'signals.onChange' && e.body.includes('"kind":"created"'))).toBe(true);

    const problems = exchanges.flatMap((e) => leaks(e.body, callerIds[e.who], e.who === 'owner').map((what) => `${e.who} ${e.path}: ${what}`));
    expect(problems).toEqual([]);
  });

  it('would notice a leak (the scan above can fail)', () => {
    const ownerId = fixture.users.owner.id;
    const leaked = JSON.stringify({ result: { data: { json: { id: 'x', ownerId, ownerOnly: { notes: 'n' } } } } });
    expect(leaks(leaked, fixture.users.subscriberOfOwner.id, false)).toHaveLength(1);
    expect(leaks(leaked, ownerId, true)).toEqual([]);
    expect(leaks(`event: connected\ndata: {}\n\ndata: {"json":{"signal":{"ownerId":"${ownerId}","notes":"${CANARY}"}}}\nid: 7\n\n`, null, false)).toEqual(['the canary']);
    expect(leaks(`data: {"json":{"signal":{"ownerId":"${ownerId}","ownerOnlyState":"present"}}}\n\n`, null, false)).toHaveLength(1);
  });
});
