// The API server of the benchmark, in a process of its own (as in production, the load generator
// is not on the server's event loop): `listen(createDeps(...))` on the given database, logging at
// `warn`. Reports its URL as one line of JSON on stdout, and stops (server, then pool) when its
// stdin closes or on SIGTERM. Started by scripts/bench/api.ts.
import { Keyring } from '@signals/crypto';
import { createKnex } from '@signals/db';
import { createDeps, createLogger, listen } from '@signals/server';
import { REPORT_MARK } from './child.js';

const url = process.env.BENCH_DB_URL;
const keys = process.env.BENCH_MASTER_KEYS;
if (!url || !keys) throw new Error('BENCH_DB_URL and BENCH_MASTER_KEYS must be set');
const logLevel = process.env.BENCH_LOG_LEVEL ?? 'warn';

// The knex of `pnpm start` (apps/server/src/main.ts): createKnex's default pool, unless
// BENCH_POOL_MAX says otherwise (to compare pool sizes).
const poolMax = process.env.BENCH_POOL_MAX ? Number(process.env.BENCH_POOL_MAX) : undefined;
const knex = createKnex(url, { applicationName: 'signals-server', ...(poolMax ? { pool: { max: poolMax } } : {}) });
const log = createLogger(logLevel);
const deps = createDeps({ knex, keyring: Keyring.parse(keys), log });
const running = await listen(deps);
console.log(REPORT_MARK + JSON.stringify({ url: running.url, pid: process.pid, logLevel, poolMax: knex.client.pool?.max ?? null }));

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(1), 10_000).unref();
  await running.close();
  // Live-feed hub (LISTEN connection), where the server has one.
  await (deps as { events?: { close(): Promise<void> } }).events?.close();
  await knex.destroy();
  process.exit(0); // also writes the --cpu-prof profile
}
process.stdin.on('end', () => void stop());
process.stdin.on('close', () => void stop());
process.stdin.resume();
process.on('SIGTERM', () => void stop());
