// What every CLI command shares: output in human or --json form, errors that say what to do next,
// and a database connection resolved exactly as the server resolves it.
import type { Command } from 'commander';
import type { Knex } from 'knex';
import { TRPCError } from '@trpc/server';
import { ZodError, type z } from 'zod';
import { createKnex, migrationStatus, resolveDatabaseUrl } from '@signals/db';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { readOrCreateDevKeyring } from '../dev-keyring.js';
import { createDeps } from '../deps.js';
import { createLogger, stderrDestination } from '../logger.js';
import type { AppDeps } from '../context.js';
import { terminalProgress, type ProgressFactory } from '../jobs/progress.js';

export interface Output {
  json: boolean;
  /** Prints a result: its JSON on one line with --json, else the human lines. */
  result(value: unknown, human: string[]): void;
  info(message: string): void;
}

export function outputFor(cmd: Command): Output {
  const json = Boolean(cmd.optsWithGlobals().json);
  return {
    json,
    result(value, human) {
      process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human.join('\n')}\n`);
    },
    info(message) {
      // Progress and notes go to stderr so stdout stays machine-readable.
      process.stderr.write(`${message}\n`);
    },
  };
}

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

/** Parses a flag with a zod schema, naming the flag in the error. */
export function parseFlag<T extends z.ZodType>(flag: string, schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new CliError(`${flag}: ${parsed.error.issues.map((i) => i.message).join('; ')}`, 2);
  return parsed.data;
}

/** Opens the database the server uses (DATABASE_URL or the embedded one), checked to be migrated. */
export async function withDatabase<T>(out: Output, run: (knex: Knex) => Promise<T>): Promise<T> {
  const url = await resolveDatabaseUrl(process.env, (msg) => out.info(msg));
  const knex = createKnex(url, { applicationName: 'signals-cli', pool: { min: 0, max: 4 } });
  try {
    const status = await migrationStatus(knex);
    if (status.pending > 0) {
      throw new CliError(`The database has ${status.pending} pending migration(s). Run \`pnpm db:migrate\` first.`);
    }
    return await run(knex);
  } finally {
    await knex.destroy();
  }
}

export interface Services extends AppDeps {
  config: Config;
  progress: ProgressFactory;
}

/** The server's services (keyring from SIGNALS_MASTER_KEYS or the dev keyring) on its database. */
export async function withServices<T>(out: Output, run: (services: Services) => Promise<T>): Promise<T> {
  let config: Config;
  try {
    config = loadConfig(process.env, () => readOrCreateDevKeyring((w) => out.info(`warning: ${w}`)));
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
  return withDatabase(out, (knex) => {
    const log = createLogger(process.env.LOG_LEVEL ?? 'warn', stderrDestination());
    const deps = createDeps({ knex, keyring: config.keyring, legacyFernet: config.legacyFernet, log });
    return run({ ...deps, config, progress: terminalProgress });
  });
}

/** Wraps a command action: any failure becomes one clear line (or JSON) and a non-zero exit. */
export function action<A extends unknown[]>(run: (out: Output, ...args: A) => Promise<void>) {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as Command;
    const out = outputFor(cmd);
    try {
      await run(out, ...args);
    } catch (err) {
      const { message, code, exitCode } = describe(err);
      if (out.json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
      else process.stderr.write(`error: ${message}\n`);
      process.exitCode = exitCode;
    }
  };
}

function describe(err: unknown): { message: string; code: string; exitCode: number } {
  if (err instanceof CliError) return { message: err.message, code: 'USAGE', exitCode: err.exitCode };
  if (err instanceof TRPCError) return { message: err.message, code: err.code, exitCode: 1 };
  if (err instanceof ZodError) return { message: err.issues.map((i) => i.message).join('; '), code: 'BAD_REQUEST', exitCode: 2 };
  const e = err as { code?: string; message?: string };
  if (e?.code === 'ECONNREFUSED') {
    return { message: 'Cannot reach PostgreSQL. Check DATABASE_URL, or unset it to use the embedded database.', code: 'UNAVAILABLE', exitCode: 1 };
  }
  return { message: e?.message ?? String(err), code: 'INTERNAL', exitCode: 1 };
}
