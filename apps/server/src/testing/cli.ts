// Test support for the CLI as an operator runs it: `pnpm signals …` is `tsx cli/main.ts …`, in a
// real process, on the database given.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args` against `databaseUrl`; never throws for a non-zero exit. */
export async function runCli(databaseUrl: string, ...args: string[]): Promise<CliRun> {
  try {
    const { stdout, stderr } = await run(TSX, [MAIN, ...args], { env: { ...process.env, DATABASE_URL: databaseUrl } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as CliRun;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
