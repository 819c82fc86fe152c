// Test support for the client's end-to-end tests (not exported by the package): a real server on a
// throwaway PostgreSQL, users with their own clients, and a fetch that keeps every response body,
// streamed ones (SSE) included.
import { Writable } from 'node:stream';
import { Keyring } from '@signals/crypto';
import { createTestDatabase, type TestDatabase } from '@signals/db/testing';
import { addSubscription, createDeps, createLogger, createUser, listen, type AppDeps, type RunningServer } from '@signals/server';
import { expect } from 'vitest';
import { createSignalsClient, isSignalsError, type SignalsClient, type SignalsErrorCode } from './index.js';

export interface Exchange {
  url: string;
  status: number;
  /** The whole body; for a stream, what has arrived so far. */
  body: string;
}

/** A fetch that delegates to the global one and keeps every response body as it streams in. */
export function recordingFetch(log: Exchange[]): typeof globalThis.fetch {
  return async (input, init) => {
    const response = await globalThis.fetch(input, init);
    const exchange: Exchange = { url: new Request(input, init).url, status: response.status, body: '' };
    log.push(exchange);
    if (!response.body) return response;
    const [mine, theirs] = response.body.tee();
    void (async () => {
      const reader = mine.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const chunk = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (chunk.done) break;
        exchange.body += chunk.value;
      }
    })();
    return new Response(theirs, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

export interface Actor {
  id: string;
  name: string;
  token: string;
  client: SignalsClient;
  wire: Exchange[];
}

export interface Stack {
  db: TestDatabase;
  deps: AppDeps;
  server: RunningServer;
  logs: () => string;
  actor(role: 'admin' | 'owner' | 'subscriber', name: string): Promise<Actor>;
  subscribe(owner: Actor, subscriber: Actor): Promise<void>;
  close(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const db = await createTestDatabase();
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const deps = createDeps({ knex: db.knex, keyring: Keyring.parse(Keyring.generateEntry('e2e1')), log: createLogger('trace', sink) });
  const server = await listen(deps);
  return {
    db,
    deps,
    server,
    logs: () => lines.join(''),
    async actor(role, name) {
      const created = await createUser(db.knex, { name, role });
      const wire: Exchange[] = [];
      return { id: created.user.id, name, token: created.token, wire, client: createSignalsClient({ url: server.url, token: created.token, fetch: recordingFetch(wire) }) };
    },
    async subscribe(owner, subscriber) {
      await addSubscription(db.knex, owner.id, subscriber.id);
    },
    async close() {
      await server.close();
      await deps.events.close();
      await db.destroy();
    },
  };
}

/** The tRPC code a call fails with; a test failure if it succeeds. */
export async function codeOf(call: Promise<unknown>): Promise<SignalsErrorCode | string> {
  try {
    await call;
  } catch (err) {
    expect(isSignalsError(err), String(err)).toBe(true);
    return isSignalsError(err) ? String(err.data?.code) : 'NOT A SIGNALS ERROR';
  }
  throw new Error('expected the call to fail');
}

/** Resolves once `predicate` holds (checked every 10 ms); fails after `timeoutMs`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
