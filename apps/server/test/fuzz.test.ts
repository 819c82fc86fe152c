// Fuzzing the API over real HTTP with fast-check: every procedure of the router (enumerated, so new
// ones are covered by themselves) gets random and hostile input from a caller its rule admits, and
// the HTTP layer gets malformed bodies, malformed superjson, wrong methods and odd paths. Whatever
// comes in: never a 5xx; a 4xx carries a clear tRPC error; a refused call changes no row of any
// table; nothing is polluted; the server keeps answering.
import fc from 'fast-check';
import superjson from 'superjson';
import type { AnyProcedure } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ruleFor } from '../src/access/rules.js';
import { appRouter } from '../src/routers/_app.js';
import { createHarness, type Harness, type TestUser } from '../src/testing/harness.js';
import { fingerprint, send, trpcData, trpcError, type RawResponse, type TrpcErrorBody } from './support.js';

/** Every procedure, by its dotted path (tRPC keeps them flat in `_def.procedures`). */
const allProcedures = appRouter._def.procedures as unknown as Record<string, AnyProcedure | undefined>;
const procedures = Object.entries(allProcedures as Record<string, AnyProcedure>).sort(([a], [b]) => a.localeCompare(b));
/** Runs per procedure; with ~20 procedures the whole file stays well under 30 s. */
const RUNS_PER_PROCEDURE = 40;

let h: Harness;
let url: string;
const as: Record<'admin' | 'owner' | 'subscriber', TestUser> = {} as never;
/** Real ids of rows that belong to bystanders, so fuzzed inputs get past "not found" now and then. */
const realIds: string[] = [];
const stats = { calls: 0, accepted: 0, statuses: new Map<number, number>() };

beforeAll(async () => {
  h = await createHarness();
  url = (await h.serve()).url;
  as.admin = await h.user('admin');
  as.owner = await h.user('owner');
  as.subscriber = await h.user('subscriber');
  await h.subscribe(as.owner, as.subscriber);
  const victimOwner = await h.user('owner');
  const victimSubscriber = await h.user('subscriber');
  await h.subscribe(victimOwner, victimSubscriber);
  const own = await h.caller(as.owner).signals.create({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1', ownerOnly: { notes: 'fuzz' } });
  const theirs = await h.caller(victimOwner).signals.create({ instrument: 'EURUSD', side: 'sell', entryPrice: '2' });
  realIds.push(own.id, theirs.id, victimOwner.id, victimSubscriber.id, victimSubscriber.tokenId);
});
afterAll(async () => {
  console.log(
    `fuzz: ${stats.calls} calls over ${procedures.length} procedures and the HTTP layer; ` +
      `${stats.accepted} accepted; statuses ${JSON.stringify(Object.fromEntries([...stats.statuses].sort()))}`,
  );
  await h?.close();
});

// ---------------------------------------------------------------------------------------------
// Hostile values

const SQL = ["'; drop table signals; --", "' or '1'='1", '1; select pg_sleep(10)', '$1', '%', '_', '\\', "E'\\x00'", '*/ /*', 'null', 'NULL'];
const NUL = ['\u0000', 'a\u0000b', 'x\u0000'];
const UNICODE = [ '\uD800', '\uDFFF', '\uFFFF', '\u202E', '\u200B', 'é', 'e\u0301', '😀', '𝒳', '\r\n', '\u2028'];
const DECIMALS = [
  '0', '0.0', '-1', '+1', '1e3', '1E-3', '.5', '1.', '01', ' 1', '1 ', '１', '٣', 'NaN', 'Infinity', '0x10', '1_000',
  '99999999999999999999.9999999999', '100000000000000000000', '0.00000000001', '0.0000000001', '9'.repeat(400),
];
const NUMBERS = [0, -0, -1, 1, 0.5, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, 1e21, 1e308, -1e308, 5e-324, Number.NaN, Infinity, -Infinity];
const KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', ' ', '$where', '0', 'length'];

/** The zod definition under optional/default/nullable/pipe wrappers (zod internals, best effort). */
function defOf(schema: unknown, depth = 0): Record<string, unknown> | undefined {
  const def = (schema as { _zod?: { def?: Record<string, unknown> } } | undefined)?._zod?.def;
  if (!def || depth > 8) return undefined;
  if (['optional', 'default', 'nullable', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(String(def.type))) return defOf(def.innerType, depth + 1);
  if (def.type === 'pipe') return defOf(def.in, depth + 1);
  return def;
}

function shapeOf(schema: unknown): Record<string, unknown> | undefined {
  const def = defOf(schema);
  return def?.type === 'object' && def.shape && typeof def.shape === 'object' ? (def.shape as Record<string, unknown>) : undefined;
}

/** Field names that the procedures' input schemas know, at any depth. */
function fieldNames(schema: unknown, out = new Set<string>(), depth = 0): Set<string> {
  const shape = shapeOf(schema);
  if (!shape || depth > 6) return out;
  for (const [key, child] of Object.entries(shape)) {
    out.add(key);
    fieldNames(child, out, depth + 1);
  }
  return out;
}
const inputSchemaOf = (p: AnyProcedure) => (p._def as { inputs?: unknown[] }).inputs?.[0];
const FIELDS = [...new Set(procedures.flatMap(([, p]) => [...fieldNames(inputSchemaOf(p))]))];

const idLike = fc.oneof(
  fc.uuid(),
  fc.constant('00000000-0000-0000-0000-000000000000'),
  fc.integer({ min: 0, max: 4 }).map((i) => realIds[i] ?? ''),
  fc.integer({ min: 0, max: 4 }).map((i) => (realIds[i] ?? '').toUpperCase()),
);
const hostileLeaf = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(fc.constantFrom(...SQL, ...UNICODE, ...DECIMALS), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 })) },
  { weight: 1, arbitrary: fc.constantFrom(...NUL) }, // PostgreSQL text and jsonb cannot hold it
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(3_000), 'é'.repeat(1_000), '\u0000'.repeat(100), 'XAUUSD', 'buy', 'open', 'approve') },
  { weight: 2, arbitrary: idLike },
  { weight: 2, arbitrary: fc.oneof(fc.constantFrom(...NUMBERS), fc.integer(), fc.double()) },
  { weight: 1, arbitrary: fc.oneof(fc.boolean(), fc.constant(null), fc.constant(undefined), fc.bigInt(), fc.date({ noInvalidDate: false })) },
);
const hostileKey = fc.oneof(fc.constantFrom(...FIELDS), fc.constantFrom(...KEYS), fc.string({ maxLength: 12 }));
const { value: hostileValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileLeaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie('value'), { maxKeys: 5 }),
    fc.constantFrom(new Map([['a', 1]]), new Set([1]), /re/g),
  ),
}));

