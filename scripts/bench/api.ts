// Part 3, api (issue 6): the cost of sealing through the whole stack, against the limit.
// The server runs in its own process on a fresh database, logging at `warn`; this process drives
// it through @signals/client over HTTP with closed-loop workers (concurrency 1 and 16, a warm-up,
// then interleaved rounds of fixed duration) and measures, paired in the same run:
//   - signals.create with a 1 KiB owner-only payload / without one / a raw `pg` insert of the same
//     row through a pg.Pool of the server's pool size (the limit);
//   - signals.byId as the owner (opens the payload) / as a subscriber (public view);
//   - signals.list of 100 signals as the owner (opens 100 payloads) / as a subscriber;
//   - the client's link: @signals/client (httpBatchLink) / a plain httpLink, same calls;
//   - health.ping, a procedure that does nothing: the floor of any call through this stack.
// Each case also reports the CPU time per call of the server, this process and PostgreSQL.
// Every worker of a case shares one client per user, as the threads of one app would.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Keyring } from '@signals/crypto';
import { addSubscription, createUser } from '@signals/server';
import { createSignalsClient, type SignalsClient } from '@signals/client';
import { makePayload } from '../bench-crypto.js';
import { exited, report, spawnTs } from './child.js';
import { cpuMeter } from './cpu.js';
import { fmtInt, fmtMs, measureInterleaved, pg, ratio, type BenchPostgres, type CaseResult, type PartReport, type PgPool, type Ratio } from './common.js';

export const SEALED_CREATE_RATIO_TARGET = 0.9;
export const OWNER_LIST_TIME_RATIO_TARGET = 1.5;
export const CREATE_VS_PG_RATIO_TARGET = 0.5;
const CONCURRENCIES = [1, 16] as const;
const LIST_SIZE = 100;
/** Signals of other owners in the table, newer than the ones listed. */
const OTHER_SIGNALS = 20_000;

interface ServerInfo {
  url: string;
  pid: number;
  logLevel: string;
  poolMax: number | null;
}

// The row of `signals.create`, as knex writes it (services/signals.ts), for the raw insert.
const INSERT_SQL = `insert into "signals" ("entry_price", "expires_at", "external_id", "id", "instrument", "owner_id", "owner_only_payload", "payload", "side")
  values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict ("owner_id", "external_id") do nothing
  returning "id", "owner_id" as "ownerId", "instrument", "side", "entry_price" as "entryPrice", "status", "payload",
  "owner_only_payload" as "ownerOnlyPayload", "external_id" as "externalId", "version", "expires_at" as "expiresAt",
  "created_at" as "createdAt", "updated_at" as "updatedAt"`;

/**
 * The same client as @signals/client but with tRPC's plain `httpLink` (one HTTP request per call,
 * sent at once) instead of `httpBatchLink` (calls of the same tick in one request, sent after a
 * setTimeout). @trpc/client and superjson are dependencies of @signals/client: loaded from there.
 */
async function unbatchedClient(url: string, token: string): Promise<SignalsClient> {
  const fromClient = createRequire(new URL('../../packages/client/package.json', import.meta.url));
  const load = (name: string) => import(pathToFileURL(fromClient.resolve(name)).href);
  const trpc = (await load('@trpc/client')) as {
    createTRPCClient(opts: { links: unknown[] }): unknown;
    httpLink(opts: { url: string; transformer: unknown; headers: () => Record<string, string> }): unknown;
  };
  const superjson = ((await load('superjson')) as { default: unknown }).default;
  const authorization = `Bearer ${token}`;
  return trpc.createTRPCClient({
    links: [trpc.httpLink({ url: `${url.replace(/\/+$/, '')}/trpc`, transformer: superjson, headers: () => ({ authorization }) })],
  }) as SignalsClient;
}

interface Case {
  name: string;
  op: () => Promise<unknown>;
}

