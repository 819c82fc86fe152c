import knexFactory from 'knex';
import type { Knex } from 'knex';

export interface CreateKnexOptions {
  /** Connection pool bounds. Defaults: min 0 (no idle connections kept open), max 10. */
  pool?: { min?: number; max?: number };
  /** Server-side `statement_timeout` for every connection of the pool, in milliseconds (> 0). */
  statementTimeoutMs?: number;
  /** Shown in `pg_stat_activity.application_name`. Default `signals`. */
  applicationName?: string;
  /**
   * How long to wait for a connection, in milliseconds (> 0): both the pool's acquire timeout and
   * the driver's connect timeout. Default 30 000. With the database down, queries fail after at
   * most this long (usually at once: a refused connection is reported to the waiting query).
   */
  connectTimeoutMs?: number;
  /**
   * Where knex's own messages go (failed connection attempts, warnings). Default: knex's, which
   * writes to the console.
   */
  log?: Knex.Logger;
}

function positiveInteger(name: string, value: number | undefined): number | undefined {
  if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
    throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * A knex instance for PostgreSQL at `url` (`postgres://user:pass@host:port/db`).
 * Plain knex: identifiers are the real snake_case column names; the Objection
 * models map them to camelCase themselves (see BaseModel).
 */
export function createKnex(url: string, opts: CreateKnexOptions = {}): Knex {
  const connectTimeoutMs = positiveInteger('connectTimeoutMs', opts.connectTimeoutMs) ?? 30_000;
  const connection: Knex.PgConnectionConfig = {
    connectionString: url,
    application_name: opts.applicationName ?? 'signals',
    connectionTimeoutMillis: connectTimeoutMs,
    // Notices a peer that vanished without closing the connection (host down, network cut).
    keepAlive: true,
  };
  const statementTimeoutMs = positiveInteger('statementTimeoutMs', opts.statementTimeoutMs);
  // Sent in the startup packet of every new connection, so it holds per connection.
  if (statementTimeoutMs !== undefined) connection.statement_timeout = statementTimeoutMs;
  return knexFactory({
    client: 'pg',
    connection,
    pool: { min: opts.pool?.min ?? 0, max: opts.pool?.max ?? 10 },
    acquireConnectionTimeout: connectTimeoutMs,
    ...(opts.log ? { log: opts.log } : {}),
  });
}
