// Lone UTF-16 surrogates in stored text. They have no UTF-8 form: PostgreSQL's text path would store
// U+FFFD in their place without a word, and jsonb refuses them. Input validation refuses them in every
// stored string (text fields, JSON values and keys at any depth, owner-only data) with a BAD_REQUEST
// that names the field, before anything is written; well-formed text outside the BMP (surrogate
// pairs: emoji, mathematical letters) is accepted and comes back exactly.
import { TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TestUser } from '../testing/harness.js';
import { callTrpc, fingerprint, trpcError } from '../../test/support.js';

const HIGH = '\uD800';
const LOW = '\uDFFF';
/** Lone surrogates: high, low, high at the end of text, a pair in the wrong order. */
const LONE = [HIGH, LOW, `stop ${'\uD83D'}`, `\uDE00\uD83D x`];
/** Well-formed text with surrogate pairs (and a ZWJ sequence, a skin tone, a math letter). */
const ASTRAL = '😀 👩‍👩‍👧 👍🏽 𝒳 — é';

let h: Harness;
let admin: TestUser;
let owner: TestUser;
let subscriber: TestUser;
let signalId: string;

beforeAll(async () => {
  h = await createHarness();
  admin = await h.user('admin');
  owner = await h.user('owner');
  subscriber = await h.user('subscriber');
  await h.subscribe(owner, subscriber);
  signalId = (await h.caller(owner).signals.create({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1' })).id;
});
afterAll(() => h.close());

/** The refusal's code and field errors, as the error formatter reports them (path joined by dots). */
async function refusal(call: Promise<unknown>): Promise<{ code: string; fieldErrors: { path: string; message: string }[] }> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof TRPCError)) throw err;
    const issues = err.cause instanceof ZodError ? err.cause.issues : [];
    return { code: err.code, fieldErrors: issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })) };
  }
  return { code: 'OK', fieldErrors: [] };
}

const base = { instrument: 'XAUUSD', side: 'buy' as const, entryPrice: '1' };

/** Each kind of stored string, with a lone surrogate in it, and the field path the refusal must name. */
function cases(bad: string): { what: string; path: string; call: () => Promise<unknown> }[] {
  const create = (extra: Record<string, unknown>) => () => h.caller(owner).signals.create({ ...base, ...extra } as never);
  const update = (patch: Record<string, unknown>) => () => h.caller(owner).signals.update({ id: signalId, expectedVersion: 1, patch } as never);
  return [
    { what: 'payload value', path: 'payload.note', call: create({ payload: { note: bad } }) },
    { what: 'payload value, deep', path: 'payload.a.1.b.0', call: create({ payload: { a: [1, { b: [bad] }] } }) },
    { what: 'payload key', path: `payload.${bad}`, call: create({ payload: { [bad]: 1 } }) },
    { what: 'payload key, deep', path: `payload.a.0.k${bad}`, call: create({ payload: { a: [{ [`k${bad}`]: true }] } }) },
    { what: 'ownerOnly.notes', path: 'ownerOnly.notes', call: create({ ownerOnly: { notes: bad } }) },
    { what: 'ownerOnly.strategy', path: 'ownerOnly.strategy', call: create({ ownerOnly: { strategy: bad } }) },
    { what: 'ownerOnly, other value, deep', path: 'ownerOnly.levels.tp.2', call: create({ ownerOnly: { levels: { tp: ['1', '2', bad] } } }) },
    { what: 'ownerOnly key', path: `ownerOnly.${bad}`, call: create({ ownerOnly: { [bad]: 'x' } }) },
    { what: 'ownerOnly key, deep', path: `ownerOnly.levels.${bad}`, call: create({ ownerOnly: { levels: { [bad]: 1 } } }) },
    { what: 'update: patch.payload', path: 'patch.payload.note', call: update({ payload: { note: bad } }) },
    { what: 'update: patch.ownerOnly', path: 'patch.ownerOnly.notes', call: update({ ownerOnly: { notes: bad } }) },
    { what: 'update: patch.ownerOnly key', path: `patch.ownerOnly.${bad}`, call: update({ ownerOnly: { [bad]: 1 } }) },
    { what: 'approval reason', path: 'reason', call: () => h.caller(subscriber).approvals.decide({ signalId, decision: 'approve', reason: `ok ${bad}` }) },
    { what: 'user name', path: 'name', call: () => h.caller(admin).users.create({ name: `Ann ${bad}`, role: 'subscriber' }) },
    { what: 'user token label', path: 'tokenLabel', call: () => h.caller(admin).users.create({ name: 'Ann', role: 'subscriber', tokenLabel: bad }) },
    { what: 'token label', path: 'label', call: () => h.caller(admin).tokens.create({ userId: subscriber.id, label: bad }) },
  ];
}

