// Part 2, reencrypt (issue 3): `payloads reencrypt` over N rows on PostgreSQL. For each size, a
// handful of owners get N signals with 1 KiB owner-only payloads sealed under data key v1
// (bulk-inserted), every owner's key is rotated to v2, and a separate process runs
// `reencryptPayloads` (the CLI's job, default batch size) while sampling its own memory.
// Reported: rows/s and peak memory, for a small and a large N, to show memory stays flat.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Keyring, seal } from '@signals/crypto';
import { createDeps, createLogger, createUser } from '@signals/server';
import { OWNER_ONLY_COLUMN } from '../../apps/server/src/vault/owner-only-vault.js';
import { makePayload } from '../bench-crypto.js';
import { exited, PHASE_MARK, report as childReport, spawnTs } from './child.js';
import { fmtInt, fmtMiB, pg, ratio, type BenchPostgres, type PartReport } from './common.js';

export const REENCRYPT_ROWS_PER_SEC_TARGET = 5_000;
const OWNERS = 5;
const SEED_CHUNK = 5_000;

interface WorkerReport {
  ms: number;
  pending: number;
  reencrypted: number;
  failed: number;
  rssBefore: number;
  heapUsedBefore: number;
  peakRss: number;
  peakHeapUsed: number;
  samples: number;
  /** Heap in use after a full collection forced at the end of the job. */
  heapUsedAfter: number;
  /** Heap in use after a full collection forced halfway through the job, between two batches. */
  heapMidJob: number;
  rowsAtMidJob: number;
}

