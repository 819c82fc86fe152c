// Limits over real HTTP: body size, rate limit, request and statement timeouts, security headers,
// CORS. Each server here is started with the limits under test; the database is a throwaway one.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKnex } from '@signals/db';
import { createDeps } from '../src/deps.js';
import { MAX_BODY_BYTES } from '../src/http/limits.js';
import { listen, type ListenOptions, type RunningServer } from '../src/server.js';
import { createHarness, type Harness, type TestUser } from '../src/testing/harness.js';
import { callTrpc, send, trpcError, type RawResponse } from './support.js';

let h: Harness;
let owner: TestUser;
let otherOwner: TestUser;
const servers: RunningServer[] = [];

beforeAll(async () => {
  h = await createHarness();
  owner = await h.user('owner');
  otherOwner = await h.user('owner');
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await h.close();
});

async function serve(opts: ListenOptions = {}, deps = h.deps): Promise<string> {
  const running = await listen(deps, opts);
  servers.push(running);
  return running.url;
}

const signalInput = { instrument: 'XAUUSD', side: 'buy', entryPrice: '1.5', ownerOnly: { notes: 'limits' } };

function expectError(response: RawResponse, status: number, code: string, message: RegExp) {
  expect(response.status, response.text).toBe(status);
  const error = trpcError(response);
  expect(error?.data.code).toBe(code);
  expect(error?.data.httpStatus).toBe(status);
  expect(error?.message).toMatch(message);
}

describe('request body size', () => {
  it(`answers 413 PAYLOAD_TOO_LARGE with a clear message above ${MAX_BODY_BYTES} bytes, with or without Content-Length`, async () => {
    const url = await serve();
    const auth = { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' };
    const body = JSON.stringify({ json: { ...signalInput, payload: { pad: 'x'.repeat(MAX_BODY_BYTES) } } });
    const declared = await send(`${url}/trpc/signals.create`, { method: 'POST', headers: auth, body });
    expectError(declared, 413, 'PAYLOAD_TOO_LARGE', new RegExp(`larger than the limit of ${MAX_BODY_BYTES} bytes`));

    // Chunked: no Content-Length, so the limit must hold while reading.
    const chunked = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(`${url}/trpc/signals.create`, { method: 'POST', headers: { ...auth, 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      for (let i = 0; i < 40; i++) req.write('x'.repeat(8 * 1024));
      req.end();
    });
    expect(chunked.status).toBe(413);
    expect(chunked.text).toContain('PAYLOAD_TOO_LARGE');

    expect(await h.knex('signals').count({ n: '*' }).first()).toEqual({ n: '0' });

    // Just under the limit is read and judged on its content (here: valid, so published).
    const under = await send(`${url}/trpc/signals.create`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ json: { ...signalInput, payload: { pad: 'x'.repeat(MAX_BODY_BYTES - 200) } } }),
    });
    expect(under.status, under.text.slice(0, 300)).toBe(200);
    expect(await h.knex('signals').count({ n: '*' }).first()).toEqual({ n: '1' });
  });
});

describe('rate limit', () => {
  it('answers 429 TOO_MANY_REQUESTS with Retry-After per token, per IP without one, a batch costing one per call', async () => {
    const url = await serve({ rateLimit: { perMinute: 6, burst: 4 } }); // one token per 10 s
    const me = () => callTrpc(url, 'me.get', { type: 'query', token: owner.token });
    for (let i = 0; i < 4; i++) expect((await me()).status).toBe(200);
    const limited = await me();
    expectError(limited, 429, 'TOO_MANY_REQUESTS', /Rate limit exceeded \(6 calls per minute, bursts of 4\); retry in \d+ s/);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);

    // Another token has its own bucket; a batch of 3 calls costs 3.
    const batch = (n: number) =>
      send(`${url}/trpc/${Array(n).fill('me.get').join(',')}?batch=1&input=%7B%7D`, { headers: { authorization: `Bearer ${otherOwner.token}` } });
    expect((await batch(3)).status).toBe(200);
    const second = await batch(3);
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(JSON.stringify(second.json)).toContain('TOO_MANY_REQUESTS');

    // Without a valid token: by IP address (a made-up token does not buy a fresh bucket).
    const anonymous = (token: string | null) => callTrpc(url, 'health.ping', { type: 'query', token });
    for (let i = 0; i < 4; i++) expect((await anonymous(i % 2 ? null : `sig_${'A'.repeat(43)}`)).status).toBe(200);
    expectError(await anonymous(`sig_${'B'.repeat(43)}`), 429, 'TOO_MANY_REQUESTS', /Rate limit exceeded/);
    // The probes are never limited.
    expect((await send(`${url}/healthz`)).status).toBe(200);
  });
});

