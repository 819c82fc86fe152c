// The request context. The inner context needs no HTTP request, so tests build it directly and call
// procedures through `createCaller`; the Express one adds authentication from the request.
import type { Knex } from 'knex';
import type { CreateExpressContextOptions } from '@trpc/server/adapters/express';
import type { Logger } from './logger.js';
import type { OwnerOnlyVault } from './vault/owner-only-vault.js';
import type { OwnerKeys } from './vault/owner-keys.js';
import type { SignalEventHub } from './events/hub.js';
import type { SignalInserts } from './services/signal-inserts.js';
import { authenticate, type AuthUser } from './auth/authenticate.js';

/** Long-lived services shared by every request. */
export interface AppDeps {
  knex: Knex;
  vault: OwnerOnlyVault;
  ownerKeys: OwnerKeys;
  log: Logger;
  /** Deadline of one procedure call in ms (TIMEOUT after it); absent: none. */
  requestTimeoutMs?: number;
  /** Wakes live feeds when signals change (LISTEN/NOTIFY; connects on first use). Close it on shutdown. */
  events: SignalEventHub;
  /** Publishing: creates that arrive together are inserted together (group commit). */
  signalInserts: SignalInserts;
}

export interface Context {
  deps: AppDeps;
  user: AuthUser | null;
  requestId: string;
  log: Logger;
  /** Whether the request carried credentials at all (tells UNAUTHORIZED apart from "public"). */
  presentedCredentials: boolean;
  /** The client's address as Express sees it (`req.ip`; mind `trust proxy`), for audit records. */
  ip: string | null;
  /** The `User-Agent` header, for audit records. */
  userAgent: string | null;
}

export interface InnerContextOptions {
  deps: AppDeps;
  user?: AuthUser | null;
  requestId?: string;
  log?: Logger;
  presentedCredentials?: boolean;
  ip?: string | null;
  userAgent?: string | null;
}

export function createInnerContext(opts: InnerContextOptions): Context {
  const requestId = opts.requestId ?? crypto.randomUUID();
  return {
    deps: opts.deps,
    user: opts.user ?? null,
    requestId,
    log: opts.log ?? opts.deps.log.child({ requestId }),
    presentedCredentials: opts.presentedCredentials ?? Boolean(opts.user),
    ip: opts.ip ?? null,
    userAgent: opts.userAgent ?? null,
  };
}

export function createExpressContextFactory(deps: AppDeps) {
  return async ({ req }: CreateExpressContextOptions): Promise<Context> => {
    const authorization = req.headers.authorization;
    const user = await authenticate(deps.knex, authorization);
    const requestId = String(req.id ?? crypto.randomUUID());
    const log = (req.log as Logger | undefined) ?? deps.log.child({ requestId });
    // Subscriptions (SSE) authenticate the same way: @signals/client sends the header through its
    // EventSource ponyfill. Tokens in `connectionParams` (the URL) are deliberately not read.
    const userAgent = req.headers['user-agent'];
    return createInnerContext({
      deps,
      user,
      requestId,
      log,
      presentedCredentials: authorization !== undefined,
      ip: req.ip ?? null,
      userAgent: typeof userAgent === 'string' ? userAgent : null,
    });
  };
}

export type { AuthUser };
