import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_EMBEDDED_PG_PORT,
  canAccess,
  copyDirectoryOnce,
  dataDirectory,
  ensureLocalPostgres,
  findRepoRoot,
  resolveDatabaseUrl,
  startThrowawayPostgres,
  stopLocalPostgres,
} from './embedded.js';
import type { ThrowawayPostgres } from './embedded.js';

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** [ppid, pgrp, session] of a process, from /proc/<pid>/stat. */
function procStat(pid: number): [number, number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(fields[1]), Number(fields[2]), Number(fields[3])];
}

const answers = (url: string) =>
  query<{ ok: number }>(url, 'select 1 as ok').then(
    () => true,
    () => false,
  );

describe('startThrowawayPostgres', () => {
  it('starts a fresh cluster that answers, and stop() removes it', async () => {
    const throwaway = await startThrowawayPostgres();
    const url = new URL(throwaway.url);
    expect(url.hostname).toBe('127.0.0.1');
    const [row] = await query<{ dir: string; version: string }>(
      throwaway.url,
      "select current_setting('data_directory') as dir, current_setting('server_version_num') as version",
    );
    expect(row).toBeDefined();
    expect(row!.dir.startsWith(os.tmpdir())).toBe(true);
    expect(existsSync(row!.dir)).toBe(true);

    await throwaway.stop();
    await throwaway.stop(); // idempotent
    expect(existsSync(path.dirname(row!.dir))).toBe(false);
    expect(await answers(throwaway.url)).toBe(false);
  });
});

describe('ensureLocalPostgres / stopLocalPostgres', () => {
  let base: string;
  let dataDir: string;
  let port: number;
  let other: ThrowawayPostgres | undefined;
  const logs: string[] = [];
  const log = (msg: string) => logs.push(msg);

  beforeAll(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'signals-db-test-'));
    await chmod(base, 0o755); // as root, the server runs as the postgres OS user
    dataDir = path.join(base, 'postgres');
    port = await freePort();
  });
  afterAll(async () => {
    await stopLocalPostgres({ dataDir, log }).catch(() => undefined);
    await other?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('creates, starts (concurrent callers agree) and keeps a detached cluster with the signals database', async () => {
    expect(await stopLocalPostgres({ dataDir, port, log })).toBe(false); // nothing there yet

    const urls = await Promise.all([ensureLocalPostgres({ dataDir, port, log }), ensureLocalPostgres({ dataDir, port, log })]);
    expect(urls).toEqual([`postgres://signals:signals@127.0.0.1:${port}/signals`, urls[0]]);
    expect(logs.some((m) => m.includes(`on port ${port}`) && m.startsWith('starting embedded PostgreSQL'))).toBe(true);
    expect(existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);
    expect(existsSync(path.join(base, 'postgres.log'))).toBe(true);
    await query(urls[0]!, 'create table kept (x int); insert into kept values (42)');

    // Already running: just connects.
    logs.length = 0;
    expect(await ensureLocalPostgres({ dataDir, port, log })).toBe(urls[0]);
    expect(logs).toEqual([]);

    // Detached: the postmaster is neither our child nor in our session, so it
    // outlives this process and a Ctrl-C in our terminal does not reach it.
    const postmasterPid = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const [ppid, , session] = procStat(postmasterPid);
    const [, , ourSession] = procStat(process.pid);
    expect(ppid).not.toBe(process.pid);
    expect(session).not.toBe(ourSession);

    expect(await stopLocalPostgres({ dataDir, log })).toBe(true);
    expect(await answers(urls[0]!)).toBe(false);
    expect(await stopLocalPostgres({ dataDir, log })).toBe(false);

    // Starts again on the same data.
    expect(await ensureLocalPostgres({ dataDir, port, log })).toBe(urls[0]);
    expect(await query<{ x: number }>(urls[0]!, 'select x from kept')).toEqual([{ x: 42 }]);

    // Asked for another port while it runs on this one: a clear error, not a hang.
    await expect(ensureLocalPostgres({ dataDir, port: await freePort(), log })).rejects.toThrow(
      new RegExp(`already running on port ${port}`),
    );
  });

  it('resolveDatabaseUrl uses it when DATABASE_URL is absent', async () => {
    const env = { SIGNALS_DATA_DIR: base, SIGNALS_EMBEDDED_PG_PORT: String(port) };
    expect(await resolveDatabaseUrl(env, log)).toBe(`postgres://signals:signals@127.0.0.1:${port}/signals`);
  });

  it('refuses a port held by another cluster', async () => {
    other = await startThrowawayPostgres();
    const otherPort = Number(new URL(other.url).port);
    await expect(ensureLocalPostgres({ dataDir, port: otherPort, log })).rejects.toThrow(/another embedded PostgreSQL/);
  });
});