/** Valid values by field name, so that inputs are often valid but for one or two hostile fields. */
function samples(): Record<string, unknown[]> {
  const future = new Date(Date.now() + 30 * 24 * 3600_000);
  return {
    instrument: ['XAUUSD'], side: ['buy', 'sell'], entryPrice: ['1.5'], stopLoss: ['1.2'], takeProfit: ['1.9'], strategy: ['s'], notes: ['n'],
    name: ['fuzz'], role: ['subscriber'], label: ['l'], tokenLabel: ['l'], decision: ['approve', 'reject'], reason: ['ok'],
    status: ['open'], limit: [1, 50], cursor: [null], expectedVersion: [1], externalId: ['ext-1'], lastEventId: [null], expiresAt: [future],
    id: [realIds[0]], signalId: [realIds[0], realIds[1]], ownerId: [realIds[2]], subscriberId: [realIds[3]], userId: [realIds[3]], tokenId: [realIds[4]],
    payload: [{ confidence: 0.5 }], ownerOnly: [{ notes: 'x' }], patch: [{ entryPrice: '2' }],
  };
}

/**
 * Inputs shaped by a procedure's own schema: each known field gets a valid sample, a hostile
 * value, nested hostile structure or nothing, plus now and then a stray (or prototype) key.
 */
