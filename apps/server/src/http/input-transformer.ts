// The tRPC transformer: superjson's format both ways. In, the raw input is checked before superjson
// copies it: the copy silently drops `__proto__` keys, so the check in trpc.ts (the `guard`
// middleware) can no longer see them afterwards; here they, and input nested too deep, are refused
// with a 400 that says so. Out, http/output-serializer.ts writes the format fast.
import { TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { rawInputProblem } from '../schemas/json.js';
import { serializeOutput } from './output-serializer.js';

type Serialized = Parameters<typeof superjson.deserialize>[0];

export const inputTransformer = {
  serialize: (value: unknown) => superjson.serialize(value),
  deserialize: (payload: unknown) => {
    const problem = rawInputProblem((payload as { json?: unknown } | null)?.json);
    if (problem) throw new TRPCError({ code: 'BAD_REQUEST', message: `Invalid input: ${problem}` });
    return superjson.deserialize(payload as Serialized);
  },
};

/** For initTRPC: guarded superjson in; out, superjson's format written fast (http/output-serializer.ts). */
export const transformer = { input: inputTransformer, output: { serialize: serializeOutput, deserialize: (payload: Serialized) => superjson.deserialize(payload) } };
