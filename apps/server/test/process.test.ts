// The real server process (`node --import tsx src/main.ts`): a bad configuration exits non-zero with
// one clear line per problem; SIGTERM stops taking connections, lets in-flight requests finish, and
// exits 0; at trace level its logs carry no token.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring } from '@signals/crypto';
import { createTestDatabase, type TestDatabase } from '@signals/db/testing';
import { createUser } from '../src/services/users.js';
import { callTrpc, trpcData } from './support.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const SERVER_DIR = fileURLToPath(new URL('..', import.meta.url));

interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<Exited>;
}

/** A clean environment: nothing of ours leaks in from the test run's own. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, NODE_ENV: 'production', ...extra };
}

function startMain(env: NodeJS.ProcessEnv): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: SERVER_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<Exited>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a bad configuration', () => {
  it('exits 2 before doing anything, with exactly one clear line per problem and no key material', async () => {
    const secret = 'c2VjcmV0LWtleS1tYXRlcmlhbC10b28tc2hvcnQ';
    const { code, stdout, stderr } = await startMain(
      baseEnv({
        PORT: 'eighty',
        LOG_LEVEL: 'loud',
        DATABASE_URL: 'mysql://root@db/signals',
        SIGNALS_MASTER_KEYS: `main1:${secret}`,
        SIGNALS_DB_TIMEOUT_MS: 'soon',
        SIGNALS_RATE_LIMIT_BURST: '0',
        SIGNALS_CORS_ORIGINS: '*',
      }),
    ).exited;
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.trim().split('\n');
    expect(lines.map((l) => l.split(':')[1]?.trim())).toEqual([
      'DATABASE_URL',
      'PORT',
      'LOG_LEVEL',
      'SIGNALS_DB_TIMEOUT_MS',
      'SIGNALS_RATE_LIMIT_BURST',
      'SIGNALS_CORS_ORIGINS',
      'SIGNALS_MASTER_KEYS',
    ]);
    for (const line of lines) {
      expect(line).toMatch(/^config: [A-Z_]+: \S.{8,}$/);
      expect(line.length).toBeLessThan(200);
    }
    expect(stderr).not.toContain(secret);
    expect(stderr).not.toContain(secret.slice(0, 12));
  }, 20_000);

  it('exits 2 in production without master keys, saying how to make one', async () => {
    const { code, stderr } = await startMain(baseEnv({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' })).exited;
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('config: SIGNALS_MASTER_KEYS: required in production (generate one with `pnpm signals keys generate`)');
  }, 20_000);
});

describe('SIGTERM', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.destroy());

  it('drains the in-flight request (which completes), refuses new connections, and exits 0', async () => {
    const server = startMain(
      baseEnv({ DATABASE_URL: db.url, PORT: '0', SIGNALS_MASTER_KEYS: Keyring.generateEntry('main1'), LOG_LEVEL: 'trace', SIGNALS_SLOW_QUERY_MS: '0' }),
    );
    try {
      const url = await waitFor('the server to listen', () => /signals listening on (http:\/\/[0-9.:]+)/.exec(server.stdout())?.[1], 30_000);
      const owner = await createUser(db.knex, { name: 'olivia', role: 'owner' });
      const created = await callTrpc(url, 'signals.create', { type: 'mutation', token: owner.token, input: { instrument: 'XAUUSD', side: 'buy', entryPrice: '1' } });
      const { id } = trpcData<{ id: string }>(created);

      // A slow request: its update waits on a row lock the test holds.
      const lock = await db.knex.transaction();
      await lock('signals').where('id', id).forUpdate().first();
      const slow = callTrpc(url, 'signals.update', { type: 'mutation', token: owner.token, input: { id, expectedVersion: 1, patch: { entryPrice: '2' } } });
      await waitFor('the update to wait on the lock', async () => {
        const waiting = await db.knex('pg_stat_activity').where({ application_name: 'signals-server', wait_event_type: 'Lock' }).count({ n: '*' }).first();
        return Number(waiting?.n) > 0 ? true : undefined;
      });

      server.child.kill('SIGTERM');
      await waitFor('the drain to start', () => (server.stdout().includes('draining in-flight requests') ? true : undefined));
      // No new connections while draining.
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
      let exitedEarly = false;
      void server.exited.then(() => (exitedEarly = true));
      await new Promise((r) => setTimeout(r, 500));
      expect(exitedEarly, 'exited with a request in flight').toBe(false);

      const releasedAt = performance.now();
      await lock.rollback();
      const answer = await slow;
      expect(answer.status, answer.text).toBe(200);
      expect(trpcData<{ entryPrice: string; version: number }>(answer)).toMatchObject({ entryPrice: '2', version: 2 });
      const exit = await server.exited;
      const drainMs = performance.now() - releasedAt;
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(exit.stdout).toContain('"msg":"stopped"');
      expect((await db.knex('signals').where('id', id).first()).entry_price).toBe('2');
      // At trace level, with every query logged: no token, no hash of it.
      expect(exit.stdout + exit.stderr).not.toContain(owner.token);
      expect(exit.stdout).toContain('"slowQuery"');
      console.log(`process: SIGTERM drained the in-flight update and exited 0, ${Math.round(drainMs)} ms after its lock was released`);
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  }, 60_000);
});