export async function runApi(opts: { quick: boolean; postgres: BenchPostgres; cpuProfDir?: string | undefined }): Promise<PartReport> {
  const seconds = opts.quick ? 1.2 : 5;
  const warmupSeconds = opts.quick ? 0.3 : 1;
  const rounds = opts.quick ? 2 : 5;

  const db = await opts.postgres.createDatabase();
  const entry = Keyring.generateEntry('bench1');
  const child = spawnTs(fileURLToPath(new URL('./api-server.ts', import.meta.url)), {
    cpuProfDir: opts.cpuProfDir,
    env: {
      BENCH_DB_URL: db.url,
      BENCH_MASTER_KEYS: entry,
      ...(process.env.BENCH_LOG_LEVEL ? { BENCH_LOG_LEVEL: process.env.BENCH_LOG_LEVEL } : {}),
    },
  });
  let rawPool: PgPool | undefined;
  try {
    const server = await report<ServerInfo>(child, 'api server');
    const poolMax = server.poolMax ?? 10;
    rawPool = new pg.Pool({ connectionString: db.url, max: poolMax, application_name: 'signals-bench-raw' });
    rawPool.on('error', () => undefined);
    const raw = rawPool;

    // Who is who: A publishes the 100 signals that are read; B publishes during the create cases;
    // S subscribes to A.
    const ownerA = await createUser(db.knex, { name: 'bench-owner-a', role: 'owner' });
    const ownerB = await createUser(db.knex, { name: 'bench-owner-b', role: 'owner' });
    const subscriber = await createUser(db.knex, { name: 'bench-subscriber', role: 'subscriber' });
    await addSubscription(db.knex, ownerA.user.id, subscriber.user.id);
    const asA = createSignalsClient({ url: server.url, token: ownerA.token });
    const asB = createSignalsClient({ url: server.url, token: ownerB.token });
    const asSubscriber = createSignalsClient({ url: server.url, token: subscriber.token });
    const asAUnbatched = await unbatchedClient(server.url, ownerA.token);
    const asBUnbatched = await unbatchedClient(server.url, ownerB.token);

    const ownerOnly = makePayload();
    const publicPayload = { confidence: 0.82, timeframe: 'H4' };
    const input = { instrument: 'XAUUSD', side: 'buy' as const, entryPrice: '1923.50', payload: publicPayload };
    const ids: string[] = [];
    for (let i = 0; i < LIST_SIZE; i++) ids.push((await asA.signals.create.mutate({ ...input, ownerOnly })).id);
    const readId = ids[Math.floor(LIST_SIZE / 2)] as string;
    // The rest of the platform: other owners have published since (bulk-inserted, public part only).
    const others = await createUser(db.knex, { name: 'bench-other-owners', role: 'owner' });
    await raw.query(
      `insert into signals (id, owner_id, instrument, side, entry_price, payload)
       select gen_random_uuid(), $1, 'EURUSD', 'sell', 1.0825, '{"confidence":0.5}' from generate_series(1, $2)`,
      [others.user.id, OTHER_SIGNALS],
    );
    await raw.query('analyze signals');

    // The raw insert writes the same row: same columns and values, a sealed text of the same size.
    const sealedB = (await asB.signals.create.mutate({ ...input, ownerOnly })).id;
    const { rows: sealedRows } = await raw.query<{ p: string }>('select owner_only_payload as p from signals where id = $1', [sealedB]);
    const sealedText = sealedRows[0]?.p as string;
    const payloadJson = JSON.stringify(publicPayload);
    const rawInsert = async () => {
      const { rowCount } = await raw.query(INSERT_SQL, ['1923.50', null, null, randomUUID(), 'XAUUSD', ownerB.user.id, sealedText, payloadJson, 'buy']);
      if (rowCount !== 1) throw new Error('raw insert wrote no row');
    };

    // Sanity: the views are what the cases claim to measure.
    const ownerList = await asA.signals.list.query({ limit: LIST_SIZE });
    const subscriberList = await asSubscriber.signals.list.query({ limit: LIST_SIZE });
    const ownerViews = ownerList.items.filter((s) => 'ownerOnly' in s && s.ownerOnlyState === 'present').length;
    const publicViews = subscriberList.items.filter((s) => !('ownerOnly' in s)).length;
    if (ownerViews !== LIST_SIZE || publicViews !== LIST_SIZE) {
      throw new Error(`list sanity check failed: owner saw ${ownerViews} opened payloads, subscriber ${publicViews} public views of ${LIST_SIZE}`);
    }

    const groups: { cases: Case[]; concurrencies: readonly number[] }[] = [
      {
        concurrencies: CONCURRENCIES,
        cases: [
          { name: 'signals.create, 1 KiB ownerOnly', op: () => asB.signals.create.mutate({ ...input, ownerOnly }) },
          { name: 'signals.create, no ownerOnly', op: () => asB.signals.create.mutate(input) },
          { name: `raw pg insert, same row (pg.Pool max ${poolMax})`, op: rawInsert },
          { name: 'health.ping: no database, no sealing (floor)', op: () => asB.health.ping.query() },
        ],
      },
      {
        concurrencies: CONCURRENCIES,
        cases: [
          { name: 'signals.byId as owner (opens payload)', op: () => asA.signals.byId.query({ id: readId }) },
          { name: 'signals.byId as subscriber (public view)', op: () => asSubscriber.signals.byId.query({ id: readId }) },
        ],
      },
      {
        concurrencies: CONCURRENCIES,
        cases: [
          { name: `signals.list ${LIST_SIZE} as owner (opens ${LIST_SIZE})`, op: () => asA.signals.list.query({ limit: LIST_SIZE }) },
          { name: `signals.list ${LIST_SIZE} as subscriber`, op: () => asSubscriber.signals.list.query({ limit: LIST_SIZE }) },
        ],
      },
      {
        concurrencies: CONCURRENCIES,
        cases: [
          { name: 'link: byId as owner, httpBatchLink (@signals/client)', op: () => asA.signals.byId.query({ id: readId }) },
          { name: 'link: byId as owner, httpLink (no batching)', op: () => asAUnbatched.signals.byId.query({ id: readId }) },
        ],
      },
      {
        concurrencies: [16],
        cases: [
          { name: 'link: create 1 KiB, httpBatchLink (@signals/client)', op: () => asB.signals.create.mutate({ ...input, ownerOnly }) },
          { name: 'link: create 1 KiB, httpLink (no batching)', op: () => asBUnbatched.signals.create.mutate({ ...input, ownerOnly }) },
        ],
      },
    ];

    // For profiling one case: BENCH_API_ONLY=<regex on case names>, BENCH_API_CONCURRENCY=16.
    // Ratio lines whose cases were not measured are left out.
    const only = process.env.BENCH_API_ONLY ? new RegExp(process.env.BENCH_API_ONLY) : null;
    const onlyConcurrency = process.env.BENCH_API_CONCURRENCY ? Number(process.env.BENCH_API_CONCURRENCY) : null;
    const results: CaseResult[] = [];
    const { rows: backend } = await raw.query<{ pid: number }>('select pg_backend_pid() as pid');
    const cpu = cpuMeter(server.pid, backend[0]?.pid ?? null);
    for (const group of groups) {
      const cases = only ? group.cases.filter((c) => only.test(c.name)) : group.cases;
      if (cases.length === 0) continue;
      for (const concurrency of group.concurrencies) {
        if (onlyConcurrency !== null && concurrency !== onlyConcurrency) continue;
        results.push(...(await measureInterleaved(cases, { concurrency, seconds, warmupSeconds, rounds, cpu })));
      }
    }

    const get = (prefix: string, concurrency: number): CaseResult | undefined =>
      results.find((x) => x.name.startsWith(prefix) && x.concurrency === concurrency);
    const ratios: Ratio[] = [];
    const addRatio = (name: string, a: CaseResult | undefined, b: CaseResult | undefined, value: (a: CaseResult, b: CaseResult) => number, target: number, kind: 'min' | 'max', of: string) => {
      if (a && b) ratios.push(ratio(name, value(a, b), target, kind, of));
    };
    for (const c of CONCURRENCIES) {
      addRatio(`create sealed vs create plain, c=${c}`, get('signals.create, 1 KiB', c), get('signals.create, no ownerOnly', c), (a, b) => a.opsPerSec / b.opsPerSec, SEALED_CREATE_RATIO_TARGET, 'min', 'ops/s with a 1 KiB ownerOnly ÷ ops/s without');
    }
    for (const c of CONCURRENCIES) {
      // Closed loop: time per call is concurrency ÷ throughput, so the time ratio is the inverse throughput ratio.
      addRatio(`owner list time vs subscriber list time, c=${c}`, get(`signals.list ${LIST_SIZE} as owner`, c), get(`signals.list ${LIST_SIZE} as subscriber`, c), (a, b) => b.opsPerSec / a.opsPerSec, OWNER_LIST_TIME_RATIO_TARGET, 'max', `mean time per owner list of ${LIST_SIZE} (opens ${LIST_SIZE}) ÷ per subscriber list`);
    }
    addRatio('create through the stack vs raw pg insert, c=16', get('signals.create, 1 KiB', 16), get('raw pg insert', 16), (a, b) => a.opsPerSec / b.opsPerSec, CREATE_VS_PG_RATIO_TARGET, 'min', 'ops/s of signals.create with 1 KiB ownerOnly over HTTP ÷ raw pg insert of the same row');

    const info = (name: string, a: CaseResult | undefined, b: CaseResult | undefined): string[] =>
      a && b ? [`${name}: ${(a.opsPerSec / b.opsPerSec).toFixed(2)}× (c=${a.concurrency}; no target)`] : [];
    const errors = results.filter((r) => r.errors > 0);
    const table = {
      title: `api: through @signals/client over HTTP, one client per user shared by the workers; ${seconds} s per case in ${rounds} rounds after ${warmupSeconds} s warm-up`,
      headers: ['case', 'conc', 'ops/s', 'p50 ms', 'p99 ms', 'errors', 'CPU ms/call: server', 'client', 'postgres'],
      rows: results.map((r) => [
        r.name,
        String(r.concurrency),
        fmtInt(r.opsPerSec),
        fmtMs(r.p50Ms),
        fmtMs(r.p99Ms),
        String(r.errors),
        ...['server', 'client', 'postgres'].map((group) => (r.cpuMsPerOp?.[group] === undefined ? '—' : r.cpuMsPerOp[group].toFixed(3))),
      ]),
    };
    return {
      part: 'api',
      tables: [table],
      ratios,
      notes: [
        ...info('byId owner vs subscriber', get('signals.byId as owner', 1), get('signals.byId as subscriber', 1)),
        ...info('byId owner vs subscriber', get('signals.byId as owner', 16), get('signals.byId as subscriber', 16)),
        ...info('byId, httpBatchLink vs httpLink', get('link: byId as owner, httpBatchLink', 1), get('link: byId as owner, httpLink', 1)),
        ...info('byId, httpBatchLink vs httpLink', get('link: byId as owner, httpBatchLink', 16), get('link: byId as owner, httpLink', 16)),
        ...info('create, httpBatchLink vs httpLink', get('link: create 1 KiB, httpBatchLink', 16), get('link: create 1 KiB, httpLink', 16)),
        ...info('health.ping (a call that does nothing) vs raw pg insert: the most any call through this stack can reach', get('health.ping', 16), get('raw pg insert', 16)),
        ...info('create 1 KiB vs health.ping', get('signals.create, 1 KiB', 16), get('health.ping', 16)),
        `reads: owner A's ${LIST_SIZE} signals (1 KiB ownerOnly each) among ${fmtInt(OTHER_SIGNALS)} newer signals of other owners, plus those the create cases add`,
        `server: its own process, listen(createDeps(...)), logging at ${server.logLevel}, knex pool max ${server.poolMax ?? '?'}; load generator (and raw pg) in this process; CPU ms/call: CPU time of the server's process, of this one (the client) and of every postgres process during the case, per completed call`,
        ...errors.map((r) => `${r.errors} errors in "${r.name}" at c=${r.concurrency}: ${r.firstError ?? ''}`),
      ],
      figures: { seconds, warmupSeconds, rounds, otherSignals: OTHER_SIGNALS, server: { logLevel: server.logLevel, poolMax: server.poolMax }, results },
    };
  } finally {
    child.stdin?.end();
    await exited(child);
    await rawPool?.end();
    await db.drop();
  }
}
