// Database errors mapped to API errors in one place. Messages are ours: a driver's message can quote
// row values, so it is never passed on.
import { TRPCError } from '@trpc/server';

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND',
  '57P01', '57P02', '57P03', // admin shutdown, crash shutdown, cannot connect now
  '53300', // too many connections
  '08000', '08003', '08006', '08001', '08004', // connection exceptions
]);

interface DriverError { code?: unknown; name?: unknown; message?: unknown; constraint?: unknown }

export function mapDatabaseError(err: unknown): TRPCError | null {
  if (!err || typeof err !== 'object') return null;
  const e = err as DriverError;
  const code = typeof e.code === 'string' ? e.code : '';
  if (e.name === 'KnexTimeoutError' || UNAVAILABLE_CODES.has(code) || /Connection terminated/i.test(String(e.message))) {
    return new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'The database is unavailable; retry shortly.' });
  }
  if (code === '57014') return new TRPCError({ code: 'TIMEOUT', message: 'The request took too long and was cancelled.' });
  if (code === '40001' || code === '40P01') {
    return new TRPCError({ code: 'CONFLICT', message: 'A concurrent change got in the way; retry the request.' });
  }
  if (code === '23505') return new TRPCError({ code: 'CONFLICT', message: `Already exists (${String(e.constraint ?? 'unique constraint')}).` });
  if (code === '23503') return new TRPCError({ code: 'NOT_FOUND', message: 'A referenced record does not exist.' });
  if (code === '23514' || code === '22P02' || code === '22003' || code === '22007' || code === '22008') {
    return new TRPCError({ code: 'BAD_REQUEST', message: 'A value was rejected by the database.' });
  }
  return null;
}
