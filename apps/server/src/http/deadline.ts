// One deadline per request (deps.requestTimeoutMs), shared by authentication (createContext) and
// the procedure (the `procedure` middleware in trpc.ts), so that together they take no longer.
import { TRPCError } from '@trpc/server';

const deadlines = new WeakMap<object, number>();

export function timeoutError(ms: number): TRPCError {
  return new TRPCError({ code: 'TIMEOUT', message: `The request took longer than ${ms} ms and was abandoned.` });
}

/** Runs `work`, failing with TIMEOUT at `deadline` (ms since the epoch). */
export async function withDeadline<T>(work: Promise<T>, deadline: number, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(timeoutError(ms)), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Remembers the request's deadline with its context object. */
export function setDeadline(ctx: object, deadline: number): void {
  deadlines.set(ctx, deadline);
}

/** The deadline set for this context, if any (contexts made without HTTP have none). */
export function deadlineOf(ctx: object): number | undefined {
  return deadlines.get(ctx);
}
