// PostgreSQL stops during traffic, twice: once cleanly (fast shutdown), once as a crash (immediate
// shutdown, recovery on restart). While it is down every request fails fast with 503
// SERVICE_UNAVAILABLE (bounded by the configured connect timeout, never a hang, never a 500) and
// /readyz answers 503; when it is back the server recovers by itself; and no acknowledged write is
// lost. The PostgreSQL is a throwaway one this test starts and stops itself.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring } from '@signals/crypto';
import { createKnex, migrateLatest, type Knex } from '@signals/db';
import { createDeps } from '../src/deps.js';
import { knexLogger } from '../src/knex-log.js';
import { createLogger } from '../src/logger.js';
import { listen, type RunningServer } from '../src/server.js';
import { createUser } from '../src/services/users.js';
import type { AppDeps } from '../src/context.js';
import { callTrpc, send, trpcData, trpcError } from './support.js';
import { startRestartablePostgres, type RestartablePostgres } from './restartable-postgres.js';

const DB_TIMEOUT_MS = 1_000;
const REQUEST_TIMEOUT_MS = 3_000;
const WORKERS = 8;

let postgres: RestartablePostgres;
let knex: Knex;
let deps: AppDeps;
let server: RunningServer;
let logs = '';

beforeAll(async () => {
  postgres = await startRestartablePostgres();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs += chunk.toString('utf8');
      done();
    },
  });
  const log = createLogger('info', sink);
  knex = createKnex(postgres.url, { connectTimeoutMs: DB_TIMEOUT_MS, statementTimeoutMs: 2_000, pool: { max: 10 }, log: knexLogger(log) });
  await migrateLatest(knex);
  deps = createDeps({ knex, keyring: Keyring.parse(Keyring.generateEntry('faults1')), log, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  server = await listen(deps);
}, 120_000);
afterAll(async () => {
  await server?.close();
  await knex?.destroy();
  await postgres?.dispose();
});