/** Heap in use right after full collections: `Mark-Compact 78.8 (108.4) -> 23.0 (71.9) MB` of --trace-gc. */
const MARK_COMPACT = /Mark-Compact\b.*?([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB/;

export interface ReencryptRun extends WorkerReport {
  /** Heap left after each full collection V8 made by itself during the job (--trace-gc), in bytes. */
  afterFullGcs: number[];
  rows: number;
  rowsPerSec: number;
  seedSeconds: number;
}

export async function runReencrypt(opts: { quick: boolean; postgres: BenchPostgres; cpuProfDir?: string | undefined }): Promise<PartReport> {
  const sizes = opts.quick ? [5_000, 20_000] : [10_000, 100_000];
  const db = await opts.postgres.createDatabase();
  const entry = Keyring.generateEntry('bench1');
  const keyring = Keyring.parse(entry);
  const deps = createDeps({ knex: db.knex, keyring, log: createLogger('warn') });
  const raw = new pg.Pool({ connectionString: db.url, max: 2, application_name: 'signals-bench-seed' });
  raw.on('error', () => undefined);
  const runs: ReencryptRun[] = [];
  try {
    const payload = makePayload();
    for (const rows of sizes) {
      await db.knex.raw('truncate signals cascade');
      const owners: string[] = [];
      for (let i = 0; i < OWNERS; i++) owners.push((await createUser(db.knex, { name: `bench-owner-${rows}-${i}`, role: 'owner' })).user.id);

      // Seed: sealed under each owner's data key v1, inserted with one statement per chunk.
      const seedStart = performance.now();
      for (let start = 0; start < rows; start += SEED_CHUNK) {
        const n = Math.min(SEED_CHUNK, rows - start);
        const ids: string[] = [];
        const ownerIds: string[] = [];
        const sealed: string[] = [];
        for (let i = 0; i < n; i++) {
          const id = randomUUID();
          const ownerId = owners[(start + i) % OWNERS] as string;
          const { version, key } = await deps.ownerKeys.current(ownerId);
          ids.push(id);
          ownerIds.push(ownerId);
          sealed.push(seal(key, version, payload, { ...OWNER_ONLY_COLUMN, rowId: id, ownerId }));
        }
        await raw.query(
          `insert into signals (id, owner_id, instrument, side, entry_price, owner_only_payload)
           select id, owner_id, 'XAUUSD', 'buy', 1923.5, p from unnest($1::uuid[], $2::uuid[], $3::text[]) as t(id, owner_id, p)`,
          [ids, ownerIds, sealed],
        );
      }
      // Statistics as a table that has been around would have (and no autovacuum mid-run).
      await raw.query('vacuum analyze signals');
      const seedSeconds = (performance.now() - seedStart) / 1000;
      for (const ownerId of owners) await deps.ownerKeys.rotate(ownerId);

      const child = spawnTs(fileURLToPath(new URL('./reencrypt-worker.ts', import.meta.url)), {
        cpuProfDir: opts.cpuProfDir,
        nodeFlags: ['--trace-gc'],
        env: { BENCH_DB_URL: db.url, BENCH_MASTER_KEYS: entry },
      });
      let inJob = false;
      const afterFullGcs: number[] = [];
      const report = await childReport<WorkerReport>(child, 'the re-encryption worker', (line) => {
        if (line.startsWith(PHASE_MARK)) {
          inJob = line === `${PHASE_MARK}start`;
          return true;
        }
        const gc = MARK_COMPACT.exec(line);
        // ("testing" marks the collections forced through gc(), not V8's own.)
        if (gc && inJob && !line.includes('testing')) afterFullGcs.push(Number(gc[3]) * 1024 * 1024);
        return /^\[\d+:0x[0-9a-f]+\]/.test(line); // every --trace-gc line
      });
      child.stdin?.end();
      await exited(child);

      // Check the work was done: every row now on v2.
      const { rows: counts } = await raw.query<{ v: string; n: string }>(
        `select split_part(owner_only_payload, '.', 2) as v, count(*) as n from signals group by 1`,
      );
      const onV2 = Number(counts.find((c) => c.v === '2')?.n ?? 0);
      if (onV2 !== rows || report.failed > 0) {
        throw new Error(`re-encryption of ${rows} rows left ${rows - onV2} rows off v2 (${report.failed} failed)`);
      }
      runs.push({
        ...report,
        afterFullGcs,
        rows,
        rowsPerSec: (report.reencrypted * 1000) / report.ms,
        seedSeconds,
      });
    }
  } finally {
    await raw.end();
    await db.drop();
  }

  const small = runs[0] as ReencryptRun;
  const large = runs.at(-1) as ReencryptRun;
  const table = {
    title: `reencrypt: payloads reencrypt (v1 → v2), ${OWNERS} owners, 1 KiB payloads, default batch size, job in its own process`,
    headers: ['rows', 'seconds', 'rows/s', 'RSS MiB before → peak', 'heap MiB before → peak', 'heap MiB mid-job', 'after job'],
    rows: runs.map((r) => [
      fmtInt(r.rows),
      (r.ms / 1000).toFixed(2),
      fmtInt(r.rowsPerSec),
      `${fmtMiB(r.rssBefore)} → ${fmtMiB(r.peakRss)}`,
      `${fmtMiB(r.heapUsedBefore)} → ${fmtMiB(r.peakHeapUsed)}`,
      fmtMiB(r.heapMidJob),
      fmtMiB(r.heapUsedAfter),
    ]),
  };
  const rssGrowth = (r: ReencryptRun) => r.peakRss - r.rssBefore;
  const ratios = [
    ratio(
      `rows/s at ${fmtInt(large.rows)} rows vs the ${fmtInt(REENCRYPT_ROWS_PER_SEC_TARGET)} rows/s target`,
      large.rowsPerSec / REENCRYPT_ROWS_PER_SEC_TARGET,
      1,
      'min',
      `${fmtInt(large.rowsPerSec)} rows/s ÷ ${fmtInt(REENCRYPT_ROWS_PER_SEC_TARGET)}`,
    ),
    ratio(
      `heap carried mid-job at ${fmtInt(large.rows)} rows vs ${fmtInt(small.rows)} rows`,
      large.heapMidJob / small.heapMidJob,
      1.25,
      'max',
      `${fmtMiB(large.heapMidJob)} MiB ÷ ${fmtMiB(small.heapMidJob)} MiB after a full GC halfway (flat: the job holds one batch at a time)`,
    ),
  ];
  return {
    part: 'reencrypt',
    tables: [table],
    ratios,
    notes: [
      'peaks are sampled every 5 ms in the job\'s process (one full GC is forced halfway, to read the heap the job carries ' +
        'between batches; "after job": after another at its end). The peaks also count garbage not collected yet, which ' +
        'grows with run time as V8 spaces its full collections out',
      ...runs
        .filter((r) => r.afterFullGcs.length > 0)
        .map((r) => `heap after V8's own full GCs during the ${fmtInt(r.rows)}-row job: ${r.afterFullGcs.map(fmtMiB).join(', ')} MiB`),
      `RSS growth during the job: ${runs.map((r) => `${fmtMiB(rssGrowth(r))} MiB at ${fmtInt(r.rows)} rows`).join(', ')}`,
      `seeding (seal + bulk insert + vacuum analyze, not timed in rows/s): ${runs.map((r) => `${r.seedSeconds.toFixed(1)} s for ${fmtInt(r.rows)}`).join(', ')}`,
    ],
    figures: { owners: OWNERS, payloadBytes: 1024, runs },
  };
}
