// Logs database queries slower than a threshold, at warn, with their SQL text and duration only:
// never their bindings, which carry row values (sealed payloads, token hashes, public payloads).
import type { Knex } from 'knex';
import type { Logger } from './logger.js';

const MAX_SQL_CHARS = 1000;

interface QueryData {
  __knexQueryUid?: string;
  sql?: string;
  method?: string;
}

/** `thresholdMs`: -1 logs nothing, 0 logs every query. Returns a function that removes the hook. */
export function logSlowQueries(knex: Knex, log: Logger, thresholdMs: number): () => void {
  if (thresholdMs < 0) return () => undefined;
  const started = new Map<string, number>();
  const onQuery = (q: QueryData) => {
    if (!q.__knexQueryUid) return;
    // Bounded: a query that never reports back must not grow the map forever.
    if (started.size >= 10_000) started.delete(started.keys().next().value as string);
    started.set(q.__knexQueryUid, performance.now());
  };
  const finish = (q: QueryData, failed: boolean) => {
    if (!q.__knexQueryUid) return;
    const start = started.get(q.__knexQueryUid);
    started.delete(q.__knexQueryUid);
    if (start === undefined) return;
    const durationMs = Math.round((performance.now() - start) * 10) / 10;
    if (durationMs < thresholdMs) return;
    const sql = typeof q.sql === 'string' ? q.sql.slice(0, MAX_SQL_CHARS) : undefined;
    log.warn({ slowQuery: { sql, method: q.method, durationMs, failed } }, `slow query: ${durationMs} ms`);
  };
  const onResponse = (_response: unknown, q: QueryData) => finish(q, false);
  const onError = (_error: unknown, q: QueryData) => finish(q, true);
  knex.on('query', onQuery);
  knex.on('query-response', onResponse);
  knex.on('query-error', onError);
  return () => {
    knex.removeListener('query', onQuery);
    knex.removeListener('query-response', onResponse);
    knex.removeListener('query-error', onError);
    started.clear();
  };
}
