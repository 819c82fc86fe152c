// The Express application: security headers, request ids and logs, CORS, health probes, and tRPC
// with a body size limit and a per-caller rate limit.
import { randomUUID } from 'node:crypto';
import express from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { TRPCError } from '@trpc/server';
import { createExpressMiddleware, type CreateExpressContextOptions } from '@trpc/server/adapters/express';
import { appRouter } from '../routers/_app.js';
import { createExpressContextFactory, type AppDeps, type Context } from '../context.js';
import { cors } from './cors.js';
import { setDeadline, withDeadline } from './deadline.js';
import { mapDatabaseError } from './database-errors.js';
import { MAX_BODY_BYTES } from './limits.js';
import { RateLimiter } from './rate-limit.js';

export { MAX_BODY_BYTES };

export interface HttpOptions {
  /** Per-caller token bucket; absent or null: no rate limit. */
  rateLimit?: { perMinute: number; burst: number } | null;
  /** Origins allowed cross-origin; absent or empty: CORS closed. */
  corsOrigins?: readonly string[];
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;
/** /readyz answers 503 when the database does not answer `select 1` within this. */
const READY_TIMEOUT_MS = 2_000;

export function createApp(deps: AppDeps, options: HttpOptions = {}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(helmet());
  app.use(
    pinoHttp({
      logger: deps.log,
      // Honour a well-formed upstream request id, so one id follows a request across services.
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      // Method and path only: query strings carry tRPC inputs and headers carry tokens.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      // 503 is the database being unavailable: one warning per request, not an error each (the
      // outage itself shows in /readyz and in the failed connection attempts).
      customLogLevel: (_req, res, err) =>
        res.statusCode === 503 ? 'warn' : err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug',
    }),
  );

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', async (_req, res) => {
    // Bounded by our own timer: a hung database (no answer, no refusal) must not hang the probe,
    // and knex's timeout counts neither the wait for a connection nor cancelling the query.
    let timer: NodeJS.Timeout | undefined;
    const ping = deps.knex.raw('select 1');
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('readiness probe timed out')), READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([ping, expired]);
      res.json({ ok: true, database: 'up' });
    } catch {
      ping.catch(() => undefined);
      res.status(503).json({ ok: false, database: 'down' });
    } finally {
      clearTimeout(timer);
    }
  });

  app.use('/trpc', cors(options.corsOrigins ?? []));
  app.use(
    '/trpc',
    createExpressMiddleware({
      router: appRouter,
      createContext: guardedContextFactory(deps, options),
      maxBodySize: MAX_BODY_BYTES,
      onError({ error, path, ctx }) {
        const log = ctx?.log ?? deps.log;
        if (error.code === 'INTERNAL_SERVER_ERROR') {
          const cause = error.cause as { name?: string; code?: string; reason?: string } | undefined;
          log.error({ path, code: error.code, cause: { name: cause?.name, code: cause?.code, reason: cause?.reason } }, 'procedure failed');
        } else {
          log.info({ path, code: error.code }, 'procedure refused');
        }
      },
    }),
  );

  app.use((_req, res) => {
    res.status(404).json({ error: 'Not found. The API is under /trpc; probes are /healthz and /readyz.' });
  });
  return app;
}

/**
 * The Express context (authentication), with what must happen before any procedure runs: the
 * request's deadline starts; database failures during authentication are answered like those inside
 * procedures (SERVICE_UNAVAILABLE, not a bare 500); and the rate limit applies, per token once
 * authenticated, else per IP address, a batch costing one token per call.
 */
function guardedContextFactory(deps: AppDeps, options: HttpOptions) {
  const createContext = createExpressContextFactory(deps);
  const limiter = options.rateLimit ? new RateLimiter(options.rateLimit) : null;
  const ms = deps.requestTimeoutMs;
  return async (opts: CreateExpressContextOptions): Promise<Context> => {
    const deadline = Date.now() + (ms ?? 0);
    let ctx: Context;
    try {
      // Authentication queries the database: it counts against the request's deadline too.
      ctx = ms ? await withDeadline(createContext(opts), deadline, ms) : await createContext(opts);
    } catch (err) {
      throw mapDatabaseError(err) ?? err;
    }
    if (ms) setDeadline(ctx, deadline);
    if (limiter) {
      const key = ctx.user ? `token:${ctx.user.tokenId}` : `ip:${opts.req.ip ?? opts.req.socket.remoteAddress ?? 'unknown'}`;
      const decision = limiter.take(key, opts.info.calls.length);
      if (!decision.ok) {
        opts.res.setHeader('retry-after', String(decision.retryAfterSeconds));
        throw new TRPCError({
          code: 'TOO_MANY_REQUESTS',
          message: `Rate limit exceeded (${limiter.options.perMinute} calls per minute, bursts of ${limiter.options.burst}); retry in ${decision.retryAfterSeconds} s.`,
        });
      }
    }
    return ctx;
  };
}
