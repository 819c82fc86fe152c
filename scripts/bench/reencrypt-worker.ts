// The re-encryption job of the benchmark, in a process of its own (as `pnpm signals payloads
// reencrypt` runs): times `reencryptPayloads` and samples this process's memory while it runs.
// Reports one line of JSON on stdout. Started by scripts/bench/reencrypt.ts.
import { Keyring } from '@signals/crypto';
import { createKnex } from '@signals/db';
import { createDeps, createLogger } from '@signals/server';
import { reencryptPayloads } from '../../apps/server/src/jobs/reencrypt.js';
import type { ProgressFactory } from '../../apps/server/src/jobs/progress.js';
import { PHASE_MARK, REPORT_MARK } from './child.js';
import { collectGarbage, sampleMemory } from './common.js';

const url = process.env.BENCH_DB_URL;
const keys = process.env.BENCH_MASTER_KEYS;
if (!url || !keys) throw new Error('BENCH_DB_URL and BENCH_MASTER_KEYS must be set');
const batchSize = process.env.BENCH_BATCH_SIZE ? Number(process.env.BENCH_BATCH_SIZE) : undefined;

const knex = createKnex(url, { applicationName: 'signals-bench-reencrypt' });
const deps = createDeps({ knex, keyring: Keyring.parse(keys), log: createLogger('warn') });
try {
  await knex.raw('select 1'); // connect before the clock starts
  collectGarbage();
  const before = process.memoryUsage();
  const sampler = sampleMemory(5);
  // The job's window, for the parent reading this process's --trace-gc lines (same stdout, in order).
  console.log(`${PHASE_MARK}start`);
  const t0 = performance.now();
  // Once, halfway through (between two batches), a full collection and the heap left after it:
  // what the job carries from batch to batch. One forced GC costs a few milliseconds.
  let heapMidJob = Number.NaN;
  let rowsAtMidJob = 0;
  const halfway: ProgressFactory = () => {
    let total = 0;
    let done = 0;
    return {
      start: (t) => (total = t),
      advance(by) {
        done += by;
        if (Number.isNaN(heapMidJob) && done >= total / 2) {
          collectGarbage();
          heapMidJob = process.memoryUsage().heapUsed;
          rowsAtMidJob = done;
        }
      },
      stop() {},
    };
  };
  const result = await reencryptPayloads(deps, { progress: halfway, ...(batchSize ? { batchSize } : {}) });
  const ms = performance.now() - t0;
  const peak = sampler.stop();
  console.log(`${PHASE_MARK}end`);
  collectGarbage();
  const heapUsedAfter = process.memoryUsage().heapUsed;
  console.log(
    REPORT_MARK +
    JSON.stringify({
      ms,
      pending: result.pending,
      reencrypted: result.reencrypted,
      failed: result.failed.length,
      rssBefore: before.rss,
      heapUsedBefore: before.heapUsed,
      peakRss: peak.peakRss,
      peakHeapUsed: peak.peakHeapUsed,
      samples: peak.samples,
      heapUsedAfter,
      heapMidJob,
      rowsAtMidJob,
    }),
  );
} finally {
  await (deps as { events?: { close(): Promise<void> } }).events?.close();
  await knex.destroy();
}
