// @signals/client: the typed SDK for the signals API. Encryption is invisible here: the owner gets
// `ownerOnly` in plain JSON, everyone else gets a view without it.
import { createTRPCClient, httpBatchLink, TRPCClientError, type TRPCClient } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs, TRPC_ERROR_CODE_KEY } from '@trpc/server';
import superjson from 'superjson';
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
export type SignalsErrorCode = TRPC_ERROR_CODE_KEY;

export interface SignalsClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:3000`; the client adds `/trpc`. */
  url: string;
  /** An API token (`sig_…`), sent as `Authorization: Bearer <token>`. */
  token: string;
  /** A fetch implementation (defaults to the global one). */
  fetch?: typeof globalThis.fetch;
}

export type SignalsClient = TRPCClient<AppRouter>;

export function createSignalsClient(options: SignalsClientOptions): SignalsClient {
  const base = options.url.replace(/\/+$/, '');
  const authorization = `Bearer ${options.token}`;
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${base}/trpc`,
        transformer: superjson,
        headers: () => ({ authorization }),
        ...(options.fetch ? { fetch: options.fetch } : {}),
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
