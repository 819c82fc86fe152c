import knexFactory from 'knex';
import type { Knex } from 'knex';

export interface CreateKnexOptions {
  /** Connection pool bounds. Defaults: min 0 (no idle connections kept open), max 10. */
  pool?: { min?: number; max?: number };
  /** Server-side `statement_timeout` for every connection of the pool, in milliseconds (> 0). */
  statementTimeoutMs?: number;
  /** Shown in `pg_stat_activity.application_name`. Default `signals`. */
  applicationName?: string;
}

/**
 * A knex instance for PostgreSQL at `url` (`postgres://user:pass@host:port/db`).
 * Plain knex: identifiers are the real snake_case column names; the Objection
 * models map them to camelCase themselves (see BaseModel).
 */
export function createKnex(url: string, opts: CreateKnexOptions = {}): Knex {
  const connection: Knex.PgConnectionConfig = {
    connectionString: url,
    application_name: opts.applicationName ?? 'signals',
  };
  if (opts.statementTimeoutMs !== undefined) {
    if (!Number.isInteger(opts.statementTimeoutMs) || opts.statementTimeoutMs <= 0) {
      throw new TypeError(`statementTimeoutMs must be a positive integer, got ${String(opts.statementTimeoutMs)}`);
    }
    // Sent in the startup packet of every new connection, so it holds per connection.
    connection.statement_timeout = opts.statementTimeoutMs;
  }
  return knexFactory({
    client: 'pg',
    connection,
    pool: { min: opts.pool?.min ?? 0, max: opts.pool?.max ?? 10 },
    acquireConnectionTimeout: 30_000,
  });
}