interface Call {
  op: 'create' | 'update' | 'byId' | 'list';
  start: number;
  end: number;
  status: number;
  code: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('PostgreSQL stops during traffic', () => {
  it('fails fast with SERVICE_UNAVAILABLE, turns /readyz to 503, recovers by itself, loses no acknowledged write', async () => {
    const owners = await Promise.all(Array.from({ length: WORKERS }, (_, i) => createUser(knex, { name: `w${i}`, role: 'owner' })));
    const calls: Call[] = [];
    const probes: { at: number; end: number; status: number }[] = [];
    /** Acknowledged state per signal: what the owner must read back. */
    const acked = new Map<string, { owner: number; externalId: string; notes: string; version: number; alternatives: Set<string> }>();
    const attemptedCreates = new Set<string>();
    let running = true;

    const worker = async (w: number) => {
      const token = owners[w]!.token;
      const mine: string[] = [];
      for (let n = 0; running; n++) {
        const roll = n % 5;
        const started = performance.now();
        let op: Call['op'];
        let response;
        if (roll === 4 && mine.length > 0) {
          op = 'update';
          const id = mine[n % mine.length]!;
          const state = acked.get(id)!;
          const notes = `w${w}-update-${n}`;
          response = await callTrpc(server.url, 'signals.update', { type: 'mutation', token, input: { id, expectedVersion: state.version, patch: { ownerOnly: { notes } } } });
          if (response.status === 200) {
            const view = trpcData<{ version: number }>(response);
            Object.assign(state, { notes, version: view.version, alternatives: new Set() });
          } else {
            // Unknown outcome: it may have committed before the answer was lost. Never update it again.
            state.alternatives.add(notes);
            mine.splice(mine.indexOf(id), 1);
          }
        } else if (roll === 3) {
          op = n % 2 ? 'list' : 'byId';
          response =
            op === 'list' || mine.length === 0
              ? await callTrpc(server.url, 'signals.list', { type: 'query', token, input: { limit: 5 } })
              : await callTrpc(server.url, 'signals.byId', { type: 'query', token, input: { id: mine[0] } });
        } else {
          op = 'create';
          const externalId = `w${w}-${n}`;
          const notes = `w${w}-create-${n}`;
          attemptedCreates.add(externalId);
          response = await callTrpc(server.url, 'signals.create', { type: 'mutation', token, input: { instrument: 'XAUUSD', side: 'buy', entryPrice: `${n + 1}.5`, ownerOnly: { notes }, externalId } });
          if (response.status === 200) {
            const view = trpcData<{ id: string; version: number }>(response);
            acked.set(view.id, { owner: w, externalId, notes, version: view.version, alternatives: new Set() });
            mine.push(view.id);
          }
        }
        calls.push({ op, start: started, end: performance.now(), status: response.status, code: trpcError(response)?.data.code ?? 'OK' });
        if (response.status !== 200) await sleep(20); // a client backing off a little
      }
    };
    const prober = async () => {
      while (running) {
        const at = performance.now();
        const response = await send(`${server.url}/readyz`);
        probes.push({ at, end: performance.now(), status: response.status });
        await sleep(100);
      }
    };

    const traffic = [...Array.from({ length: WORKERS }, (_, w) => worker(w)), prober()];
    const timeline: { stopped: number; down: number; starting: number; started: number; mode: string }[] = [];
    for (const mode of ['fast', 'immediate', 'freeze'] as const) {
      await sleep(1_500);
      const stopped = performance.now();
      if (mode === 'freeze') postgres.freeze();
      else await postgres.stop(mode);
      const down = performance.now();
      await sleep(mode === 'freeze' ? 6_000 : 2_000);
      const starting = performance.now();
      if (mode === 'freeze') postgres.thaw();
      else await postgres.start();
      timeline.push({ stopped, down, starting, started: performance.now(), mode });
    }
    await sleep(1_500);
    running = false;
    await Promise.all(traffic);

    // 1. Nothing but success or SERVICE_UNAVAILABLE, ever; never a 500, never a hang.
    const byCode = new Map<string, number>();
    for (const c of calls) byCode.set(`${c.status} ${c.code}`, (byCode.get(`${c.status} ${c.code}`) ?? 0) + 1);
    const EXPECTED = ['200 OK', '503 SERVICE_UNAVAILABLE', '408 TIMEOUT'];
    expect([...byCode.keys()].sort()).toEqual(expect.arrayContaining(EXPECTED));
    const failures = logs.split('\n').filter((l) => l.includes('procedure failed')).slice(0, 5).join('\n');
    expect([...byCode.keys()].filter((k) => !EXPECTED.includes(k)), failures).toEqual([]);
    const slowest = Math.max(...calls.map((c) => c.end - c.start));
    expect(slowest).toBeLessThan(REQUEST_TIMEOUT_MS + 500); // one deadline for authentication and procedure together

    const report: string[] = [];
    for (const t of timeline) {
      // 2. While it is down (stopped, before the restart begins): every call fails, fast. A stopped
      //    server refuses connections: 503 at once. A hung one answers nothing: new connections
      //    give up after the connect timeout (503), calls on open ones at the request deadline (408).
      const during = calls.filter((c) => c.start >= t.down && c.end <= t.starting);
      const hung = t.mode === 'freeze';
      expect(during.length).toBeGreaterThan(hung ? 5 : 20);
      const wrong = during.filter((c) => !(c.status === 503 && c.code === 'SERVICE_UNAVAILABLE') && !(hung && c.status === 408 && c.code === 'TIMEOUT'));
      expect(wrong).toEqual([]);
      const failFast = Math.max(...during.map((c) => c.end - c.start));
      expect(failFast).toBeLessThanOrEqual((hung ? REQUEST_TIMEOUT_MS : DB_TIMEOUT_MS) + 500);
      const readyDown = probes.filter((p) => p.at >= t.down && p.end <= t.starting);
      expect(Math.max(...readyDown.map((p) => p.end - p.at))).toBeLessThan(2_500); // the probe's own bound (2 s)
      expect(readyDown.length).toBeGreaterThan(hung ? 0 : 5);
      expect(readyDown.every((p) => p.status === 503)).toBe(true);
      // 3. Back by itself: the first success after the restart, and /readyz 200 again.
      const firstOk = calls.find((c) => c.start >= t.started && c.status === 200);
      const readyAgain = probes.find((p) => p.at >= t.started && p.status === 200);
      expect(firstOk, `no success after the ${t.mode} restart`).toBeDefined();
      expect(readyAgain).toBeDefined();
      const recoveryMs = Math.max(firstOk!.end, readyAgain!.at) - t.started;
      expect(recoveryMs).toBeLessThan(5_000);
      const median = [...during.map((c) => c.end - c.start)].sort((a, b) => a - b)[Math.floor(during.length / 2)]!;
      const codes = [...new Set(during.map((c) => `${c.status} ${c.code}`))].join(' or ');
      report.push(
        `${t.mode}: ${during.length} calls while down, all ${codes} in ≤ ${Math.round(failFast)} ms (median ${median.toFixed(1)} ms); ` +
          `/readyz 503 ×${readyDown.length}; stop took ${Math.round(t.down - t.stopped)} ms, restart ${Math.round(t.started - t.starting)} ms; ` +
          `recovered ${Math.round(recoveryMs)} ms after PostgreSQL accepted connections`,
      );
    }

    // 4. No acknowledged write lost: every acknowledged create is there, with the last acknowledged
    //    owner-only payload (or, after an update whose answer was lost, possibly that update's).
    const rows = (await knex('signals').select('id', 'owner_id as ownerId', 'external_id as externalId', 'version', 'owner_only_payload as ownerOnlyPayload')) as {
      id: string; ownerId: string; externalId: string; version: number; ownerOnlyPayload: string;
    }[];
    const stored = new Map(rows.map((r) => [r.id, r]));
    let lost = 0;
    for (const [id, want] of acked) {
      const row = stored.get(id);
      if (!row) {
        lost++;
        continue;
      }
      expect(row.externalId).toBe(want.externalId);
      const opened = await deps.vault.openFor(row.ownerId, { signalId: row.id, ownerId: row.ownerId, ownerOnlyPayload: row.ownerOnlyPayload });
      const notes = (opened.value as { notes?: string } | null)?.notes;
      expect([want.notes, ...want.alternatives], `signal ${id}`).toContain(notes);
      if (notes === want.notes) expect(row.version).toBe(want.version);
    }
    expect(lost).toBe(0);
    // Rows nobody acknowledged: only from creates that were attempted and answered with an error.
    const unacknowledged = rows.filter((r) => !acked.has(r.id));
    for (const r of unacknowledged) expect(attemptedCreates.has(r.externalId)).toBe(true);

    const creates = calls.filter((c) => c.op === 'create');
    console.log(
      `faults: ${calls.length} calls by ${WORKERS} clients (${JSON.stringify(Object.fromEntries(byCode))}), slowest ${Math.round(slowest)} ms\n  ` +
        report.join('\n  ') +
        `\n  writes: ${acked.size} creates acknowledged (of ${creates.length} attempted), all ${acked.size} stored with their acknowledged payload; ` +
        `${unacknowledged.length} more stored whose answer was an error (committed as PostgreSQL went down)`,
    );
    expect(logs).not.toContain('procedure failed'); // nothing logged as an internal failure
    expect(logs).toContain('"component":"knex"'); // knex's connection errors, as log lines
  }, 90_000);
});