// CI may clone the repository where the `postgres` OS user (which runs PostgreSQL when we are root)
// cannot reach it, e.g. under /root (0700). These cover the pieces that handle that.
describe('a checkout the server OS user cannot reach', () => {
  const isRoot = process.getuid?.() === 0;
  const nobody = { uid: 65534, gid: 65534 };
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'signals-db-access-')); // 0700, like /root
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it.skipIf(!isRoot)('canAccess checks every directory on the path as that user', async () => {
    const dir = path.join(base, 'open');
    await mkdir(dir, { mode: 0o755 });
    await writeFile(path.join(dir, 'file'), 'x', { mode: 0o644 });
    expect(await canAccess(nobody, path.join(dir, 'file'), 'r')).toBe(false); // base is 0700
    expect(await canAccess(nobody, dir, 'x')).toBe(false);
    expect(await canAccess({ uid: 0, gid: 0 }, path.join(dir, 'file'), 'r')).toBe(true);
    await chmod(base, 0o711);
    try {
      expect(await canAccess(nobody, path.join(dir, 'file'), 'r')).toBe(true);
      expect(await canAccess(nobody, path.join(dir, 'file'), 'w')).toBe(false);
    } finally {
      await chmod(base, 0o700);
    }
  });

  it('copyDirectoryOnce copies once, atomically, world-readable, keeping symlinks', async () => {
    const source = path.join(base, 'native');
    await mkdir(path.join(source, 'lib'), { recursive: true, mode: 0o755 });
    await writeFile(path.join(source, 'lib', 'libpq.so.5.18'), 'elf', { mode: 0o755 });
    await symlink('libpq.so.5.18', path.join(source, 'lib', 'libpq.so.5'));
    const target = path.join(os.tmpdir(), `signals-db-copy-${process.pid}-${Date.now()}`);
    try {
      await Promise.all([copyDirectoryOnce(source, target), copyDirectoryOnce(source, target)]); // racing callers
      expect((await lstat(target)).mode & 0o777).toBe(0o755);
      expect(await readlink(path.join(target, 'lib', 'libpq.so.5'))).toBe('libpq.so.5.18');
      expect(await readFile(path.join(target, 'lib', 'libpq.so.5'), 'utf8')).toBe('elf');
      if (isRoot) expect(await canAccess(nobody, path.join(target, 'lib', 'libpq.so.5'), 'r')).toBe(true);
      // An existing copy is reused as is; no staging directories are left behind.
      await rm(source, { recursive: true });
      await copyDirectoryOnce(source, target);
      expect(existsSync(path.join(target, 'lib', 'libpq.so.5.18'))).toBe(true);
      const leftovers = readdirSync(os.tmpdir()).filter((name) => name.startsWith(`${path.basename(target)}.tmp-`));
      expect(leftovers).toEqual([]);
      // A copy others can write to is not trusted (we run binaries from it).
      await chmod(target, 0o777);
      await expect(copyDirectoryOnce(source, target)).rejects.toThrow(/only we can write to/);
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  });

  it.skipIf(!isRoot)('ensureLocalPostgres refuses a data directory the server OS user cannot reach, naming it', async () => {
    const dataDir = path.join(base, 'data', 'postgres');
    await expect(ensureLocalPostgres({ dataDir, port: await freePort(), log: () => undefined })).rejects.toThrow(
      new RegExp(`cannot reach ${path.join(base, 'data')} .*SIGNALS_DATA_DIR`),
    );
  });
});

describe('resolveDatabaseUrl', () => {
  it('returns DATABASE_URL as is when it is a PostgreSQL URL', async () => {
    for (const url of ['postgres://u:p@db.example:5433/app?sslmode=require', 'postgresql://localhost/app']) {
      expect(await resolveDatabaseUrl({ DATABASE_URL: url })).toBe(url);
    }
  });

  it('rejects other URLs clearly, without echoing secrets', async () => {
    await expect(resolveDatabaseUrl({ DATABASE_URL: 'mysql://u:s3cret@host/db' })).rejects.toThrow(
      /^DATABASE_URL must be a PostgreSQL URL \(postgres:\/\/ or postgresql:\/\/\), got a mysql:\/\/ URL$/,
    );
    const error = await resolveDatabaseUrl({ DATABASE_URL: '//u:s3cret@host:5432/db' }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/DATABASE_URL is not a valid URL/);
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('rejects a bad SIGNALS_EMBEDDED_PG_PORT', async () => {
    await expect(resolveDatabaseUrl({ SIGNALS_EMBEDDED_PG_PORT: 'abc' })).rejects.toThrow(/SIGNALS_EMBEDDED_PG_PORT/);
  });
});

describe('locations', () => {
  it('finds the repository root and the data directory', () => {
    const root = findRepoRoot();
    expect(existsSync(path.join(root, 'pnpm-workspace.yaml'))).toBe(true);
    expect(fileURLToPath(import.meta.url).startsWith(root)).toBe(true);
    expect(dataDirectory({})).toBe(path.join(root, '.data'));
    expect(dataDirectory({ SIGNALS_DATA_DIR: '/srv/signals' })).toBe('/srv/signals');
    expect(DEFAULT_EMBEDDED_PG_PORT).toBe(54329);
  });
});
