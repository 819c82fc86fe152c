// Child processes of the benchmark (the re-encryption worker, the API server): plain Node with tsx
// loaded, so that their memory and CPU are their own and `--cpu-prof` profiles only them.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildOptions {
  /** Where to write a V8 CPU profile of the child (`--cpu-prof`), if anywhere. */
  cpuProfDir?: string | undefined;
  env: Record<string, string>;
  /** More flags for node, such as --trace-gc. */
  nodeFlags?: string[];
}

export function spawnTs(script: string, opts: ChildOptions): ChildProcess {
  const args = ['--import', 'tsx', ...(opts.nodeFlags ?? [])];
  if (opts.cpuProfDir) {
    mkdirSync(opts.cpuProfDir, { recursive: true });
    args.push('--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir);
  }
  // node itself, not the tsx wrapper: killing the wrapper would leave its child running.
  return spawn(process.execPath, [...args, script], {
    cwd: repoRoot,
    env: { ...process.env, ...opts.env },
    // stdin is a pipe so that a child notices its parent's end (stdin closes) and exits.
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}

/** What a child writes before its report, on a line of its own, so that log lines are told apart. */
export const REPORT_MARK = 'BENCH-REPORT ';
/** Marks a phase of the child's work on its stdout, e.g. `BENCH-PHASE start`. */
export const PHASE_MARK = 'BENCH-PHASE ';

/**
 * The child's report: the first stdout line that starts with REPORT_MARK, parsed as JSON. Every
 * other line goes to `onLine` when given (true: consumed), else on to our stderr, before and after
 * the report, so the pipe never fills up.
 */
export function report<T>(child: ChildProcess, what: string, onLine?: (line: string) => boolean): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let buffered = '';
    let done = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!done && line.startsWith(REPORT_MARK)) {
          done = true;
          try {
            resolve(JSON.parse(line.slice(REPORT_MARK.length)) as T);
          } catch {
            reject(new Error(`${what} wrote a report that is not JSON: ${line.slice(0, 200)}`));
          }
        } else if (!onLine?.(line)) {
          process.stderr.write(`[${what}] ${line}\n`);
        }
      }
    });
    child.once('exit', (code, signal) => {
      if (!done) reject(new Error(`${what} exited (${signal ?? code}) before reporting`));
    });
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
