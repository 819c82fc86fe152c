import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { createTestDatabase } from './testing/index.js';
import type { TestDatabase } from './testing/index.js';
import {
  migrateLatest,
  migrateRollbackAll,
  migrationLoadExtensions,
  migrationsDirectory,
  migrationStatus,
} from './migrate.js';

const TABLES = ['api_tokens', 'approvals', 'owner_keys', 'signal_events', 'signals', 'subscriptions', 'users'];

describe('migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterAll(() => db?.destroy());

  const tables = async () =>
    (
      await db.knex('information_schema.tables').where({ table_schema: 'public' }).select('table_name').orderBy('table_name')
    ).map((r: { table_name: string }) => r.table_name);

  it('lists every .ts file of migrations/ as pending, in name order, like the knex CLI would', async () => {
    const files = (await readdir(migrationsDirectory)).filter((f) => f.endsWith('.ts')).sort();
    expect(files.length).toBeGreaterThanOrEqual(5);
    const status = await migrationStatus(db.knex);
    expect(status).toEqual({ completed: [], pendingFiles: files, pending: files.length });

    // The knexfile's filesystem configuration sees the same migrations under the same names.
    const [, fsPending] = (await db.knex.migrate.list({
      directory: migrationsDirectory,
      loadExtensions: migrationLoadExtensions,
    })) as [unknown[], Array<{ file: string }>];
    expect(fsPending.map((m) => m.file)).toEqual(files);
  });

  it('goes up, down to zero, and up again', async () => {
    const first = await migrateLatest(db.knex);
    expect(first.batch).toBe(1);
    expect(first.applied).toHaveLength((await migrationStatus(db.knex)).completed.length);
    expect(await tables()).toEqual(expect.arrayContaining(TABLES));
    expect((await migrationStatus(db.knex)).pending).toBe(0);
    expect(await migrateLatest(db.knex)).toEqual({ batch: 1, applied: [] });

    const down = await migrateRollbackAll(db.knex);
    expect(down.rolledBack).toEqual([...first.applied].reverse());
    expect(await tables()).toEqual(['knex_migrations', 'knex_migrations_lock']);
    expect((await migrationStatus(db.knex)).completed).toEqual([]);

    const again = await migrateLatest(db.knex);
    expect(again.applied).toEqual(first.applied);
    expect(await tables()).toEqual([...TABLES, 'knex_migrations', 'knex_migrations_lock'].sort());
  });

  it('creates the keyset indexes newest first', async () => {
    const rows = (await db.knex('pg_indexes').where({ tablename: 'signals' }).select('indexdef')) as Array<{
      indexdef: string;
    }>;
    const defs = rows.map((r) => r.indexdef.replace(/^.* USING btree /, ''));
    expect(defs).toEqual(
      expect.arrayContaining([
        '(owner_id, created_at DESC, id DESC)',
        '(status, created_at DESC, id DESC)',
        '(created_at DESC, id DESC)',
        '(owner_id, external_id)',
      ]),
    );
  });

  it('uses timestamptz for every timestamp column', async () => {
    const rows = (await db
      .knex('information_schema.columns')
      .where({ table_schema: 'public' })
      .whereLike('data_type', 'timestamp%')
      .select('table_name', 'column_name', 'data_type')) as Array<{ data_type: string }>;
    expect(rows.length).toBeGreaterThanOrEqual(10);
    for (const row of rows) expect(row).toMatchObject({ data_type: 'timestamp with time zone' });
  });
});
