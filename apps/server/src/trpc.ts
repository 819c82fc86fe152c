// The one initTRPC of the server: error shape, the rules-checking `procedure`, and database error
// mapping. Every router builds on `procedure`; nothing is decided ad hoc inside a handler.
import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import type { Context } from './context.js';
import { ruleFor } from './access/rules.js';
import { mapDatabaseError } from './http/database-errors.js';
import { deadlineOf, withDeadline } from './http/deadline.js';
import { clearMessage } from './http/error-messages.js';
import { transformer } from './http/input-transformer.js';
import { VaultError } from './vault/owner-only-vault.js';
import { rawInputProblem } from './schemas/json.js';

const t = initTRPC.context<Context>().create({
  // superjson, with raw input checked before superjson copies it (see http/input-transformer.ts).
  transformer,
  // Subscriptions over server-sent events (signals.onChange): a ping comment keeps proxies from
  // cutting an idle stream, and a client that hears nothing for longer reconnects by itself,
  // resuming from the last event id it got.
  sse: { ping: { enabled: true, intervalMs: 15_000 }, client: { reconnectAfterInactivityMs: 40_000 } },
  // Stack traces never leave the server, in any environment.
  isDev: false,
  errorFormatter({ shape, error }) {
    const zodError = error.cause instanceof ZodError ? error.cause : null;
    const fieldErrors = zodError ? zodError.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })) : null;
    const signalsCode = error.cause instanceof VaultError ? error.cause.code : null;
    let message = shape.message;
    if (zodError) message = `Invalid input: ${fieldErrors!.map((f) => (f.path ? `${f.path}: ${f.message}` : f.message)).join('; ')}`;
    else if (error.code === 'INTERNAL_SERVER_ERROR' && !signalsCode) message = 'Internal server error';
    else message = clearMessage(error) ?? message;
    return {
      ...shape,
      message,
      data: { code: shape.data.code, httpStatus: shape.data.httpStatus, path: shape.data.path, fieldErrors, signalsCode },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const mergeRouters = t.mergeRouters;

/** Maps database and vault failures to stable API errors, whatever procedure they come from. */
function mapFailure<R extends { ok: boolean; error?: TRPCError }>(result: R): R {
  if (result.ok) return result;
  const cause = result.error?.cause ?? result.error;
  const mapped = mapDatabaseError(cause);
  if (mapped) throw mapped;
  if (cause instanceof VaultError) throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: cause.message, cause });
  return result;
}

/**
 * Looks the procedure up in the rules table: unknown procedures and wrong roles are refused. The
 * rule goes on in `ctx.rule`, so handlers pass its row rule to the services instead of deciding.
 */
function ruleOf(ctx: Context, path: string) {
  const rule = ruleFor(path);
  if (!rule) throw new TRPCError({ code: 'FORBIDDEN', message: `No access rule is defined for ${path}.` });
  if (rule.roles === 'public') return rule;
  if (!ctx.user) {
    throw new TRPCError({
      code: 'UNAUTHORIZED',
      message: ctx.presentedCredentials ? 'The token is invalid, revoked, or its user is disabled.' : 'Send `Authorization: Bearer <token>`.',
    });
  }
  if (!rule.roles.includes(ctx.user.role)) {
    throw new TRPCError({ code: 'FORBIDDEN', message: `The ${ctx.user.role} role may not call ${path}.` });
  }
  return rule;
}

/**
 * Every procedure, in this order: the rule enforced (use `requireUser` where it names roles), raw
 * input that could pollute prototypes or exhaust the stack refused before zod sees it, the request
 * deadline kept, and database and vault failures mapped.
 *
 * The deadline is deps.requestTimeoutMs, counted from the request's arrival when it came over HTTP
 * (see http/deadline.ts): a call still running then is answered TIMEOUT. Its work is abandoned, not
 * undone: the statement timeout stops its queries, and a write it was finishing may still commit
 * (publish with externalId to retry safely).
 *
 * One middleware rather than four: tRPC copies its options at every middleware, and on a batch of
 * small calls those copies were the largest single cost of the server (docs/performance.md).
 */
const guard = t.middleware(async ({ ctx, path, getRawInput, next }) => {
  const rule = ruleOf(ctx, path);
  const problem = rawInputProblem(await getRawInput());
  if (problem) throw new TRPCError({ code: 'BAD_REQUEST', message: `Invalid input: ${problem}` });
  const ms = ctx.deps.requestTimeoutMs;
  const result = next({ ctx: { rule } });
  return mapFailure(await (ms ? withDeadline(result, deadlineOf(ctx) ?? Date.now() + ms, ms) : result));
});

export const procedure = t.procedure.use(guard);

/** Narrows ctx.user for procedures whose rule requires a role. */
export function requireUser(ctx: Context) {
  if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Send `Authorization: Bearer <token>`.' });
  return ctx.user;
}
