// Re-encryption on a live database: concurrent API updates lose nothing, two workers side by side
// share the work, and a run killed with SIGKILL is finished by the next one.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring } from '@signals/crypto';
import { createDeps } from '../deps.js';
import { createHarness, type Harness, type TestUser } from '../testing/harness.js';
import { reencryptPayloads } from './reencrypt.js';

const entry = Keyring.generateEntry('kek1');
let h: Harness;

beforeAll(async () => {
  h = await createHarness({ keyring: Keyring.parse(entry) });
});
afterAll(() => h.close());

/** Fresh services, as in another process (own data-key cache). */
const worker = () => createDeps({ knex: h.knex, keyring: h.keyring, log: h.deps.log });

async function versionsOf(owner: TestUser): Promise<Record<string, number>> {
  const rows = (await h.knex('signals')
    .where('owner_id', owner.id)
    .select(h.knex.raw(`split_part(owner_only_payload, '.', 2) as v`))
    .count({ n: '*' })
    .groupBy('v')) as { v: string; n: string }[];
  return Object.fromEntries(rows.map((r) => [`v${r.v}`, Number(r.n)]));
}

async function notesOf(owner: TestUser, ids: string[]): Promise<Map<string, unknown>> {
  const deps = worker();
  const rows = await h.knex('signals').whereIn('id', ids).select('id', 'owner_id as ownerId', 'owner_only_payload as ownerOnlyPayload');
  const out = new Map<string, unknown>();
  for (const r of rows) out.set(r.id, (await deps.vault.openFor(owner.id, { signalId: r.id, ownerId: r.ownerId, ownerOnlyPayload: r.ownerOnlyPayload })).value?.notes);
  return out;
}

describe('payloads reencrypt', () => {
  it('keeps every concurrent API update (no lost update) and moves everything else', async () => {
    const owner = await h.user('owner');
    const ids = await h.seedSignals(owner, 3000, 'seed-');
    await worker().ownerKeys.rotate(owner.id);

    const api = h.caller(owner);
    const updated = new Map<string, string>();
    let jobDone = false;
    let writesDuringJob = 0;
    const job = reencryptPayloads(worker(), { batchSize: 100 }).finally(() => (jobDone = true));
    // Meanwhile the owner rewrites the payloads of 150 signals through the API.
    const writes = (async () => {
      for (let i = 0; i < 150; i++) {
        const id = ids[(i * 19) % ids.length]!;
        const current = await api.signals.byId({ id });
        const notes = `api-${i}`;
        await api.signals.update({ id, expectedVersion: current.version, patch: { ownerOnly: { notes } } });
        updated.set(id, notes);
        if (!jobDone) writesDuringJob++;
      }
    })();
    const [result] = await Promise.all([job, writes]);
    expect(result.failed).toEqual([]);
    expect(writesDuringJob).toBeGreaterThan(10); // the two really overlapped

    // A second pass moves whatever the API wrote under a key it had cached; then all is on v2.
    await reencryptPayloads(worker());
    expect(await versionsOf(owner)).toEqual({ v2: 3000 });
    const notes = await notesOf(owner, ids);
    ids.forEach((id, i) => expect(notes.get(id)).toBe(updated.get(id) ?? `seed-${i}`));
  });

  it('shares the work between two workers side by side, without errors or double work', async () => {
    const owner = await h.user('owner');
    const ids = await h.seedSignals(owner, 4000, 'two-');
    await worker().ownerKeys.rotate(owner.id);
    const [a, b] = await Promise.all([reencryptPayloads(worker(), { batchSize: 200 }), reencryptPayloads(worker(), { batchSize: 200 })]);
    expect(a.failed).toEqual([]);
    expect(b.failed).toEqual([]);
    expect(a.reencrypted + b.reencrypted).toBe(4000);
    expect(a.reencrypted).toBeGreaterThan(0);
    expect(b.reencrypted).toBeGreaterThan(0);
    expect(await versionsOf(owner)).toEqual({ v2: 4000 });
    const notes = await notesOf(owner, ids.slice(0, 50));
    ids.slice(0, 50).forEach((id, i) => expect(notes.get(id)).toBe(`two-${i}`));
  });

  it('finishes after a run is killed with SIGKILL', async () => {
    const owner = await h.user('owner');
    const ids = await h.seedSignals(owner, 6000, 'kill-');
    await worker().ownerKeys.rotate(owner.id);

    const cli = (...args: string[]) =>
      // node itself (not the tsx wrapper, which would leave its child running when killed).
      spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../cli/main.ts', import.meta.url)), ...args], {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        env: { ...process.env, DATABASE_URL: h.url, SIGNALS_MASTER_KEYS: entry },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    const first = cli('payloads', 'reencrypt', '--batch-size', '20');
    const exited = new Promise<NodeJS.Signals | null>((resolve) => first.on('exit', (_code, signal) => resolve(signal)));
    // Kill it once some batches are in, well before the end.
    for (;;) {
      const moved = (await versionsOf(owner)).v2 ?? 0;
      if (moved >= 200) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    first.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const partial = await versionsOf(owner);
    expect(partial.v1).toBeGreaterThan(0);

    const second = cli('payloads', 'reencrypt', '--json');
    let stdout = '';
    second.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => second.on('exit', resolve));
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ pending: partial.v1, reencrypted: partial.v1, failed: [] });
    expect(await versionsOf(owner)).toEqual({ v2: 6000 });
    const notes = await notesOf(owner, ids.slice(-20));
    ids.slice(-20).forEach((id, i) => expect(notes.get(id)).toBe(`kill-${6000 - 20 + i}`));
  });
});
