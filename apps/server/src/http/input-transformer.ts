// superjson, with the raw input checked before superjson copies it. The copy silently drops
// `__proto__` keys, so the check in trpc.ts (the `guard` middleware) can no longer see them afterwards;
// here they, and input nested too deep, are refused with a 400 that says so.
import { TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { rawInputProblem } from '../schemas/json.js';

type Serialized = Parameters<typeof superjson.deserialize>[0];

export const inputTransformer = {
  serialize: (value: unknown) => superjson.serialize(value),
  deserialize: (payload: unknown) => {
    const problem = rawInputProblem((payload as { json?: unknown } | null)?.json);
    if (problem) throw new TRPCError({ code: 'BAD_REQUEST', message: `Invalid input: ${problem}` });
    return superjson.deserialize(payload as Serialized);
  },
};

/** For initTRPC: guarded superjson in, plain superjson out. */
export const transformer = { input: inputTransformer, output: superjson };
