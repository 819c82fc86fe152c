// @signals/client: the typed SDK for the signals API. Encryption is invisible here: the owner gets
// `ownerOnly` in plain JSON, everyone else gets a view without it.
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink, TRPCClientError, type TRPCClient } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs, TRPC_ERROR_CODE_KEY } from '@trpc/server';
import superjson from 'superjson';
import { EventSource, type FetchLike } from 'eventsource';
import type { AppRouter } from '@signals/server';

export type { AppRouter };
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

/** What `signals.create` takes. */
export type CreateSignalInput = RouterInputs['signals']['create'];
export type UpdateSignalInput = RouterInputs['signals']['update'];
export type ListSignalsInput = RouterInputs['signals']['list'];
/** The owner's view: includes the decrypted `ownerOnly` payload and its state. */
export type OwnerSignalView = RouterOutputs['signals']['create'];
/** What everyone else sees: the same signal with no owner-only field at all. */
export type PublicSignalView = Exclude<RouterOutputs['signals']['byId'], OwnerSignalView>;
export type SignalView = RouterOutputs['signals']['byId'];
export type OwnerOnlyState = OwnerSignalView['ownerOnlyState'];
/** One event of `signals.onChange`: `id` (resume from it) and `data: { kind, signal }`. */
export type SignalChangeEvent = RouterOutputs['signals']['onChange'] extends AsyncIterable<infer E> ? E : never;
/** What happened to the signal: `created`, `updated`, `closed` or `cancelled`. */
export type SignalChangeKind = SignalChangeEvent['data']['kind'];
export type DecideInput = RouterInputs['approvals']['decide'];
/** The caller's own decision, as `approvals.decide` returns it. */
export type ApprovalDecision = RouterOutputs['approvals']['decide'];
/** The owner's overview of one signal: every decision and the counts. */
export type ApprovalOverview = RouterOutputs['approvals']['forSignal'];
export type SignalsErrorCode = TRPC_ERROR_CODE_KEY;

export interface SignalsClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:3000`; the client adds `/trpc`. */
  url: string;
  /** An API token (`sig_…`), sent as `Authorization: Bearer <token>`. */
  token: string;
  /** A fetch implementation (defaults to the global one), used for subscriptions too. */
  fetch?: typeof globalThis.fetch;
}

export type SignalsClient = TRPCClient<AppRouter>;

/**
 * superjson, decoding responses in place: each response is JSON parsed for this call alone, so
 * superjson's defensive deep copy of it (~20 % of decoding a list of 100) buys nothing.
 */
const transformer = {
  serialize: (value: unknown) => superjson.serialize(value),
  deserialize: (payload: Parameters<typeof superjson.deserialize>[0]) => superjson.deserialize(payload, { inPlace: true }),
};

export function createSignalsClient(options: SignalsClientOptions): SignalsClient {
  const base = options.url.replace(/\/+$/, '');
  const authorization = `Bearer ${options.token}`;
  const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  // Subscriptions (signals.onChange) travel as server-sent events. A browser's EventSource cannot
  // send headers, so the `eventsource` ponyfill is used everywhere, with a fetch that adds the token
  // (tRPC's documented way for non-browser clients; the token never goes into the URL). It
  // reconnects by itself, resuming from the last event id.
  const sseFetch: FetchLike = (url, init) => fetchImpl(url, { ...init, headers: { ...init.headers, authorization } });
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({
          url: `${base}/trpc`,
          transformer,
          EventSource,
          eventSourceOptions: () => ({ fetch: sseFetch }),
        }),
        false: httpBatchLink({
          url: `${base}/trpc`,
          transformer,
          headers: () => ({ authorization }),
          ...(options.fetch ? { fetch: options.fetch } : {}),
        }),
      }),
    ],
  });
}

/** True when `err` came from the signals API, and, given a code, when it has that tRPC code. */
export function isSignalsError(err: unknown, code?: SignalsErrorCode): err is TRPCClientError<AppRouter> {
  if (!(err instanceof TRPCClientError)) return false;
  return code === undefined || (err.data as { code?: string } | undefined)?.code === code;
}

/** True for the owner's view of a signal (the one that carries `ownerOnly`). */
export function isOwnerView(signal: SignalView): signal is OwnerSignalView {
  return 'ownerOnlyState' in signal;
}

export { TRPCClientError };
