// Helpers for the hardening tests: raw tRPC calls over HTTP, and fingerprints of the whole database.
import type { Knex } from 'knex';
import superjson from 'superjson';

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  json: unknown;
  ms: number;
}

export interface TrpcErrorBody {
  message: string;
  code: number;
  data: { code: string; httpStatus: number; path: string | null; signalsCode?: string | null; fieldErrors?: unknown };
}

/** Sends one HTTP request and keeps everything about the answer. */
export async function send(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<RawResponse> {
  const started = performance.now();
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 10_000) });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json, ms: performance.now() - started };
}

/** One tRPC call as @signals/client would send it (superjson), without batching. */
export function callTrpc(
  base: string,
  path: string,
  opts: { type: 'query' | 'mutation'; input?: unknown; token?: string | null; headers?: Record<string, string> },
): Promise<RawResponse> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const encoded = opts.input === undefined ? undefined : JSON.stringify(superjson.serialize(opts.input));
  if (opts.type === 'query') {
    const query = encoded === undefined ? '' : `?input=${encodeURIComponent(encoded)}`;
    return send(`${base}/trpc/${path}${query}`, { method: 'GET', headers });
  }
  headers['content-type'] = 'application/json';
  return send(`${base}/trpc/${path}`, { method: 'POST', headers, ...(encoded === undefined ? {} : { body: encoded }) });
}

/** The tRPC error of a response (superjson envelope; of a batch: the first), or undefined if none. */
export function trpcError(response: RawResponse): TrpcErrorBody | undefined {
  const json = Array.isArray(response.json) ? (response.json as unknown[]).find((r) => (r as { error?: unknown })?.error) : response.json;
  return (json as { error?: { json?: TrpcErrorBody } } | undefined)?.error?.json;
}

/** The result data of a successful non-batch response, deserialized. */
export function trpcData<T = unknown>(response: RawResponse): T {
  const body = response.json as { result?: { data?: { json: unknown; meta?: unknown } } };
  if (!body?.result?.data) throw new Error(`not a tRPC result (HTTP ${response.status}): ${response.text.slice(0, 500)}`);
  return superjson.deserialize(body.result.data as Parameters<typeof superjson.deserialize>[0]) as T;
}

/** Columns that change on a read by design (the token's last use), left out of fingerprints. */
const VOLATILE_COLUMNS = new Set(['api_tokens.last_used_at']);

/** Every base table of the public schema. */
export async function tableNames(knex: Knex): Promise<string[]> {
  const rows = (await knex('information_schema.tables')
    .where({ table_schema: 'public', table_type: 'BASE TABLE' })
    .orderBy('table_name')
    .select('table_name')) as { table_name: string }[];
  return rows.map((r) => r.table_name);
}

/**
 * Row count and a digest of every row of every table, in one query: equal fingerprints mean no row
 * was added, removed or changed (apart from VOLATILE_COLUMNS).
 */
export async function fingerprint(knex: Knex): Promise<Record<string, string>> {
  const tables = await tableNames(knex);
  const parts = tables.map((table) => {
    const drop = [...VOLATILE_COLUMNS].filter((c) => c.startsWith(`${table}.`)).map((c) => ` - '${c.split('.')[1]}'`).join('');
    return knex.raw(
      `select ? as t, count(*)::text || ':' || coalesce(md5(string_agg((to_jsonb(x)${drop})::text, ',' order by (to_jsonb(x)${drop})::text)), '-') as f from ?? x`,
      [table, table],
    );
  });
  const rows = (await knex.raw(parts.map(() => '(?)').join(' union all '), parts)).rows as { t: string; f: string }[];
  return Object.fromEntries(rows.map((r) => [r.t, r.f]));
}

/** Row counts of every table. */
export async function rowCounts(knex: Knex): Promise<Record<string, number>> {
  const fp = await fingerprint(knex);
  return Object.fromEntries(Object.entries(fp).map(([t, f]) => [t, Number(f.split(':')[0])]));
}