describe('a lone surrogate in stored text', () => {
  it('is refused in every kind of field with BAD_REQUEST naming the field, and nothing is written', async () => {
    const before = await fingerprint(h.knex);
    for (const bad of LONE) {
      for (const c of cases(bad)) {
        const { code, fieldErrors } = await refusal(c.call());
        const label = `${c.what} with ${JSON.stringify(bad)}`;
        expect(code, label).toBe('BAD_REQUEST');
        expect(fieldErrors, label).toEqual([{ path: c.path, message: expect.stringMatching(/well-formed Unicode text \(a lone UTF-16 surrogate cannot be stored\)/) }]);
      }
    }
    expect(await fingerprint(h.knex)).toEqual(before);
  });

  it('is refused over HTTP with fieldErrors in the response (superjson escapes it as \\ud800)', async () => {
    const { url } = await h.serve();
    const before = await fingerprint(h.knex);
    const response = await callTrpc(url, 'signals.create', { type: 'mutation', token: owner.token, input: { ...base, payload: { a: { [`k${HIGH}`]: 1 } }, ownerOnly: { notes: `n${LOW}` } } });
    expect(response.text).toContain('\\ud800'); // escaped in the JSON answer, never a raw lone surrogate
    const error = trpcError(response);
    expect(response.status).toBe(400);
    expect(error?.data.code).toBe('BAD_REQUEST');
    expect(error?.data.fieldErrors).toEqual([
      { path: `payload.a.k${HIGH}`, message: expect.stringContaining('key must be well-formed') },
      { path: 'ownerOnly.notes', message: expect.stringContaining('must be well-formed') },
    ]);
    expect(await fingerprint(h.knex)).toEqual(before);
  });

  it('would have been replaced with U+FFFD by PostgreSQL’s text path (why it is refused before)', async () => {
    const [row] = await h.knex('users').insert({ name: `x${HIGH}y`, role: 'subscriber' }).returning('name');
    expect(row.name).toBe('x\uFFFDy');
    await expect(h.knex('signals').insert({ owner_id: owner.id, instrument: 'XAUUSD', side: 'buy', entry_price: '1', payload: JSON.stringify({ a: HIGH }) })).rejects.toThrow(/invalid input syntax for type json/);
    await h.knex('users').where('name', 'x\uFFFDy').delete();
  });
});

describe('owner-only data stored before the check', () => {
  it('still opens for its owner with the lone surrogate it holds (views stay lenient)', async () => {
    // Sealing escapes a lone surrogate in JSON, so such payloads exist and must stay readable.
    const id = crypto.randomUUID();
    const sealed = await h.deps.vault.seal({ signalId: id, ownerId: owner.id }, { notes: `old ${HIGH}`, [LOW]: 1 });
    await h.knex('signals').insert({ id, owner_id: owner.id, instrument: 'XAUUSD', side: 'buy', entry_price: '1', owner_only_payload: sealed });
    const view = await h.caller(owner).signals.byId({ id });
    expect('ownerOnly' in view && view.ownerOnly).toEqual({ notes: `old ${HIGH}`, [LOW]: 1 });
    const listed = (await h.caller(owner).signals.list({ limit: 100 })).items.find((s) => s.id === id);
    expect(listed && 'ownerOnlyState' in listed && listed.ownerOnlyState).toBe('present');
  });
});

describe('well-formed text outside the BMP', () => {
  it('is accepted everywhere and round-trips exactly, ownerOnly included for its owner', async () => {
    const payload = { [`${ASTRAL} key`]: ASTRAL, nested: [{ '🔑': ['𝒳', '😀'] }] };
    const ownerOnly = { notes: ASTRAL, strategy: '📈 𝒳', '🗝': { '😀': [ASTRAL] } };
    const created = await h.caller(owner).signals.create({ ...base, payload, ownerOnly });
    expect(created.payload).toEqual(payload);
    expect(created.ownerOnly).toEqual(ownerOnly);

    const asOwner = await h.caller(owner).signals.byId({ id: created.id });
    expect('ownerOnly' in asOwner && asOwner.ownerOnly).toEqual(ownerOnly);
    expect(asOwner.payload).toEqual(payload);
    const asSubscriber = await h.caller(subscriber).signals.byId({ id: created.id });
    expect(asSubscriber.payload).toEqual(payload);
    expect(asSubscriber).not.toHaveProperty('ownerOnly');
    const stored = await h.knex('signals').where('id', created.id).first('payload');
    expect(stored.payload).toEqual(payload);

    const updated = await h.caller(owner).signals.update({ id: created.id, expectedVersion: created.version, patch: { ownerOnly: { notes: `${ASTRAL} 2` } } });
    expect('ownerOnly' in updated && updated.ownerOnly).toEqual({ notes: `${ASTRAL} 2` });
    const listed = (await h.caller(owner).signals.list({ limit: 100 })).items.find((s) => s.id === created.id);
    expect(listed && 'ownerOnly' in listed && listed.ownerOnly).toEqual({ notes: `${ASTRAL} 2` });

    const decision = await h.caller(subscriber).approvals.decide({ signalId: created.id, decision: 'approve', reason: `  ${ASTRAL}  ` });
    expect(decision.reason).toBe(ASTRAL);
    const user = await h.caller(admin).users.create({ name: ASTRAL, role: 'subscriber', tokenLabel: '🏷️ label' });
    expect(user.user.name).toBe(ASTRAL);
    expect(await h.knex('api_tokens').where('user_id', user.user.id).pluck('label')).toEqual(['🏷️ label']);
    await h.caller(admin).tokens.create({ userId: user.user.id, label: '𝒳' });
    expect(((await h.knex('api_tokens').where('user_id', user.user.id).pluck('label')) as string[]).sort()).toEqual(['𝒳', '🏷️ label'].sort());
  });
});
