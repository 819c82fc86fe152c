// The role × procedure matrix, generated from the rules table and checked over real HTTP. Every
// procedure of the router must have a rule and a sample input here, or this test fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../routers/_app.js';
import { appRouter } from '../routers/_app.js';
import { rules, ruleFor, type Rule } from './rules.js';
import { createHarness, type Harness, type TestUser } from '../testing/harness.js';
import { revokeToken, disableUser } from '../services/users.js';

type Identity = 'anonymous' | 'badToken' | 'revokedToken' | 'disabledUser' | 'admin' | 'owner' | 'otherOwner' | 'subscriberOfOwner' | 'otherSubscriber';
const IDENTITIES: Identity[] = ['anonymous', 'badToken', 'revokedToken', 'disabledUser', 'admin', 'owner', 'otherOwner', 'subscriberOfOwner', 'otherSubscriber'];

interface Fixture {
  users: Record<Exclude<Identity, 'anonymous' | 'badToken' | 'revokedToken' | 'disabledUser'>, TestUser>;
  /** A fresh open signal of `owner` for each call, so state changes do not leak between cells. */
  freshSignal(): Promise<{ id: string; version: number }>;
  spareSubscriber: TestUser;
  spareTokenUser: TestUser;
}

type Call = { type: 'query' | 'mutation'; input: unknown };

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
  'subscriptions.add': async (f) => ({ type: 'mutation', input: { ownerId: f.users.owner.id, subscriberId: f.spareSubscriber.id } }),
  'subscriptions.remove': async (f) => ({ type: 'mutation', input: { ownerId: f.users.owner.id, subscriberId: f.spareSubscriber.id } }),
  'subscriptions.list': async () => ({ type: 'query', input: {} }),
  'users.create': async () => ({ type: 'mutation', input: { name: 'matrix', role: 'subscriber' } }),
  'users.list': async () => ({ type: 'query', input: {} }),
  'users.disable': async (f) => ({ type: 'mutation', input: { userId: f.spareSubscriber.id } }),
  'tokens.create': async (f) => ({ type: 'mutation', input: { userId: f.spareTokenUser.id } }),
  'tokens.revoke': async (f) => ({ type: 'mutation', input: { tokenId: f.spareTokenUser.tokenId } }),
};

/** What the rules table says each identity gets. */
function expected(rule: Rule, who: Identity): string {
  if (rule.roles === 'public') return 'OK';
  if (who === 'anonymous' || who === 'badToken' || who === 'revokedToken' || who === 'disabledUser') return 'UNAUTHORIZED';
  const role = who === 'admin' ? 'admin' : who === 'owner' || who === 'otherOwner' ? 'owner' : 'subscriber';
  if (!rule.roles.includes(role)) return 'FORBIDDEN';
  if (rule.rows === 'visible-signal') return who === 'otherSubscriber' ? 'NOT_FOUND' : 'OK';
  if (rule.rows === 'own-signal') return who === 'owner' ? 'OK' : who === 'otherSubscriber' ? 'NOT_FOUND' : 'FORBIDDEN';
  return 'OK';
}

let h: Harness;
let url: string;
let fixture: Fixture;
const tokens = {} as Record<Identity, string | null>;

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
  fixture = {
    users,
    freshSignal: async () => {
      const s = await h.caller(users.owner).signals.create({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1' });
      return { id: s.id, version: s.version };
    },
    spareSubscriber: users.otherSubscriber,
    spareTokenUser: await h.user('subscriber'),
  };
});
afterAll(() => h.close());

function clientFor(token: string | null) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, transformer: superjson, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) })],
  });
}

async function callOverHttp(token: string | null, path: string, call: Call): Promise<string> {
  const client = clientFor(token) as unknown as Record<string, Record<string, Record<string, (i: unknown) => Promise<unknown>>>>;
  const [domain, name] = path.split('.') as [string, string];
  try {
    await client[domain]![name]![call.type === 'query' ? 'query' : 'mutate']!(call.input);
    return 'OK';
  } catch (err) {
    if (err instanceof TRPCClientError) return String((err.data as { code?: string } | undefined)?.code);
    throw err;
  }
}

const procedurePaths = Object.keys(appRouter._def.procedures);

describe('access rules', () => {
  it('has a rule and a sample call for every procedure, and no rule without a procedure', () => {
    for (const path of procedurePaths) {
      expect(ruleFor(path), `rule for ${path}`).toBeDefined();
      expect(samples[path], `sample call for ${path}`).toBeDefined();
    }
    expect(Object.keys(rules).sort()).toEqual([...procedurePaths].sort());
  });

  for (const path of Object.keys(rules)) {
    it(`${path}: every identity gets what the rules table says`, async () => {
      const rule = ruleFor(path)!;
      const got: Record<string, string> = {};
      const want: Record<string, string> = {};
      for (const who of IDENTITIES) {
        const call = await samples[path]!(fixture);
        want[who] = expected(rule, who);
        got[who] = await callOverHttp(tokens[who], path, call);
        // Restore shared state that an allowed call changed.
        if (got[who] === 'OK' && path === 'users.disable') await h.knex('users').update({ disabled_at: null }).where('id', fixture.spareSubscriber.id);
        if (got[who] === 'OK' && path === 'tokens.revoke') await h.knex('api_tokens').update({ revoked_at: null }).where('id', fixture.spareTokenUser.tokenId);
      }
      expect(got).toEqual(want);
    });
  }
});
