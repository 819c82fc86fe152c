// The Express application: security headers, request ids and logs, health probes, and tRPC.
import { randomUUID } from 'node:crypto';
import express from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import { appRouter } from '../routers/_app.js';
import { createExpressContextFactory, type AppDeps } from '../context.js';

/** Large enough for a 16 KiB owner-only payload in JSON plus the rest of a signal. */
export const MAX_BODY_BYTES = 256 * 1024;

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

export function createApp(deps: AppDeps): express.Express {
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
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug'),
    }),
  );

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await deps.knex.raw('select 1').timeout(2_000, { cancel: true });
      res.json({ ok: true, database: 'up' });
    } catch {
      res.status(503).json({ ok: false, database: 'down' });
    }
  });

  app.use(
    '/trpc',
    createExpressMiddleware({
      router: appRouter,
      createContext: createExpressContextFactory(deps),
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
