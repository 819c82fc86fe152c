import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import pg from 'pg';
import { createKnex } from '../connection.js';
import { migrateLatest } from '../migrate.js';

export interface TestDatabase {
  /** URL of the new database. */
  url: string;
  /** A knex bound to it (pool of at most 5). */
  knex: Knex;
  /** Closes `knex` and drops the database. Idempotent. */
  destroy(): Promise<void>;
}

/** Prefix of every test database; global-setup adds the run's id after it. */
export const TEST_DATABASE_PREFIX = 'signals_test_';

/** The server that test databases are created on (set by the root Vitest global setup). */
export function testServerUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.SIGNALS_TEST_PG_URL ?? env.DATABASE_URL;
  if (!url) {
    throw new Error(
      'SIGNALS_TEST_PG_URL is not set: run tests through the root config ' +
        '(pnpm exec vitest run --config vitest.workspace.ts), whose global setup provides a PostgreSQL',
    );
  }
  return url;
}

/** `serverUrl` with its database replaced by `database` (user, host, port and query kept). */
export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

export async function withAdminClient<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, application_name: 'signals-test-admin' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates a uniquely named database (`signals_test_<run>_<random>`) on the test
 * server, migrated to the latest schema unless `migrate: false`, with a knex
 * bound to it. Call it in beforeAll and `destroy()` in afterAll: every test file
 * gets its own database, so files run in parallel without interfering.
 */
export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  const run = process.env.SIGNALS_TEST_RUN_ID ?? randomBytes(3).toString('hex');
  const name = `${TEST_DATABASE_PREFIX}${run}_${randomBytes(6).toString('hex')}`;
  await withAdminClient(serverUrl, (client) => client.query(`create database ${client.escapeIdentifier(name)}`));

  const url = withDatabase(serverUrl, name);
  const knex = createKnex(url, { pool: { max: 5 }, applicationName: 'signals-test' });
  let destroyed: Promise<void> | undefined;
  const destroy = () => {
    destroyed ??= (async () => {
      await knex.destroy();
      await withAdminClient(serverUrl, (client) =>
        client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`),
      );
    })();
    return destroyed;
  };

  try {
    if (opts.migrate ?? true) await migrateLatest(knex);
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
  return { url, knex, destroy };
}
