// Test support for `signals.onChange` over real HTTP: a tRPC client with httpSubscriptionLink and the
// `eventsource` ponyfill sending the bearer token as a header (what @signals/client does), which
// also keeps the raw text of every SSE response so tests can scan what went over the wire.
import { createTRPCClient, httpSubscriptionLink, type TRPCClientError } from '@trpc/client';
import { EventSource, type FetchLike } from 'eventsource';
import superjson from 'superjson';
import type { AppRouter } from '../routers/_app.js';
import type { SignalChange } from '../services/signal-events.js';

export interface LiveEvent {
  id: string;
  data: SignalChange;
}

export interface LiveFeed {
  /** Events received, in order. */
  readonly events: LiveEvent[];
  /** The error that ended the subscription, if any. */
  readonly error: TRPCClientError<AppRouter> | null;
  /** How many times the server answered the stream (1 + reconnects). */
  readonly connections: number;
  /** Every byte of every SSE response, as text. */
  raw(): string;
  /** Resolves when `predicate` holds (checked every 10 ms); rejects after `timeoutMs`. */
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /**
   * Resolves once the server said `connected`, and a moment later: the feed then fixes where it
   * starts, and a change made before that is (rightly) not "new" to it.
   */
  connected(): Promise<void>;
  close(): void;
}

/** Subscribes to `signals.onChange` at `baseUrl` with `token` (null: no Authorization header). */
export function openFeed(baseUrl: string, token: string | null, input?: { lastEventId?: string }): LiveFeed {
  const events: LiveEvent[] = [];
  let error: TRPCClientError<AppRouter> | null = null;
  let raw = '';
  let connections = 0;

  const fetchWithToken: FetchLike = async (url, init) => {
    const response = await fetch(url, { ...init, headers: { ...init.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
    connections += 1;
    if (!response.body) return response;
    const [mine, theirs] = response.body.tee();
    void (async () => {
      const reader = mine.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const chunk = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (chunk.done) break;
        raw += chunk.value;
      }
    })();
    return { status: response.status, url: response.url, redirected: response.redirected, headers: response.headers, body: theirs };
  };

  const client = createTRPCClient<AppRouter>({
    links: [httpSubscriptionLink({ url: `${baseUrl}/trpc`, transformer: superjson, EventSource, eventSourceOptions: () => ({ fetch: fetchWithToken }) })],
  });
  const subscription = client.signals.onChange.subscribe(input, {
    onData: (event) => events.push(event as LiveEvent),
    onError: (err) => {
      error = err;
    },
  });

  return {
    events,
    get error() {
      return error;
    },
    get connections() {
      return connections;
    },
    raw: () => raw,
    async until(predicate, what, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (events: ${events.map((e) => `${e.id}:${e.data.kind}`).join(', ') || 'none'}; error: ${error?.message ?? 'none'})`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async connected() {
      await this.until(() => raw.includes('event: connected'), 'connected');
      await new Promise((r) => setTimeout(r, 100));
    },
    close: () => subscription.unsubscribe(),
  };
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
