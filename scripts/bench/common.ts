// Shared pieces of `pnpm bench`: report shapes, tables and ratio lines, closed-loop load,
// latency statistics, memory sampling, machine info, and throwaway databases.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createKnex, migrateLatest, startThrowawayPostgres, type Knex, type ThrowawayPostgres } from '@signals/db';
import { withDatabase } from '@signals/db/testing';
import type { CpuMeter } from './cpu.js';

// --- reports ----------------------------------------------------------------------------------

export interface Ratio {
  name: string;
  value: number;
  target: number;
  /** `min`: the ratio must be at least the target; `max`: at most. */
  kind: 'min' | 'max';
  pass: boolean;
  /** How the ratio is computed, in words. */
  of: string;
}

export interface Table {
  title: string;
  headers: string[];
  rows: string[][];
}

export interface PartReport {
  part: string;
  tables: Table[];
  ratios: Ratio[];
  notes: string[];
  /** The same figures as the tables, as numbers, for the JSON file. */
  figures: unknown;
}

export function ratio(name: string, value: number, target: number, kind: 'min' | 'max', of: string): Ratio {
  const pass = Number.isFinite(value) && (kind === 'min' ? value >= target : value <= target);
  return { name, value, target, kind, pass, of };
}

export function formatTable(table: Table): string {
  const widths = table.headers.map((h, i) => Math.max(h.length, ...table.rows.map((r) => (r[i] ?? '').length)));
  // First column left-aligned (case names), the others right-aligned (figures); a last column
  // named "note" stays left-aligned and unpadded.
  const lastIsNote = table.headers.at(-1) === 'note';
  const cell = (text: string, i: number) => {
    if (i === 0) return text.padEnd(widths[i] ?? 0);
    if (lastIsNote && i === table.headers.length - 1) return text;
    return text.padStart(widths[i] ?? 0);
  };
  const line = (cells: string[]) => cells.map(cell).join('  ').trimEnd();
  const rule = widths.map((w, i) => (lastIsNote && i === widths.length - 1 ? '-'.repeat(Math.min(w, 40)) : '-'.repeat(w))).join('  ');
  return [table.title, line(table.headers), rule, ...table.rows.map(line)].join('\n');
}

export function formatRatio(r: Ratio): string {
  const op = r.kind === 'min' ? '≥' : '≤';
  // Two decimals, three near the target (so that 0.897 does not read as a failed 0.90).
  const shown = r.value.toFixed(Math.abs(r.value - r.target) < 0.01 ? 3 : 2);
  return `${r.pass ? 'PASS ' : 'BELOW'}  ${r.name}: ${shown}× (target ${op} ${r.target}×) — ${r.of}`;
}

export function formatPart(report: PartReport): string {
  return [
    ...report.tables.map(formatTable).flatMap((t) => [t, '']),
    ...(report.ratios.length ? [...report.ratios.map(formatRatio), ''] : []),
    ...report.notes.map((n) => `  · ${n}`),
  ]
    .join('\n')
    .trimEnd();
}

// --- number formatting ------------------------------------------------------------------------

export const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
export const fmtMs = (n: number): string => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)) : '—');
export const fmtMiB = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1);

// --- statistics -------------------------------------------------------------------------------

/** Latencies of one case, in milliseconds, kept in a growable typed array. */
export class Latencies {
  private data = new Float64Array(4096);
  length = 0;

  push(ms: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = ms;
  }

  append(other: Latencies): void {
    for (let i = 0; i < other.length; i++) this.push(other.data[i] as number);
  }

  /** Nearest-rank percentile, p in [0, 100]. */
  percentile(p: number): number {
    if (this.length === 0) return Number.NaN;
    const sorted = this.data.slice(0, this.length).sort();
    const rank = Math.min(this.length - 1, Math.max(0, Math.ceil((p / 100) * this.length) - 1));
    return sorted[rank] as number;
  }
}

export interface LoadResult {
  ops: number;
  errors: number;
  ms: number;
  latencies: Latencies;
  firstError?: string;
}

/**
 * Closed loop: `concurrency` workers each run `op` back to back until `ms` have passed; every
 * completed op's latency is recorded. Errors are counted (and the first one kept), not thrown.
 */
export async function closedLoop(op: (worker: number) => Promise<unknown>, opts: { concurrency: number; ms: number }): Promise<LoadResult> {
  const latencies = new Latencies();
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const deadline = start + opts.ms;
  const worker = async (w: number) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await op(w);
        latencies.push(performance.now() - t0);
        ops++;
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
  const result: LoadResult = { ops, errors, ms: performance.now() - start, latencies };
  if (firstError !== undefined) result.firstError = firstError;
  return result;
}

export interface CaseResult {
  name: string;
  concurrency: number;
  ops: number;
  errors: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU ms per completed op, per group of processes (see bench/cpu.ts), when sampled. */
  cpuMsPerOp?: Record<string, number>;
  firstError?: string;
}

/**
 * Runs paired cases at one concurrency: a warm-up of each, then `rounds` rounds in which every
 * case runs for its share of `seconds`, in alternating order, so that drift and noise of the
 * machine hit all cases alike. Figures are totals over the rounds.
 */
