// Leaks: a canary placed only in owner-only payloads must never appear in the database (any column
// of any table, found through information_schema), in the server's logs at the most verbose level
// (trace, with every query in the slow-query log, errors included), in error messages, or in anything
// sent to someone other than the owner. API tokens must never appear in logs (server or CLI).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKnex } from '@signals/db';
import { createDeps } from '../src/deps.js';
import { OWNER_ONLY_MAX_BYTES } from '../src/schemas/signal.js';
import { hashToken } from '../src/auth/tokens.js';
import { listen, type RunningServer } from '../src/server.js';
import { logSlowQueries } from '../src/slow-queries.js';
import { createHarness, type Harness, type TestUser } from '../src/testing/harness.js';
import { callTrpc, send, tableNames, trpcData, trpcError, type RawResponse } from './support.js';

/** The tag alone is searched for as well: a message quoting part of the canary is a leak too. */
const TAG = 'LEAKCANARY';
const CANARY = `${TAG}-${crypto.randomUUID()}`;

/** The canary as it could end up encoded: plain, hex, and base64 at each of the three alignments. */
function needles(text: string): string[] {
  const out = [text, TAG, Buffer.from(text).toString('hex')];
  for (let k = 0; k < 3; k++) {
    const b64 = Buffer.from('x'.repeat(k) + text).toString('base64');
    out.push(b64.slice(4, -4), b64.slice(4, -4).replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}
const NEEDLES = needles(CANARY);
const leaksIn = (text: string) => NEEDLES.filter((n) => text.includes(n));

let h: Harness;
let url: string;
let alice: TestUser; // owner: the canary is hers
let olga: TestUser; // another owner
let sam: TestUser; // subscribes to alice
let admin: TestUser;
const tokens: string[] = [];
/** What non-owners received, and every error anybody received. */
const toOthers: string[] = [];
const errors: string[] = [];
let stopSlowLog: () => void;
const servers: RunningServer[] = [];

function keep(response: RawResponse, forOwner: boolean): RawResponse {
  if (!forOwner) toOthers.push(response.text);
  if (response.status >= 400 || trpcError(response)) errors.push(response.text);
  return response;
}

const ownerOnly = (n: number) => ({ stopLoss: '1900.5', takeProfit: '1999.5', strategy: `s-${CANARY}`, notes: `${CANARY} #${n}`, [`k-${CANARY}`]: [CANARY, { deep: CANARY }] });

beforeAll(async () => {
  h = await createHarness();
  // The slow-query log at 0 ms: every query is logged, as the most verbose setting would.
  stopSlowLog = logSlowQueries(h.knex, h.deps.log, 0);
  url = (await h.serve()).url;
  alice = await h.user('owner', 'alice');
  olga = await h.user('owner', 'olga');
  sam = await h.user('subscriber', 'sam');
  admin = await h.user('admin', 'admin');
  tokens.push(alice.token, olga.token, sam.token, admin.token);
  await h.subscribe(alice, sam);
});
afterAll(async () => {
  stopSlowLog?.();
  for (const s of servers) await s.close();
  await h?.close();
});

/** Reads a live feed (SSE) as `who` until `until()` resolves; returns everything received. */
async function readFeed(who: TestUser, until: Promise<unknown>): Promise<string> {
  const controller = new AbortController();
  const response = await fetch(`${url}/trpc/signals.onChange`, { headers: { authorization: `Bearer ${who.token}`, accept: 'text/event-stream' }, signal: controller.signal });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const reading = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } catch {
      // aborted
    }
  })();
  await until;
  await new Promise((r) => setTimeout(r, 300)); // let the last events arrive
  controller.abort();
  await reading;
  return text;
}

