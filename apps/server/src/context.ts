// The request context. The inner context needs no HTTP request, so tests build it directly and call
// procedures through `createCaller`; the Express one adds authentication from the request.
import type { Knex } from 'knex';
import type { CreateExpressContextOptions } from '@trpc/server/adapters/express';
import type { Logger } from './logger.js';
import type { OwnerOnlyVault } from './vault/owner-only-vault.js';
import type { OwnerKeys } from './vault/owner-keys.js';
import { authenticate, type AuthUser } from './auth/authenticate.js';

/** Long-lived services shared by every request. */
export interface AppDeps {
  knex: Knex;
  vault: OwnerOnlyVault;
  ownerKeys: OwnerKeys;
  log: Logger;
}

export interface Context {
  deps: AppDeps;
  user: AuthUser | null;
  requestId: string;
  log: Logger;
  /** Whether the request carried credentials at all (tells UNAUTHORIZED apart from "public"). */
  presentedCredentials: boolean;
}

export interface InnerContextOptions {
  deps: AppDeps;
  user?: AuthUser | null;
  requestId?: string;
  log?: Logger;
  presentedCredentials?: boolean;
}

export function createInnerContext(opts: InnerContextOptions): Context {
  const requestId = opts.requestId ?? crypto.randomUUID();
  return {
    deps: opts.deps,
    user: opts.user ?? null,
    requestId,
    log: opts.log ?? opts.deps.log.child({ requestId }),
    presentedCredentials: opts.presentedCredentials ?? Boolean(opts.user),
  };
}

export function createExpressContextFactory(deps: AppDeps) {
  return async ({ req }: CreateExpressContextOptions): Promise<Context> => {
    const authorization = req.headers.authorization;
    const user = await authenticate(deps.knex, authorization);
    const requestId = String(req.id ?? crypto.randomUUID());
    const log = (req.log as Logger | undefined) ?? deps.log.child({ requestId });
    return createInnerContext({ deps, user, requestId, log, presentedCredentials: authorization !== undefined });
  };
}

export type { AuthUser };