function shapedInput(schema: unknown, known: Record<string, unknown[]>, key?: string, depth = 0): fc.Arbitrary<unknown> {
  const hostile = fc.oneof(hostileLeaf, hostileValue);
  const sample = key && known[key] ? fc.constantFrom(...known[key]) : undefined;
  const shape = depth < 4 ? shapeOf(schema) : undefined;
  const def = defOf(schema);
  let structured: fc.Arbitrary<unknown> | undefined;
  if (shape) {
    const fields = Object.fromEntries(
      Object.entries(shape).map(([k, child]) => [k, fc.oneof({ weight: 9, arbitrary: shapedInput(child, known, k, depth + 1) }, { weight: 1, arbitrary: fc.constant(undefined) })]),
    );
    structured = fc.tuple(fc.record(fields), fc.option(fc.tuple(hostileKey, hostileValue), { nil: undefined, freq: 4 })).map(([obj, extra]) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
      if (extra) Object.defineProperty(out, extra[0], { value: extra[1], enumerable: true, writable: true, configurable: true });
      return out;
    });
  } else if (def?.type === 'record') {
    structured = fc.dictionary(hostileKey, fc.oneof(hostileLeaf, hostileValue), { maxKeys: 4 });
  }
  const options: { weight: number; arbitrary: fc.Arbitrary<unknown> }[] = [{ weight: 2, arbitrary: hostile }];
  if (sample) options.push({ weight: 5, arbitrary: sample });
  if (structured) options.push({ weight: 5, arbitrary: structured });
  return fc.oneof(...options);
}

// ---------------------------------------------------------------------------------------------
// Sending, and judging the answer

/** Serialises as @signals/client does; values superjson refuses (e.g. own `__proto__` keys) go as plain JSON. */
function encode(input: unknown): string {
  try {
    return JSON.stringify(superjson.serialize(input));
  } catch {
    return JSON.stringify({ json: input ?? null }, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }
}

interface Outcome extends RawResponse {
  error?: TrpcErrorBody;
}

/** Reads an SSE answer until its first error or data event (or a second), then hangs up. */
async function readEventStream(response: Response, controller: AbortController): Promise<string> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + 1_000;
  try {
    while (Date.now() < deadline && !/event: serialized-error|\ndata: |^data: /.test(text)) {
      const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), 250))]);
      if (chunk === null) continue;
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    controller.abort();
  }
  return text;
}

