// Database errors mapped to API errors in one place. Messages are ours: a driver's message can quote
// row values, so it is never passed on.
import { TRPCError } from '@trpc/server';

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND',
  '57P01', '57P02', '57P03', // admin shutdown, crash shutdown, cannot connect now
  '53300', // too many connections
  '08000', '08003', '08006', '08001', '08004', // connection exceptions
]);

/**
 * node-postgres errors without a code for a connection that died under a query or a transaction
 * (e.g. "ROLLBACK - Client has encountered a connection error and is not queryable"), or that could
 * not be opened in time ("timeout expired": connectionTimeoutMillis).
 */
const CONNECTION_LOST = /Connection terminated|Connection ended unexpectedly|is not queryable|Query read timeout|^timeout expired$/i;

/** Values PostgreSQL refuses that validation let through: the caller's fault, so 400, said plainly. */
const REJECTED_VALUE: Record<string, string> = {
  '23514': 'it breaks a check constraint',
  '22P02': 'it is not in the expected format',
  '22003': 'a number is out of range',
  '22007': 'a date or time is invalid',
  '22008': 'a date or time is out of range',
  // PostgreSQL text and jsonb cannot hold the NUL character (U+0000); other text is stored as sent.
  '22021': 'text must not contain the NUL character (\\u0000)',
  '22P05': 'text must not contain the NUL character (\\u0000)',
};

interface DriverError { code?: unknown; name?: unknown; message?: unknown; constraint?: unknown }

export function mapDatabaseError(err: unknown): TRPCError | null {
  if (!err || typeof err !== 'object') return null;
  const e = err as DriverError;
  const code = typeof e.code === 'string' ? e.code : '';
  if (e.name === 'KnexTimeoutError' || UNAVAILABLE_CODES.has(code) || CONNECTION_LOST.test(String(e.message))) {
    return new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'The database is unavailable; retry shortly.' });
  }
  if (code === '57014') return new TRPCError({ code: 'TIMEOUT', message: 'The request took too long and was cancelled.' });
  if (code === '40001' || code === '40P01') {
    return new TRPCError({ code: 'CONFLICT', message: 'A concurrent change got in the way; retry the request.' });
  }
  if (code === '23505') return new TRPCError({ code: 'CONFLICT', message: `Already exists (${String(e.constraint ?? 'unique constraint')}).` });
  if (code === '23503') return new TRPCError({ code: 'NOT_FOUND', message: 'A referenced record does not exist.' });
  const rejected = Object.hasOwn(REJECTED_VALUE, code) ? REJECTED_VALUE[code] : undefined;
  if (rejected) return new TRPCError({ code: 'BAD_REQUEST', message: `A value was rejected by the database: ${rejected}.` });
  return null;
}