export async function measureInterleaved(
  cases: ReadonlyArray<{ name: string; op: (worker: number) => Promise<unknown> }>,
  opts: { concurrency: number; seconds: number; warmupSeconds: number; rounds: number; cpu?: CpuMeter | null },
): Promise<CaseResult[]> {
  for (const c of cases) await closedLoop(c.op, { concurrency: opts.concurrency, ms: opts.warmupSeconds * 1000 });
  const totals = cases.map(() => ({ ops: 0, errors: 0, ms: 0, latencies: new Latencies(), cpu: {} as Record<string, number>, firstError: undefined as string | undefined }));
  for (let round = 0; round < opts.rounds; round++) {
    const order = cases.map((_, i) => (round % 2 === 0 ? i : cases.length - 1 - i));
    for (const i of order) {
      const cpuUsed = opts.cpu?.();
      const r = await closedLoop((cases[i] as (typeof cases)[number]).op, { concurrency: opts.concurrency, ms: (opts.seconds * 1000) / opts.rounds });
      const t = totals[i] as (typeof totals)[number];
      if (cpuUsed) for (const [group, ms] of Object.entries(cpuUsed())) t.cpu[group] = (t.cpu[group] ?? 0) + ms;
      t.ops += r.ops;
      t.errors += r.errors;
      t.ms += r.ms;
      t.latencies.append(r.latencies);
      t.firstError ??= r.firstError;
    }
  }
  return cases.map((c, i) => {
    const t = totals[i] as (typeof totals)[number];
    const result: CaseResult = {
      name: c.name,
      concurrency: opts.concurrency,
      ops: t.ops,
      errors: t.errors,
      seconds: t.ms / 1000,
      opsPerSec: (t.ops * 1000) / t.ms,
      p50Ms: t.latencies.percentile(50),
      p99Ms: t.latencies.percentile(99),
    };
    if (opts.cpu && t.ops > 0) result.cpuMsPerOp = Object.fromEntries(Object.entries(t.cpu).map(([group, ms]) => [group, ms / t.ops]));
    if (t.firstError !== undefined) result.firstError = t.firstError;
    return result;
  });
}

// --- memory -----------------------------------------------------------------------------------

/** Samples RSS and heap every `everyMs` until stopped; reports the peaks. */
export function sampleMemory(everyMs = 10): { stop(): { peakRss: number; peakHeapUsed: number; samples: number } } {
  let peakRss = 0;
  let peakHeapUsed = 0;
  let samples = 0;
  const take = () => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeapUsed = Math.max(peakHeapUsed, m.heapUsed);
    samples++;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { peakRss, peakHeapUsed, samples };
    },
  };
}

/** A full garbage collection, when the engine lets us ask for one (it does, with this trick). */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  gc?.();
}

// --- machine ----------------------------------------------------------------------------------

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemoryGiB: Number((os.totalmem() / 1024 ** 3).toFixed(1)),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    /** 1-minute load average when asked: other work on the machine makes the figures noisier. */
    loadAverage: Number(os.loadavg()[0]?.toFixed(2)),
  };
}

// --- pg ---------------------------------------------------------------------------------------

// `pg` is a dependency of @signals/db, not of the workspace root: load it from there. The few
// types the benchmarks use are declared here.
export interface PgQueryResult<R> {
  rows: R[];
  rowCount: number | null;
}
export interface PgPool {
  query<R = Record<string, unknown>>(text: string | { name?: string; text: string; values?: unknown[] }, values?: unknown[]): Promise<PgQueryResult<R>>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}
export interface PgModule {
  Pool: new (config: { connectionString: string; max?: number; application_name?: string }) => PgPool;
}
const requireFromDb = createRequire(new URL('../../packages/db/package.json', import.meta.url));
export const pg = requireFromDb('pg') as PgModule;

// --- databases --------------------------------------------------------------------------------

export interface BenchDatabase {
  url: string;
  knex: Knex;
  /** Closes the knex pool and drops the database. Idempotent. */
  drop(): Promise<void>;
}

/**
 * The PostgreSQL server the run uses: DATABASE_URL's server when set (each part gets a fresh
 * database on it, dropped afterwards), else a throwaway embedded cluster started on first use
 * and deleted at the end, as the tests do (packages/db/src/testing).
 */
export class BenchPostgres {
  private throwaway: Promise<ThrowawayPostgres> | undefined;
  private readonly fromEnv = process.env.DATABASE_URL?.trim() || undefined;

  describe(): string {
    return this.fromEnv
      ? `DATABASE_URL's server (${new URL(this.fromEnv).host}), a fresh database per part`
      : 'a throwaway embedded PostgreSQL (fsync, synchronous_commit and full_page_writes off, as for tests), a fresh database per part';
  }

  private async serverUrl(): Promise<string> {
    if (this.fromEnv) return this.fromEnv;
    this.throwaway ??= startThrowawayPostgres();
    return (await this.throwaway).url;
  }

  async createDatabase(opts: { poolMax?: number } = {}): Promise<BenchDatabase> {
    const serverUrl = await this.serverUrl();
    const name = `signals_bench_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Pool({ connectionString: serverUrl, max: 1, application_name: 'signals-bench-admin' });
    admin.on('error', () => undefined);
    try {
      await admin.query(`create database "${name}"`);
    } finally {
      await admin.end();
    }
    const url = withDatabase(serverUrl, name);
    const knex = createKnex(url, { pool: { max: opts.poolMax ?? 10 }, applicationName: 'signals-bench' });
    let dropped: Promise<void> | undefined;
    const drop = () => {
      dropped ??= (async () => {
        await knex.destroy();
        const pool = new pg.Pool({ connectionString: serverUrl, max: 1, application_name: 'signals-bench-admin' });
        pool.on('error', () => undefined);
        try {
          await pool.query(`drop database if exists "${name}" with (force)`);
        } finally {
          await pool.end();
        }
      })();
      return dropped;
    };
    try {
      await migrateLatest(knex);
    } catch (err) {
      await drop().catch(() => undefined);
      throw err;
    }
    return { url, knex, drop };
  }

  async stop(): Promise<void> {
    if (this.throwaway) await (await this.throwaway).stop();
  }
}
