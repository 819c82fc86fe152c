import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import setup from './global-setup.js';
import { createTestDatabase, testServerUrl, withDatabase } from './test-database.js';
import type { TestDatabase } from './test-database.js';

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: testServerUrl() });
  await client.connect();
  try {
    return ((await client.query('select 1 from pg_database where datname = $1', [name])).rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

const nameOf = (db: TestDatabase) => decodeURIComponent(new URL(db.url).pathname.slice(1));

describe('createTestDatabase', () => {
  let migrated: TestDatabase;
  let empty: TestDatabase;
  beforeAll(async () => {
    [migrated, empty] = await Promise.all([createTestDatabase(), createTestDatabase({ migrate: false })]);
  });
  afterAll(async () => {
    await migrated?.destroy();
    await empty?.destroy();
  });

  it('runs under the global setup, which provides the server', () => {
    expect(process.env.SIGNALS_TEST_PG_URL).toMatch(/^postgres(ql)?:\/\//);
    expect(process.env.SIGNALS_TEST_RUN_ID).toMatch(/^[0-9a-f]{8}$/);
  });

  it('creates uniquely named databases of this run on the test server', async () => {
    const names = [nameOf(migrated), nameOf(empty)];
    for (const name of names) {
      expect(name).toMatch(new RegExp(`^signals_test_${process.env.SIGNALS_TEST_RUN_ID}_[0-9a-f]{12}$`));
      expect(await databaseExists(name)).toBe(true);
    }
    expect(names[0]).not.toBe(names[1]);
    const [{ db }] = (await migrated.knex.raw('select current_database() as db')).rows as [{ db: string }];
    expect(db).toBe(names[0]);
  });

  it('migrates by default, and not with migrate: false', async () => {
    expect(await migrated.knex.schema.hasTable('signals')).toBe(true);
    expect(await empty.knex.schema.hasTable('signals')).toBe(false);
    expect(await empty.knex.schema.hasTable('knex_migrations')).toBe(false);
  });

  it('destroy() drops the database, even with connections open, and is idempotent', async () => {
    const db = await createTestDatabase({ migrate: false });
    const name = nameOf(db);
    const extra = new pg.Client({ connectionString: db.url });
    extra.on('error', () => undefined);
    await extra.connect();
    await db.destroy();
    await db.destroy();
    expect(await databaseExists(name)).toBe(false);
    await extra.end().catch(() => undefined);
  });

  it('withDatabase swaps only the database of a URL', () => {
    expect(withDatabase('postgres://u:p@h:5433/postgres?sslmode=require', 'x_1')).toBe(
      'postgres://u:p@h:5433/x_1?sslmode=require',
    );
  });
});

describe('global setup on a shared server', () => {
  it("drops the databases its run left behind, and nobody else's", async () => {
    const saved = { ...process.env };
    const bystander = await createTestDatabase({ migrate: false });
    try {
      // Pretend DATABASE_URL names the shared server, as in CI's second pass.
      process.env.DATABASE_URL = testServerUrl();
      const teardown = await setup();
      expect(process.env.SIGNALS_TEST_RUN_ID).not.toBe(saved.SIGNALS_TEST_RUN_ID);
      const leftover = await createTestDatabase({ migrate: false });
      await leftover.knex.destroy(); // a test file that never called destroy()
      expect(await databaseExists(nameOf(leftover))).toBe(true);

      await teardown();
      expect(await databaseExists(nameOf(leftover))).toBe(false);
      expect(await databaseExists(nameOf(bystander))).toBe(true);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
      await bystander.destroy();
    }
  });
});
