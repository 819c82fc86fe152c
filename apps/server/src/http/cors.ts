// CORS, closed unless origins are configured (SIGNALS_CORS_ORIGINS). The API authenticates with a
// bearer header, never cookies, so credentials are not allowed and no origin gets a wildcard.
import type { RequestHandler, Response } from 'express';

const ALLOWED_METHODS = 'GET, POST';
/** What @signals/client (tRPC's fetch links) sends. */
const ALLOWED_HEADERS = ['authorization', 'content-type', 'trpc-accept', 'x-request-id'];
const EXPOSED_HEADERS = 'retry-after, x-request-id';
const PREFLIGHT_MAX_AGE_S = '600';

export function cors(allowedOrigins: readonly string[]): RequestHandler {
  const allowed = new Set(allowedOrigins);
  return (req, res, next) => {
    const origin = req.headers.origin;
    const isPreflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (origin === undefined) {
      if (req.method === 'OPTIONS') {
        res.status(204).setHeader('allow', ALLOWED_METHODS).end();
        return;
      }
      return next();
    }
    keepVaryOrigin(res);
    if (!allowed.has(origin)) {
      if (isPreflight) {
        res.status(403).json({ error: "This origin may not call the API cross-origin (see SIGNALS_CORS_ORIGINS)." });
        return;
      }
      // No CORS headers: the browser will not let the page read the response.
      return next();
    }
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
    if (!isPreflight) return next();
    const requestedMethod = String(req.headers['access-control-request-method']).toUpperCase();
    const requestedHeaders = String(req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    const unknown = requestedHeaders.filter((h) => !ALLOWED_HEADERS.includes(h));
    if (!ALLOWED_METHODS.split(', ').includes(requestedMethod) || unknown.length > 0) {
      res.removeHeader('access-control-allow-origin');
      res.status(403).json({
        error: `Only ${ALLOWED_METHODS} with the headers ${ALLOWED_HEADERS.join(', ')} are allowed cross-origin.`,
      });
      return;
    }
    res.setHeader('vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    res.setHeader('access-control-allow-methods', ALLOWED_METHODS);
    res.setHeader('access-control-allow-headers', ALLOWED_HEADERS.join(', '));
    res.setHeader('access-control-max-age', PREFLIGHT_MAX_AGE_S);
    res.status(204).end();
  };
}

/**
 * Answers that depend on Origin must say so (`Vary: Origin`), or a cache could serve one origin's
 * answer to another. tRPC sets its own Vary header later, replacing ours: merge instead.
 */
function keepVaryOrigin(res: Response): void {
  const setHeader = res.setHeader.bind(res);
  const merged = (value: unknown) => {
    const fields = new Set(['Origin']);
    for (const f of String(value).split(',')) if (f.trim()) fields.add(f.trim());
    return [...fields].join(', ');
  };
  res.setHeader = ((name: string, value: string | number | readonly string[]) =>
    name.toLowerCase() === 'vary' ? setHeader(name, merged(value)) : setHeader(name, value)) as typeof res.setHeader;
  setHeader('vary', merged(res.getHeader('vary') ?? ''));
}