async function request(path: string, init: RequestInit): Promise<Outcome> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  const started = performance.now();
  try {
    const response = await fetch(`${url}${path}`, { ...init, signal: controller.signal });
    let text: string;
    let error: TrpcErrorBody | undefined;
    if (response.headers.get('content-type')?.includes('text/event-stream')) {
      text = await readEventStream(response, controller);
      const match = /event: serialized-error\ndata: (.*)\n/.exec(text);
      if (match) error = (superjson.deserialize(JSON.parse(match[1]!)) as TrpcErrorBody) ?? undefined;
      if (match && !error) error = (JSON.parse(match[1]!) as { json: TrpcErrorBody }).json;
    } else {
      text = await response.text();
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const outcome: Outcome = { status: response.status, headers: response.headers, text, json, ms: performance.now() - started };
    outcome.error = error ?? trpcError(outcome);
    stats.calls++;
    stats.statuses.set(outcome.status, (stats.statuses.get(outcome.status) ?? 0) + 1);
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

function callProcedure(path: string, type: string, input: unknown, token: string | null): Promise<Outcome> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (type === 'mutation') return request(`/trpc/${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: encode(input) });
  const query = input === undefined ? '' : `?input=${encodeURIComponent(encode(input))}`;
  return request(`/trpc/${path}${query}`, { method: 'GET', headers });
}

const CLIENT_ERRORS = new Set([
  'BAD_REQUEST', 'PARSE_ERROR', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'METHOD_NOT_SUPPORTED', 'TIMEOUT', 'CONFLICT',
  'PRECONDITION_FAILED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'UNPROCESSABLE_CONTENT', 'TOO_MANY_REQUESTS', 'CLIENT_CLOSED_REQUEST',
]);

/** Never a 5xx; a refusal is a tRPC error with a short, specific message and no stack. */
function expectClearRefusal(outcome: Outcome, what: string) {
  const context = `${what} → HTTP ${outcome.status}: ${outcome.text.slice(0, 400)}`;
  expect(outcome.status, context).toBeLessThan(500);
  if (outcome.status === 431 || outcome.status === 204) return; // headers too large (Node), HEAD (tRPC): no body
  if (outcome.status < 400 && !outcome.error) return;
  const error = outcome.error;
  expect(error, context).toBeDefined();
  expect(CLIENT_ERRORS.has(error!.data.code), context).toBe(true);
  if (outcome.status >= 400) expect(error!.data.httpStatus, context).toBe(outcome.status);
  expect(error!.message.length, context).toBeGreaterThan(5);
  // Short, except tRPC's "No procedure found on path …", which quotes the caller's own (URL-bounded) path.
  if (!error!.message.startsWith('No procedure found on path')) expect(error!.message.length, context).toBeLessThan(2_000);
  expect(error!.message, context).not.toMatch(/Internal server error|\n\s+at |node_modules|\.ts:\d+/);
}

/** What the server would see, for checking that whatever it accepted its schema accepts too. */
function accepts(procedure: AnyProcedure, input: unknown): boolean {
  let decoded: unknown;
  try {
    decoded = superjson.parse(encode(input));
  } catch {
    return false;
  }
  const parsers = ((procedure._def as { inputs?: { safeParse?: (v: unknown) => { success: boolean } }[] }).inputs ?? []);
  return parsers.every((p) => !p.safeParse || p.safeParse(decoded).success);
}

function callerFor(path: string): TestUser | null {
  const rule = ruleFor(path);
  if (!rule || rule.roles === 'public') return null;
  const role = (['owner', 'subscriber', 'admin'] as const).find((r) => (rule.roles as readonly string[]).includes(r));
  return role ? as[role] : null;
}

function assertNotPolluted() {
  for (const proto of [Object.prototype, Array.prototype, Function.prototype]) {
    expect(Object.getOwnPropertyNames(proto).filter((k) => /polluted|^x$|^isAdmin$/.test(k))).toEqual([]);
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

async function expectStillAnswering() {
  expect((await send(`${url}/healthz`)).status).toBe(200);
  expect((await send(`${url}/readyz`)).status).toBe(200);
  const me = await callProcedure('me.get', 'query', undefined, as.owner.token);
  expect(me.status).toBe(200);
  expect(trpcData<{ id: string }>(me).id).toBe(as.owner.id);
}

// ---------------------------------------------------------------------------------------------

describe('fuzzing every procedure over HTTP', () => {
  it('enumerates the router, and every procedure has a rule', () => {
    expect(procedures.length).toBeGreaterThanOrEqual(16);
    for (const [path] of procedures) expect(ruleFor(path), path).toBeDefined();
  });

  it.each(procedures.map(([path, p]) => [path, p] as const))('%s: hostile input never gets a 5xx or changes the database when refused', async (path, proc) => {
    const type = proc._def.type;
    const caller = callerFor(path);
    const input = fc.oneof({ weight: 4, arbitrary: shapedInput(inputSchemaOf(proc), samples()) }, { weight: 1, arbitrary: hostileValue });
    await fc.assert(
      fc.asyncProperty(input, async (value) => {
        const before = await fingerprint(h.knex);
        const outcome = await callProcedure(path, type, value, caller?.token ?? null);
        expectClearRefusal(outcome, `${path}(${encode(value).slice(0, 300)})`);
        const refused = outcome.status >= 400 || outcome.error !== undefined;
        if (refused || type !== 'mutation') {
          expect(await fingerprint(h.knex), `${path} changed the database, answering ${outcome.status}`).toEqual(before);
        } else {
          // Accepted: then the input really was valid.
          stats.accepted++;
          expect(accepts(proc, value), `${path} accepted input its schema refuses: ${encode(value).slice(0, 300)}`).toBe(true);
        }
      }),
      { numRuns: RUNS_PER_PROCEDURE },
    );
    assertNotPolluted();
  });

  it('hostile callers (no token, garbage tokens, wrong roles) are refused with 401/403, the database unchanged', async () => {
    const token = fc.oneof(
      fc.constant(null),
      fc.constantFrom('sig_' + 'A'.repeat(43), 'Bearer', '', 'sig_', "sig_' or 1=1 --", 'sig_' + '\u00e9'.repeat(43), as.admin.token.slice(0, -1) + 'x'),
      fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((t) => t.trim()), // what a header can carry
    );
    const before = await fingerprint(h.knex);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...procedures.filter(([p]) => ruleFor(p)?.roles !== 'public')), token, hostileValue, async ([path, proc], tok, value) => {
        const outcome = await callProcedure(path, proc._def.type, value, tok);
        expectClearRefusal(outcome, `${path} with token ${JSON.stringify(tok)}`);
        expect([401, 200].includes(outcome.status) || outcome.status === 431, `${path}: HTTP ${outcome.status}`).toBe(true);
        if (outcome.status === 200) expect(outcome.error?.data.code).toBe('UNAUTHORIZED'); // SSE: the error is in the stream
      }),
      { numRuns: 60 },
    );
    // Wrong roles: every procedure, every role its rule does not name.
    for (const [path, proc] of procedures) {
      const rule = ruleFor(path)!;
      if (rule.roles === 'public') continue;
      for (const role of ['admin', 'owner', 'subscriber'] as const) {
        if ((rule.roles as readonly string[]).includes(role)) continue;
        const outcome = await callProcedure(path, proc._def.type, {}, as[role].token);
        expectClearRefusal(outcome, `${path} as ${role}`);
        expect(outcome.error?.data.code, `${path} as ${role}`).toBe('FORBIDDEN');
      }
    }
    expect(await fingerprint(h.knex)).toEqual(before);
  });
});

describe('entryPrice at its limits', () => {
  const DECIMAL = /^(0|[1-9]\d{0,19})(\.\d{1,10})?$/;
  const entryPrice = fc.oneof(
    fc.constantFrom(...DECIMALS, '1', '0.0000000001', '1923.50', '99999999999999999999', '12345678901234567890.1234567890'),
    fc.tuple(fc.stringMatching(/^[0-9]{1,22}$/), fc.option(fc.stringMatching(/^[0-9]{0,12}$/), { nil: undefined })).map(([i, f]) => (f === undefined ? i : `${i}.${f}`)),
    fc.oneof(fc.constantFrom(...NUMBERS), fc.double(), fc.bigInt()),
  );

  it('is kept exactly when valid (create and update), refused with a clear message otherwise; nothing else is written', async () => {
    const seed = await h.caller(as.owner).signals.create({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1' });
    let version = seed.version;
    let accepted = 0;
    const rowsBefore = Number((await h.knex('signals').count({ n: '*' }).first())?.n);
    await fc.assert(
      fc.asyncProperty(entryPrice, async (price) => {
        const valid = typeof price === 'string' && DECIMAL.test(price) && !/^0(\.0+)?$/.test(price);
        const created = await callProcedure('signals.create', 'mutation', { instrument: 'XAUUSD', side: 'sell', entryPrice: price }, as.owner.token);
        const updated = await callProcedure('signals.update', 'mutation', { id: seed.id, expectedVersion: version, patch: { entryPrice: price } }, as.owner.token);
        for (const [what, outcome] of [['create', created], ['update', updated]] as const) {
          expectClearRefusal(outcome, `${what} entryPrice ${String(price)}`);
          if (valid) {
            expect(outcome.status, `${what} ${String(price)}: ${outcome.text.slice(0, 300)}`).toBe(200);
            const view = trpcData<{ id: string; entryPrice: string; version: number }>(outcome);
            expect(view.entryPrice).toBe(price);
            const stored = await h.knex('signals').where('id', view.id).first('entry_price');
            expect(stored.entry_price).toBe(price); // numeric keeps the digits exactly, trailing zeros too
            if (what === 'update') version = view.version;
            else accepted++;
          } else {
            expect(outcome.status, `${what} ${String(price)}`).toBe(400);
            expect(outcome.error?.message).toMatch(/entryPrice/);
          }
        }
      }),
      { numRuns: 150 },
    );
    expect(Number((await h.knex('signals').count({ n: '*' }).first())?.n)).toBe(rowsBefore + accepted);
  });
});

describe('fuzzing the HTTP layer', () => {
  const paths = fc.oneof(
    fc.constantFrom(...procedures.map(([p]) => p)),
    fc.constantFrom('', 'signals', 'signals.', '.create', 'signals..create', 'signals.create,signals.create', '__proto__', 'constructor', 'signals/create', '%00', '%E0%A4%A', '..%2F..%2Fetc%2Fpasswd', 'signals.list,'.repeat(200)),
    fc.string({ maxLength: 30 }).map(encodeURIComponent),
  );
  const methods = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD');
  const contentTypes = fc.constantFrom(undefined, 'application/json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/jsonl');
  const deep = (n: number, open: string, close: string) => open.repeat(n) + '1' + close.repeat(n);
  const bodies = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1))), // truncated JSON
    fc.json().map((j) => `{"json":${j}}`),
    fc.json().map((j) => `{"0":{"json":${j}}}`),
    fc.constantFrom(
      '', '{', 'null', '[]', '"x"', '{"json":', '{"json":{"__proto__":{"polluted":1}}}', '{"__proto__":{"polluted":1}}',
      `{"json":${deep(3_000, '[', ']')}}`, `{"json":${deep(3_000, '{"a":', '}')}}`, `{"json":${'1'.repeat(5_000)}}`,
      '{"json":{"a":"\\ud800"}}', '{"json":{"a":"\\u0000"}}', '\uFEFF{"json":{}}',
    ),
  );
  const queries = fc.oneof(
    fc.constant(''),
    fc.constantFrom('?batch=1', '?batch=1&input=5', '?batch=1&input=%7B%7D', '?input=', '?input=%7B', '?input=null', '?input=%5B%5D', '?batch=1&input=%7B%220%22%3A%7B%22json%22%3A%7B%7D%7D%7D', '?input=1&input=2', `?input=${encodeURIComponent(`{"json":${deep(1_500, '[', ']')}}`)}`),
    bodies.map((b) => `?input=${encodeURIComponent(b)}`),
  );

  it('malformed bodies, wrong content types, wrong methods and odd paths get a 4xx, never a 5xx', async () => {
    const before = await fingerprint(h.knex);
    await fc.assert(
      fc.asyncProperty(paths, methods, contentTypes, bodies, queries, fc.constantFrom(null, as.owner.token, as.admin.token, as.subscriber.token), async (path, method, type, body, query, token) => {
        const headers: Record<string, string> = {};
        if (type) headers['content-type'] = type;
        if (token) headers.authorization = `Bearer ${token}`;
        const init: RequestInit = { method, headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body }) };
        const outcome = await request(`/trpc/${path}${query}`, init);
        expectClearRefusal(outcome, `${method} /trpc/${path}${query.slice(0, 80)} (${type}) ${JSON.stringify(body.slice(0, 80))}`);
      }),
      { numRuns: 400 },
    );
    expect(await fingerprint(h.knex)).toEqual(before);
    assertNotPolluted();
  });

  it('malformed superjson (unknown or hostile annotations, prototype paths) gets a 4xx and pollutes nothing', async () => {
    const annotation = fc.oneof(
      fc.constantFrom(['Date'], ['bigint'], ['regexp'], ['set'], ['map'], ['undefined'], ['number'], ['Error'], ['URL'], ['symbol', 'x'], ['class', 'Object'], ['custom', 'x'], ['typed-array', 'Uint8Array'], 'Date', 42, null, ['map', { '0': ['Date'] }]),
      fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
    );
    const metaPath = fc.oneof(
      fc.constantFrom('__proto__', '__proto__.polluted', 'constructor.prototype.polluted', 'a.__proto__.polluted', 'instrument', 'entryPrice', 'ownerOnly.notes', 'expiresAt', 'a.b.c.d', '', '.', 'a..b'),
      fc.string({ maxLength: 20 }),
    );
    const meta = fc.oneof(
      fc.record({ values: fc.dictionary(metaPath, annotation, { maxKeys: 3 }) }, { requiredKeys: [] }),
      fc.record({ values: annotation }),
      fc.record({ referentialEqualities: fc.dictionary(metaPath, fc.array(metaPath, { maxLength: 2 }), { maxKeys: 2 }) }),
      fc.constantFrom(null, 5, 'x', [], { values: { '': ['Date'] } }, { v: 99 }),
    );
    const json = fc.oneof(
      fc.constant({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1', expiresAt: 'not a date', a: { b: { c: { d: 1 } } } }),
      fc.jsonValue({ maxDepth: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('signals.create', 'signals.update', 'users.create', 'approvals.decide', 'signals.list'), json, meta, async (path, value, m) => {
        const proc = allProcedures[path];
        if (!proc) return;
        const before = await fingerprint(h.knex);
        const body = JSON.stringify({ json: value, meta: m });
        const token = callerFor(path)?.token ?? null;
        const outcome =
          proc._def.type === 'mutation'
            ? await request(`/trpc/${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body })
            : await request(`/trpc/${path}?input=${encodeURIComponent(body)}`, { headers: { authorization: `Bearer ${token}` } });
        expectClearRefusal(outcome, `${path} ${body.slice(0, 300)}`);
        if (outcome.status >= 400 || proc._def.type !== 'mutation') {
          expect(await fingerprint(h.knex)).toEqual(before);
        } else {
          // Accepted: superjson decoded it to something valid (e.g. a reference that leaves a field undefined).
          stats.accepted++;
          const decoded = superjson.deserialize(JSON.parse(body) as Parameters<typeof superjson.deserialize>[0]);
          expect(accepts(proc, decoded), `${path} accepted ${body}`).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
    assertNotPolluted();
  });

  it('the server still answers, correctly, after all of it', async () => {
    await expectStillAnswering();
  });
});
