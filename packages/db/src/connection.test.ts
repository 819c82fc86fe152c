import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKnex } from './connection.js';
import { createTestDatabase } from './testing/index.js';
import type { TestDatabase } from './testing/index.js';

describe('createKnex', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterAll(() => db?.destroy());

  it('sets statement_timeout and application_name on every connection', async () => {
    const knex = createKnex(db.url, { statementTimeoutMs: 300, applicationName: 'db-test', pool: { max: 2 } });
    try {
      // Two connections held at once (each transaction waits for the other): each carries the settings.
      let arrived = 0;
      let release = () => {};
      const bothIn = new Promise<void>((resolve) => (release = resolve));
      const rows = await Promise.all(
        [1, 2].map(() =>
          knex.transaction(async (trx) => {
            const { rows } = await trx.raw(
              "select current_setting('statement_timeout') as timeout, current_setting('application_name') as app, pg_backend_pid() as pid",
            );
            if (++arrived === 2) release();
            await bothIn;
            return rows[0] as { timeout: string; app: string; pid: number };
          }),
        ),
      );
      expect(new Set(rows.map((r) => r.pid)).size).toBe(2);
      for (const row of rows) expect(row).toMatchObject({ timeout: '300ms', app: 'db-test' });
      await expect(knex.raw('select pg_sleep(2)')).rejects.toMatchObject({ code: '57014' });
    } finally {
      await knex.destroy();
    }
  });

  it('leaves statement_timeout alone when not given', async () => {
    const knex = createKnex(db.url);
    try {
      const { rows } = await knex.raw("select current_setting('statement_timeout') as timeout, current_setting('application_name') as app");
      expect(rows[0].timeout).not.toBe('300ms');
      expect(rows[0].app).toBe('signals');
    } finally {
      await knex.destroy();
    }
  });

  it('rejects a nonsensical statement timeout', () => {
    expect(() => createKnex(db.url, { statementTimeoutMs: -1 })).toThrow(TypeError);
    expect(() => createKnex(db.url, { statementTimeoutMs: 1.5 })).toThrow(TypeError);
  });
});
