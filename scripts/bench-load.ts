// `pnpm bench:load [--clients 32] [--seconds 20]`: N concurrent clients of @signals/client send T
// seconds of mixed traffic (publish, list, byId, update, approve) to the real server process
// (`node --import tsx apps/server/src/main.ts`), then every acknowledged write is checked in the
// database: the row count per owner, and the content read back (decrypted) through the owner's API.
//
// Database: a throwaway embedded PostgreSQL, or with DATABASE_URL a fresh database on that server
// (dropped afterwards). Rate limits stay on, set high enough not to refuse this traffic.
// Prints throughput, p50/p99 latency per operation, errors by code, and lost writes; exits 1 when
// there is any error or lost write (the target: none at 32 clients on two cores).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Keyring } from '@signals/crypto';
import { createKnex, migrateLatest, startThrowawayPostgres, type Knex, type ThrowawayPostgres } from '@signals/db';
import { addSubscription, createUser } from '@signals/server';
import { createSignalsClient, isSignalsError, type OwnerSignalView, type SignalsClient } from '@signals/client';

// --- arguments --------------------------------------------------------------------------------

function parseArgs(argv: string[]): { clients: number; seconds: number } {
  const out = { clients: 32, seconds: 20 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '--help' || arg === '-h') {
      console.log('usage: pnpm bench:load [--clients N (default 32)] [--seconds T (default 20)]');
      process.exit(0);
    }
    const value = Number(argv[i + 1]);
    if ((arg === '--clients' || arg === '--seconds') && Number.isInteger(value) && value >= 1 && value <= 10_000) {
      out[arg === '--clients' ? 'clients' : 'seconds'] = value;
      i++;
      continue;
    }
    console.error(`bench:load: bad argument ${JSON.stringify(arg)}; usage: pnpm bench:load [--clients N] [--seconds T]`);
    process.exit(2);
  }
  return out;
}

// --- the database -----------------------------------------------------------------------------

interface LoadDatabase {
  url: string;
  describe: string;
  dispose(): Promise<void>;
}