describe('timeouts', () => {
  /** Holds a row lock on a fresh signal so that updating it blocks, until release(). */
  async function lockedSignal(): Promise<{ id: string; version: number; release: () => Promise<void> }> {
    const created = await h.caller(owner).signals.create({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1' });
    const trx = await h.knex.transaction();
    await trx('signals').where('id', created.id).forUpdate().first();
    return { id: created.id, version: created.version, release: () => trx.rollback().then(() => undefined) };
  }

  it('a call past the request timeout answers 408 TIMEOUT, and the server goes on', async () => {
    const deps = createDeps({ knex: h.knex, keyring: h.keyring, log: h.deps.log, requestTimeoutMs: 400 });
    const url = await serve({}, deps);
    const locked = await lockedSignal();
    try {
      const response = await callTrpc(url, 'signals.update', {
        type: 'mutation',
        token: owner.token,
        input: { id: locked.id, expectedVersion: locked.version, patch: { entryPrice: '2' } },
      });
      expectError(response, 408, 'TIMEOUT', /took longer than 400 ms and was abandoned/);
      expect(response.ms).toBeGreaterThanOrEqual(390);
      expect(response.ms).toBeLessThan(2_000);
    } finally {
      await locked.release();
    }
    expect((await callTrpc(url, 'me.get', { type: 'query', token: owner.token })).status).toBe(200);
  });

  it('a statement past the statement timeout is cancelled by PostgreSQL and answers 408 TIMEOUT', async () => {
    const knex = createKnex(h.url, { statementTimeoutMs: 300, pool: { max: 2 } });
    try {
      const url = await serve({}, createDeps({ knex, keyring: h.keyring, log: h.deps.log }));
      const locked = await lockedSignal();
      try {
        const response = await callTrpc(url, 'signals.update', {
          type: 'mutation',
          token: owner.token,
          input: { id: locked.id, expectedVersion: locked.version, patch: { entryPrice: '2' } },
        });
        expectError(response, 408, 'TIMEOUT', /took too long and was cancelled/);
        expect(response.ms).toBeLessThan(2_000);
      } finally {
        await locked.release();
      }
      // The cancelled update did not happen.
      expect((await h.knex('signals').where('id', locked.id).first()).entry_price).toBe('1');
    } finally {
      await knex.destroy();
    }
  });

  it('a client that stalls while sending its request is cut off after the receive timeout', async () => {
    const url = new URL(await serve({ receiveTimeoutMs: 500 }));
    const started = performance.now();
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: '/trpc/signals.create', method: 'POST', headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json', 'content-length': '1000' } }, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      req.write('{"json":'); // and never the rest
    });
    const elapsed = performance.now() - started;
    expect(outcome).toMatch(/HTTP 408|error ECONNRESET|socket hang up/);
    // Node checks the deadline every connectionsCheckingInterval (a quarter of it here).
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(3_000);
  });
});

describe('security headers', () => {
  it('sends helmet headers on API answers, errors, probes and 404s, and no X-Powered-By', async () => {
    const url = await serve({ rateLimit: { perMinute: 60, burst: 1 } });
    const answers = [
      await callTrpc(url, 'me.get', { type: 'query', token: owner.token }),
      await callTrpc(url, 'me.get', { type: 'query', token: owner.token }), // 429
      await callTrpc(url, 'signals.create', { type: 'mutation', token: otherOwner.token, input: { bad: true } }), // 400
      await send(`${url}/healthz`),
      await send(`${url}/nowhere`),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 429, 400, 200, 404]);
    for (const a of answers) {
      expect(a.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(a.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
      expect(a.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(a.headers.get('x-content-type-options')).toBe('nosniff');
      expect(a.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(a.headers.get('referrer-policy')).toBe('no-referrer');
      expect(a.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(a.headers.get('cross-origin-resource-policy')).toBe('same-origin');
      expect(a.headers.get('x-dns-prefetch-control')).toBe('off');
      expect(a.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._-]{8,64}$/);
      expect(a.headers.get('x-powered-by')).toBeNull();
    }
  });
});

describe('CORS', () => {
  const preflight = (url: string, origin: string, headers = 'authorization, content-type', method = 'POST') =>
    send(`${url}/trpc/signals.create`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
    });

  it('is closed when no origin is configured: preflights refused, no CORS headers on answers', async () => {
    const url = await serve();
    const refused = await preflight(url, 'https://app.example.com');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    const answer = await callTrpc(url, 'me.get', { type: 'query', token: owner.token, headers: { origin: 'https://app.example.com' } });
    expect(answer.status).toBe(200); // a server cannot stop the call; the browser stops the page reading it
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows exactly the configured origins, methods and headers', async () => {
    const url = await serve({ corsOrigins: ['https://app.example.com'] });
    const allowed = await preflight(url, 'https://app.example.com');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(allowed.headers.get('access-control-allow-methods')).toBe('GET, POST');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    expect(allowed.headers.get('vary')).toMatch(/Origin/);

    for (const denied of [
      await preflight(url, 'https://evil.example.com'),
      await preflight(url, 'https://app.example.com.evil.example'),
      await preflight(url, 'null'),
      await preflight(url, 'https://app.example.com', 'authorization, x-evil'),
      await preflight(url, 'https://app.example.com', 'authorization', 'DELETE'),
    ]) {
      expect(denied.status).toBe(403);
      expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    }

    const answer = await callTrpc(url, 'me.get', { type: 'query', token: owner.token, headers: { origin: 'https://app.example.com' } });
    expect(answer.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(answer.headers.get('access-control-expose-headers')).toContain('retry-after');
    const other = await callTrpc(url, 'me.get', { type: 'query', token: owner.token, headers: { origin: 'https://evil.example.com' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.headers.get('vary')).toMatch(/Origin/);
  });
});