describe('the owner-only canary', () => {
  const ids: string[] = [];

  it('reaches the owner, and only the owner, through every read path', async () => {
    let published!: () => void;
    const done = new Promise<void>((r) => (published = r));
    const samFeed = readFeed(sam, done);
    const aliceFeed = readFeed(alice, done);
    await new Promise((r) => setTimeout(r, 200)); // feeds connected

    for (let n = 0; n < 5; n++) {
      const created = keep(await callTrpc(url, 'signals.create', { type: 'mutation', token: alice.token, input: { instrument: 'XAUUSD', side: 'buy', entryPrice: '1923.5', payload: { confidence: 0.5 }, ownerOnly: ownerOnly(n), externalId: `leak-${n}` } }), true);
      expect(created.status, created.text).toBe(200);
      ids.push(trpcData<{ id: string }>(created).id);
    }
    const first = ids[0]!;
    const updated = keep(await callTrpc(url, 'signals.update', { type: 'mutation', token: alice.token, input: { id: first, expectedVersion: 1, patch: { ownerOnly: ownerOnly(99), entryPrice: '1924' } } }), true);
    expect(updated.status, updated.text).toBe(200);
    keep(await callTrpc(url, 'signals.close', { type: 'mutation', token: alice.token, input: { id: ids[1] } }), true);
    published();

    // The owner reads it back: the canary is there (the test would be vacuous otherwise).
    const own = keep(await callTrpc(url, 'signals.byId', { type: 'query', token: alice.token, input: { id: first } }), true);
    expect(own.text).toContain(CANARY);
    expect(keep(await callTrpc(url, 'signals.list', { type: 'query', token: alice.token, input: {} }), true).text).toContain(CANARY);

    // Everyone else: byId, list (also filtered by owner), approvals, subscriptions, users.
    for (const who of [olga, sam, admin]) {
      for (const id of ids) keep(await callTrpc(url, 'signals.byId', { type: 'query', token: who.token, input: { id } }), false);
      keep(await callTrpc(url, 'signals.list', { type: 'query', token: who.token, input: {} }), false);
      keep(await callTrpc(url, 'signals.list', { type: 'query', token: who.token, input: { ownerId: alice.id, limit: 100 } }), false);
    }
    keep(await callTrpc(url, 'approvals.pending', { type: 'query', token: sam.token, input: {} }), false);
    keep(await callTrpc(url, 'approvals.decide', { type: 'mutation', token: sam.token, input: { signalId: first, decision: 'approve', reason: 'fine' } }), false);
    keep(await callTrpc(url, 'approvals.forSignal', { type: 'query', token: alice.token, input: { signalId: first } }), true);
    keep(await callTrpc(url, 'users.list', { type: 'query', token: admin.token, input: {} }), false);
    keep(await callTrpc(url, 'subscriptions.list', { type: 'query', token: admin.token, input: {} }), false);
    // A batch mixing the owner's own read with a subscriber's: each answer is for its caller only.
    const samView = keep(await callTrpc(url, 'signals.byId', { type: 'query', token: sam.token, input: { id: first } }), false);
    expect(samView.status).toBe(200);
    expect(trpcData<object>(samView)).not.toHaveProperty('ownerOnly');

    // The live feeds: the subscriber's carries the signals, without the payload; the owner's has it.
    const [samEvents, aliceEvents] = await Promise.all([samFeed, aliceFeed]);
    toOthers.push(samEvents);
    expect(samEvents).toContain(first);
    expect(aliceEvents).toContain(CANARY);

    for (const text of toOthers) expect(leaksIn(text), text.slice(0, 300)).toEqual([]);
  });

  it('is in no error message, whatever the error', async () => {
    const create = (input: unknown, token = alice.token) => callTrpc(url, 'signals.create', { type: 'mutation', token, input });
    const base = { instrument: 'XAUUSD', side: 'buy', entryPrice: '1' };
    const cases: [string, RawResponse][] = [
      ['invalid owner-only field', await create({ ...base, ownerOnly: { stopLoss: CANARY } })],
      ['invalid field beside it', await create({ ...base, entryPrice: CANARY, ownerOnly: { notes: CANARY } })],
      ['too large', await create({ ...base, ownerOnly: { notes: `${CANARY} `.repeat(Math.ceil(OWNER_ONLY_MAX_BYTES / CANARY.length) + 10).slice(0, 15_999), extra: CANARY.repeat(20) } })],
      ['prototype key', await send(`${url}/trpc/signals.create`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' }, body: `{"json":{"instrument":"XAUUSD","side":"buy","entryPrice":"1","ownerOnly":{"__proto__":{"x":"${CANARY}"},"notes":"${CANARY}"}}}` })],
      ['malformed JSON', await send(`${url}/trpc/signals.create`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' }, body: `{"json":{"ownerOnly":{"notes":${CANARY}}}}` })],
      ['malformed JSON in a query', await send(`${url}/trpc/signals.list?input=${encodeURIComponent(`{"json":{"cursor":${CANARY}}}`)}`, { headers: { authorization: `Bearer ${alice.token}` } })],
      ['malformed superjson', await send(`${url}/trpc/signals.create`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ json: { ...base, ownerOnly: { notes: CANARY } }, meta: { values: { 'ownerOnly.notes': [CANARY] } } }) })],
      ['wrong role', await create({ ...base, ownerOnly: { notes: CANARY } }, sam.token)],
      ['stale version', await callTrpc(url, 'signals.update', { type: 'mutation', token: alice.token, input: { id: ids[2], expectedVersion: 42, patch: { ownerOnly: { notes: CANARY } } } })],
      ['not the owner', await callTrpc(url, 'signals.update', { type: 'mutation', token: olga.token, input: { id: ids[2], expectedVersion: 1, patch: { ownerOnly: { notes: CANARY } } } })],
      ['closed signal', await callTrpc(url, 'signals.update', { type: 'mutation', token: alice.token, input: { id: ids[1], expectedVersion: 2, patch: { ownerOnly: { notes: CANARY } } } })],
      ['id is the canary', await callTrpc(url, 'signals.byId', { type: 'query', token: alice.token, input: { id: CANARY } })],
    ];
    // A payload that no longer opens (tampered at rest): the owner's read fails, saying why, not what.
    const sealed = (await h.knex('signals').where('id', ids[3]).first('owner_only_payload')).owner_only_payload as string;
    await h.knex('signals').where('id', ids[3]).update({ owner_only_payload: sealed.slice(0, -2) + (sealed.endsWith('AA') ? 'BA' : 'AA') });
    cases.push(['tampered at rest', await callTrpc(url, 'signals.byId', { type: 'query', token: alice.token, input: { id: ids[3] } })]);
    // In a list the page still answers: that item says `unreadable`, and carries nothing of it.
    const list = await callTrpc(url, 'signals.list', { type: 'query', token: alice.token, input: {} });
    await h.knex('signals').where('id', ids[3]).update({ owner_only_payload: sealed });
    expect(list.status, list.text.slice(0, 300)).toBe(200);
    const tampered = trpcData<{ items: { id: string; ownerOnly: unknown; ownerOnlyState: string }[] }>(list).items.find((i) => i.id === ids[3]);
    expect(tampered).toMatchObject({ ownerOnly: null, ownerOnlyState: 'unreadable' });

    for (const [what, response] of cases) {
      expect(response.status, `${what}: ${response.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
      expect(leaksIn(response.text), `${what}: ${response.text.slice(0, 500)}`).toEqual([]);
      errors.push(response.text);
    }
  });

  it('survives timeouts without leaking: request deadline and statement timeout, in answers and slow-query logs', async () => {
    const slowKnex = createKnex(h.url, { statementTimeoutMs: 300, pool: { max: 3 } });
    const stop = logSlowQueries(slowKnex, h.deps.log, 0);
    try {
      const deadline = await listen(createDeps({ knex: h.knex, keyring: h.keyring, log: h.deps.log, requestTimeoutMs: 300 }));
      const statement = await listen(createDeps({ knex: slowKnex, keyring: h.keyring, log: h.deps.log }));
      servers.push(deadline, statement);
      const trx = await h.knex.transaction();
      await trx('signals').where('id', ids[2]).forUpdate().first();
      const update = (base: string) => callTrpc(base, 'signals.update', { type: 'mutation', token: alice.token, input: { id: ids[2], expectedVersion: 1, patch: { ownerOnly: { notes: CANARY } } } });
      const answers = await Promise.all([update(deadline.url), update(statement.url)]);
      await trx.rollback();
      for (const a of answers) {
        expect(a.status, a.text).toBe(408);
        expect(leaksIn(a.text)).toEqual([]);
        errors.push(a.text);
      }
      await new Promise((r) => setTimeout(r, 300)); // the abandoned update finishes (or not) and is logged
    } finally {
      stop();
      await slowKnex.destroy();
    }
  });

  it('is nowhere in the database: every column of every table, in any encoding', async () => {
    const tables = await tableNames(h.knex);
    const textColumns = (await h.knex('information_schema.columns')
      .where('table_schema', 'public')
      .whereIn('data_type', ['text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY', 'USER-DEFINED'])
      .select('table_name', 'column_name')) as { table_name: string; column_name: string }[];
    expect(tables).toEqual(expect.arrayContaining(['signals', 'users', 'api_tokens', 'owner_keys', 'subscriptions']));
    let cells = 0;
    for (const { table_name: table, column_name: column } of textColumns) {
      for (const needle of NEEDLES) {
        const found = await h.knex(table).whereRaw('??::text like ?', [column, `%${needle}%`]).count({ n: '*' }).first();
        expect(Number(found?.n), `${table}.${column} holds ${needle}`).toBe(0);
      }
      cells += Number((await h.knex(table).whereNotNull(column).count({ n: '*' }).first())?.n);
    }
    // And every row as a whole, whatever its column types.
    for (const table of tables) {
      for (const needle of NEEDLES) {
        const found = await h.knex.raw(`select count(*)::int as n from ?? t where to_jsonb(t)::text like ?`, [table, `%${needle}%`]);
        expect(found.rows[0].n, `${table} holds ${needle}`).toBe(0);
      }
    }
    // The payloads are really there, sealed (so the scan looked at something).
    const sealed = await h.knex('signals').whereIn('id', ids).whereLike('owner_only_payload', 'sv1.%').count({ n: '*' }).first();
    expect(Number(sealed?.n)).toBe(ids.length);
    console.log(`leaks: scanned ${tables.length} tables, ${textColumns.length} text/json/bytea columns (${cells} non-null cells) for ${NEEDLES.length} encodings of the canary: none`);
  });

  it('is in no log line at trace level, errors and slow queries included; neither are tokens or their hashes', async () => {
    // A few more requests that log: a bad token shaped like a real one, an unknown path.
    const fake = `sig_${'Q'.repeat(43)}`;
    tokens.push(fake);
    await callTrpc(url, 'me.get', { type: 'query', token: fake });
    await send(`${url}/nowhere?token=${alice.token}`);
    const created = trpcData<{ token: string }>(await callTrpc(url, 'tokens.create', { type: 'mutation', token: admin.token, input: { userId: sam.id, label: 'leak' } }));
    tokens.push(created.token);
    const user = trpcData<{ token: string }>(await callTrpc(url, 'users.create', { type: 'mutation', token: admin.token, input: { name: 'leaky', role: 'owner' } }));
    tokens.push(user.token);

    const logs = h.logs();
    const lines = logs.split('\n').filter(Boolean);
    const levels = new Map<number, number>();
    for (const line of lines) {
      const level = (JSON.parse(line) as { level: number }).level;
      levels.set(level, (levels.get(level) ?? 0) + 1);
    }
    // The logs are rich: requests at trace/debug, refusals at info, slow queries at warn, failures at error.
    expect(levels.get(50), 'error lines').toBeGreaterThan(0);
    expect(lines.filter((l) => l.includes('"slowQuery"')).length).toBeGreaterThan(50);
    expect(lines.some((l) => l.includes('owner-only payload could not be opened'))).toBe(true);
    expect(lines.filter((l) => leaksIn(l).length > 0).map((l) => l.slice(0, 1500))).toEqual([]);
    for (const token of tokens) {
      expect(logs).not.toContain(token);
      expect(logs).not.toContain(token.slice(4, 24)); // nor a recognisable part
      expect(logs).not.toContain(hashToken(token));
    }
    // Slow-query lines carry SQL text, never bindings (sealed values, token hashes).
    expect(logs).not.toMatch(/"bindings"/);
    expect(logs).not.toMatch(/sv1\.\d+\.[A-Za-z0-9_-]{16}\./);
    console.log(`leaks: ${lines.length} log lines at trace (${JSON.stringify(Object.fromEntries([...levels].sort()))} by level), ${errors.length} error answers, ${toOthers.length} answers to non-owners: no canary, no token`);
  });

  it('the CLI prints a new token on stdout once, and never logs it, even at trace', async () => {
    const run = promisify(execFile);
    const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
    const cli = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
    const env = { ...process.env, DATABASE_URL: h.url, LOG_LEVEL: 'trace', SIGNALS_MASTER_KEYS: '' };
    const { stdout, stderr } = await run(tsx, [cli, 'tokens', 'create', '--user', sam.id, '--label', 'cli', '--json'], { env });
    const { token } = JSON.parse(stdout.trim()) as { token: string };
    expect(token).toMatch(/^sig_/);
    expect(stderr).not.toContain(token);
    expect(stderr).not.toContain(hashToken(token));
  });
});