function withDatabaseName(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function loadDatabase(): Promise<LoadDatabase> {
  const name = `signals_load_${randomBytes(4).toString('hex')}`;
  let throwaway: ThrowawayPostgres | undefined;
  let serverUrl = process.env.DATABASE_URL?.trim();
  if (!serverUrl) {
    throwaway = await startThrowawayPostgres();
    serverUrl = throwaway.url;
  }
  const admin = createKnex(serverUrl, { pool: { max: 1 } });
  await admin.raw('create database ??', [name]);
  await admin.destroy();
  return {
    url: withDatabaseName(serverUrl, name),
    describe: throwaway ? 'throwaway embedded PostgreSQL' : `database ${name} on DATABASE_URL's server`,
    async dispose() {
      if (throwaway) return throwaway.stop();
      const drop = createKnex(serverUrl, { pool: { max: 1 } });
      await drop.raw('drop database if exists ?? with (force)', [name]).finally(() => drop.destroy());
    },
  };
}

// --- the server process -----------------------------------------------------------------------

interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<number | null>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function startServer(databaseUrl: string, clients: number): Promise<ServerProcess> {
  const main = fileURLToPath(new URL('../apps/server/src/main.ts', import.meta.url));
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    cwd: fileURLToPath(new URL('../apps/server/', import.meta.url)),
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      SIGNALS_MASTER_KEYS: Keyring.generateEntry('load1'),
      // On, and far above this traffic: each client is one token, at most a few hundred calls a second.
      SIGNALS_RATE_LIMIT_PER_MINUTE: String(60 * 2_000),
      SIGNALS_RATE_LIMIT_BURST: String(Math.max(1_000, clients * 10)),
      SIGNALS_SLOW_QUERY_MS: '1000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`the server exited (${exitCode}) before listening:\n${output.slice(-3000)}`);
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`the server did not become ready in 60 s:\n${output.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      process.removeListener('exit', killOnExit);
      const warnings = output.split('\n').filter((l) => /"level":(40|50|60)/.test(l));
      if (warnings.length) console.log(`server warnings/errors (${warnings.length}):\n${warnings.slice(0, 10).join('\n')}`);
      return code;
    },
  };
}

// --- traffic ----------------------------------------------------------------------------------

type Op = 'publish' | 'update' | 'byId' | 'list' | 'approve';
const OPS: Op[] = ['publish', 'update', 'byId', 'list', 'approve'];

interface Expected {
  ownerIndex: number;
  entryPrice: string;
  ownerOnly: Record<string, unknown>;
  version: number;
}

interface Stats {
  latencies: Record<Op, number[]>;
  errors: Map<string, number>;
}

/** What the owner must read back, per signal id; and approvals acknowledged. */
const expected = new Map<string, Expected>();
/** Ids of acknowledged signals, for subscribers to read and approve. */
const published: string[] = [];
let approvalsAcknowledged = 0;

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

async function timed(stats: Stats, op: Op, call: () => Promise<unknown>): Promise<boolean> {
  const started = performance.now();
  try {
    await call();
    stats.latencies[op].push(performance.now() - started);
    return true;
  } catch (err) {
    const code = isSignalsError(err) ? String(err.data?.code ?? 'UNKNOWN') : err instanceof Error ? err.message.slice(0, 80) : String(err);
    const key = `${op}: ${code}`;
    stats.errors.set(key, (stats.errors.get(key) ?? 0) + 1);
    return false;
  }
}

async function ownerLoop(client: SignalsClient, ownerIndex: number, until: number, stats: Stats): Promise<void> {
  const mine: string[] = [];
  for (let n = 0; performance.now() < until; n++) {
    const roll = Math.random();
    if (roll < 0.35 || mine.length === 0) {
      const entryPrice = `${1900 + (n % 100)}.${String(n % 100).padStart(2, '0')}`;
      const ownerOnly = { stopLoss: '1890.00', takeProfit: '1990.00', strategy: `load-${ownerIndex}`, notes: `owner ${ownerIndex} signal ${n} ${randomBytes(6).toString('hex')}` };
      await timed(stats, 'publish', async () => {
        const s = await client.signals.create.mutate({ instrument: 'XAUUSD', side: n % 2 ? 'buy' : 'sell', entryPrice, payload: { confidence: 0.5 }, ownerOnly, externalId: `load-${ownerIndex}-${n}` });
        expected.set(s.id, { ownerIndex, entryPrice, ownerOnly, version: s.version });
        mine.push(s.id);
        published.push(s.id);
      });
    } else if (roll < 0.55) {
      const id = pick(mine);
      const want = expected.get(id)!;
      const ownerOnly = { ...want.ownerOnly, notes: `updated ${n} ${randomBytes(6).toString('hex')}` };
      const entryPrice = `${2000 + (n % 50)}.5`;
      await timed(stats, 'update', async () => {
        const s = await client.signals.update.mutate({ id, expectedVersion: want.version, patch: { entryPrice, ownerOnly } });
        Object.assign(want, { entryPrice, ownerOnly, version: s.version });
      });
    } else if (roll < 0.75) {
      await timed(stats, 'byId', () => client.signals.byId.query({ id: pick(mine) }));
    } else {
      await timed(stats, 'list', () => client.signals.list.query({ limit: 20 }));
    }
  }
}

async function subscriberLoop(client: SignalsClient, until: number, stats: Stats): Promise<void> {
  const decided = new Set<string>();
  while (performance.now() < until) {
    const roll = Math.random();
    const undecided = published.length ? pick(published) : undefined;
    if (roll < 0.2 && undecided && !decided.has(undecided)) {
      decided.add(undecided);
      await timed(stats, 'approve', async () => {
        await client.approvals.decide.mutate({ signalId: undecided, decision: Math.random() < 0.8 ? 'approve' : 'reject', reason: 'load test' });
        approvalsAcknowledged++;
      });
    } else if (roll < 0.6 && published.length) {
      await timed(stats, 'byId', () => client.signals.byId.query({ id: pick(published) }));
    } else {
      await timed(stats, 'list', () => client.signals.list.query({ limit: 20 }));
    }
  }
}

// --- checking ---------------------------------------------------------------------------------

/** Every acknowledged write is in the database, and the owner reads back exactly what was acknowledged. */
async function verify(knex: Knex, owners: { id: string; client: SignalsClient }[]): Promise<{ checked: number; lost: string[] }> {
  const lost: string[] = [];
  let checked = 0;
  for (const [ownerIndex, owner] of owners.entries()) {
    const want = [...expected].filter(([, e]) => e.ownerIndex === ownerIndex);
    const rows = Number((await knex('signals').where('owner_id', owner.id).count({ n: '*' }).first())?.n);
    if (rows !== want.length) lost.push(`owner ${ownerIndex}: ${rows} rows, ${want.length} acknowledged`);
    const seen = new Map<string, OwnerSignalView>();
    let cursor: string | null = null;
    do {
      const page: { items: unknown[]; nextCursor: string | null } = await owner.client.signals.list.query({ ownerId: owner.id, limit: 100, cursor });
      for (const item of page.items as OwnerSignalView[]) seen.set(item.id, item);
      cursor = page.nextCursor;
    } while (cursor);
    for (const [id, e] of want) {
      checked++;
      const got = seen.get(id);
      if (!got) lost.push(`${id}: missing`);
      else if (got.entryPrice !== e.entryPrice || got.version !== e.version || JSON.stringify(got.ownerOnly) !== JSON.stringify(e.ownerOnly)) {
        lost.push(`${id}: read back ${JSON.stringify({ entryPrice: got.entryPrice, version: got.version, ownerOnly: got.ownerOnly })}, acknowledged ${JSON.stringify(e)}`);
      }
    }
  }
  const approvals = Number((await knex('approvals').count({ n: '*' }).first())?.n);
  if (approvals !== approvalsAcknowledged) lost.push(`approvals: ${approvals} rows, ${approvalsAcknowledged} acknowledged`);
  return { checked, lost };
}

// --- report -----------------------------------------------------------------------------------

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const fmt = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : '—');

function report(stats: Stats, seconds: number): string {
  const rows = [['operation', 'calls', 'calls/s', 'p50 ms', 'p99 ms', 'max ms']];
  const all: number[] = [];
  for (const op of OPS) {
    const l = [...stats.latencies[op]].sort((a, b) => a - b);
    all.push(...l);
    rows.push([op, String(l.length), fmt(l.length / seconds), fmt(percentile(l, 50)), fmt(percentile(l, 99)), fmt(l.at(-1) ?? Number.NaN)]);
  }
  all.sort((a, b) => a - b);
  rows.push(['all', String(all.length), fmt(all.length / seconds), fmt(percentile(all, 50)), fmt(percentile(all, 99)), fmt(all.at(-1) ?? Number.NaN)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

// --- main -------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { clients, seconds } = parseArgs(process.argv.slice(2));
  const owners = Math.max(1, Math.ceil(clients / 2));
  console.log(`bench:load: ${clients} clients (${owners} owners, ${clients - owners} subscribers) for ${seconds} s — ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}`);

  const database = await loadDatabase();
  // Ctrl-C: the 'exit' handlers (server process, throwaway PostgreSQL) still run.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  const knex = createKnex(database.url, { pool: { max: 4 } });
  let server: ServerProcess | undefined;
  let exitCode: number;
  try {
    await migrateLatest(knex);
    console.log(`database: ${database.describe}`);
    server = await startServer(database.url, clients);
    console.log(`server: ${server.url} (pid ${server.child.pid}), rate limit on (high), LOG_LEVEL=warn`);

    const users = [];
    for (let i = 0; i < clients; i++) users.push(await createUser(knex, { name: `load-${i}`, role: i < owners ? 'owner' : 'subscriber' }));
    for (const sub of users.slice(owners)) for (const owner of users.slice(0, owners)) await addSubscription(knex, owner.user.id, sub.user.id);
    const clientOf = (token: string) => createSignalsClient({ url: server!.url, token });

    const stats: Stats = { latencies: { publish: [], update: [], byId: [], list: [], approve: [] }, errors: new Map() };
    const started = performance.now();
    const until = started + seconds * 1000;
    await Promise.all(
      users.map((u, i) => (i < owners ? ownerLoop(clientOf(u.token), i, until, stats) : subscriberLoop(clientOf(u.token), until, stats))),
    );
    const elapsed = (performance.now() - started) / 1000;

    console.log(`\n${report(stats, elapsed)}\n`);
    const errorCount = [...stats.errors.values()].reduce((a, b) => a + b, 0);
    console.log(`errors: ${errorCount}${errorCount ? ` ${JSON.stringify(Object.fromEntries(stats.errors))}` : ''}`);

    const { checked, lost } = await verify(
      knex,
      users.slice(0, owners).map((u) => ({ id: u.user.id, client: clientOf(u.token) })),
    );
    const writes = stats.latencies.publish.length + stats.latencies.update.length + stats.latencies.approve.length;
    console.log(
      `writes: ${writes} acknowledged (${stats.latencies.publish.length} publish, ${stats.latencies.update.length} update, ${stats.latencies.approve.length} approve); ` +
        `${checked} signals read back through their owner's API (decrypted) and compared, approvals counted: ${lost.length} lost or different`,
    );
    for (const l of lost.slice(0, 10)) console.log(`  lost: ${l}`);

    const serverExit = await server.stop();
    server = undefined;
    console.log(`server: stopped with SIGTERM, exit code ${serverExit}`);
    exitCode = errorCount === 0 && lost.length === 0 && serverExit === 0 ? 0 : 1;
    console.log(exitCode === 0 ? 'PASS: no errors, no lost writes' : 'FAIL: errors or lost writes (see above)');
  } finally {
    if (server) await server.stop();
    await knex.destroy();
    await database.dispose();
  }
  process.exit(exitCode);
}

main().catch((err: unknown) => {
  console.error(`bench:load failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
