// A throwaway PostgreSQL that a test can stop (cleanly or as a crash) and start again on the same
// data and port. It takes over a cluster from startThrowawayPostgres(): the postmaster's own command
// line and OS user (from /proc; Linux, like the bundled binaries) are replayed to start it again, so
// nothing here needs to know where the binaries are or how the cluster was made.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createKnex, startThrowawayPostgres, type ThrowawayPostgres } from '@signals/db';

export interface RestartablePostgres {
  /** Server-level URL (database `postgres`). */
  url: string;
  /** Stops the server: 'fast' is a clean shutdown (SIGINT), 'immediate' a crash (SIGQUIT, recovery on start). */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same data directory and port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Freezes every PostgreSQL process (SIGSTOP): connections neither refused nor answered, a hung server. */
  freeze(): void;
  /** Lets a frozen server go on (SIGCONT). */
  thaw(): void;
  /** Stops it for good and deletes its files. */
  dispose(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}

async function accepts(url: string): Promise<boolean> {
  const quiet = () => undefined;
  const knex = createKnex(url, { pool: { max: 1 }, connectTimeoutMs: 1_000, log: { warn: quiet, error: quiet, debug: quiet } });
  try {
    await knex.raw('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await knex.destroy();
  }
}

/** The postmaster and all its descendants (backends, background workers). */
function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

function idsOf(pid: number): { uid: number; gid: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
  return { uid: field('Uid'), gid: field('Gid') };
}

/**
 * Starts a throwaway cluster and takes it over. Its settings are kept, except synchronous_commit,
 * which is turned back on: the throwaway default (off) may lose acknowledged commits in a crash,
 * which is what a test of acknowledged writes must not blame on the server.
 */
export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const throwaway: ThrowawayPostgres = await startThrowawayPostgres();
  const admin = createKnex(throwaway.url, { pool: { max: 1 } });
  const dataDir = ((await admin.raw('show data_directory')).rows as { data_directory: string }[])[0]!.data_directory;
  await admin.destroy();

  const postmasterPid = () => Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let pid = postmasterPid();
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const ids = idsOf(pid);
  const args = argv.slice(1).map((a) => (a === 'synchronous_commit=off' ? 'synchronous_commit=on' : a));
  let child: ChildProcess | undefined;
  const killChild = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
  };
  process.once('exit', killChild);

  const stop = async (mode: 'fast' | 'immediate') => {
    process.kill(pid, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    await waitUntil('PostgreSQL to stop', () => !alive(pid));
  };
  const start = async () => {
    const asOther = process.getuid?.() === 0 && ids.uid !== 0;
    child = spawn(argv[0]!, args, {
      stdio: 'ignore',
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG'))),
      ...(asOther ? { uid: ids.uid, gid: ids.gid } : {}),
    });
    child.unref();
    pid = child.pid!;
    await waitUntil('PostgreSQL to accept connections', () => accepts(throwaway.url));
  };

  // Take over: restart once under our own control, with synchronous commits.
  await stop('fast');
  await start();

  let frozen: number[] = [];
  const thaw = () => {
    for (const p of frozen) if (alive(p)) process.kill(p, 'SIGCONT');
    frozen = [];
  };
  return {
    url: throwaway.url,
    stop,
    start,
    freeze() {
      frozen = processTree(pid);
      for (const p of frozen) process.kill(p, 'SIGSTOP');
    },
    thaw,
    async dispose() {
      thaw();
      if (alive(pid)) await stop('fast');
      process.removeListener('exit', killChild);
      await throwaway.stop();
    },
  };
}
