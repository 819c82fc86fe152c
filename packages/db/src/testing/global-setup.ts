// The single globalSetup of the root vitest.workspace.ts: one PostgreSQL server
// for the whole run. DATABASE_URL's server when set, else a throwaway embedded
// cluster. Test files then create their own databases on it (createTestDatabase).
// Workers are forked after this runs and inherit process.env.
import { randomBytes } from 'node:crypto';
import { resolveDatabaseUrl, startThrowawayPostgres } from '../embedded.js';
import type { ThrowawayPostgres } from '../embedded.js';
import { TEST_DATABASE_PREFIX, withAdminClient } from './test-database.js';

export default async function setup(): Promise<() => Promise<void>> {
  const runId = randomBytes(4).toString('hex');
  process.env.SIGNALS_TEST_RUN_ID = runId;

  let throwaway: ThrowawayPostgres | undefined;
  let serverUrl: string;
  if (process.env.DATABASE_URL?.trim()) {
    serverUrl = await resolveDatabaseUrl(process.env); // validates it
  } else {
    throwaway = await startThrowawayPostgres();
    serverUrl = throwaway.url;
  }
  process.env.SIGNALS_TEST_PG_URL = serverUrl;
  const url = serverUrl;

  return async () => {
    if (throwaway) {
      await throwaway.stop();
      return;
    }
    // A shared server: drop whatever this run's test files did not (crashed files, missing afterAll).
    await withAdminClient(url, async (client) => {
      const pattern = `${TEST_DATABASE_PREFIX}${runId}_%`.replace(/_/g, '\\_');
      const { rows } = await client.query<{ datname: string }>(
        'select datname from pg_database where datname like $1',
        [pattern],
      );
      for (const { datname } of rows) {
        await client.query(`drop database if exists ${client.escapeIdentifier(datname)} with (force)`);
      }
    });
  };
}
