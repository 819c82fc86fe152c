// Clear, safe messages for errors raised before a procedure's own code runs (the HTTP adapter, the
// JSON and superjson decoders). Their own messages either say little ("PAYLOAD_TOO_LARGE") or quote
// the request (JSON.parse shows the text around the error), and a request may hold owner-only data.
import { TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import { MAX_BODY_BYTES } from './limits.js';

/** A replacement message for `error`, or null to keep its own. */
export function clearMessage(error: TRPCError): string | null {
  if (error.code === 'PAYLOAD_TOO_LARGE' && error.message === 'PAYLOAD_TOO_LARGE') {
    return `The request body is larger than the limit of ${MAX_BODY_BYTES} bytes.`;
  }
  const cause = error.cause;
  if (error.code === 'BAD_REQUEST' && cause instanceof Error && !(cause instanceof ZodError) && !(cause instanceof TRPCError)) {
    // Only decoding the input fails this way: our own refusals are TRPCErrors without a cause.
    if (cause instanceof SyntaxError) {
      const position = /at position (\d+)/.exec(cause.message)?.[1];
      return `Invalid input: not valid JSON${position ? ` (at position ${position})` : ''}.`;
    }
    return 'Invalid input: the request could not be decoded (JSON input in the superjson format that @signals/client sends).';
  }
  return null;
}
