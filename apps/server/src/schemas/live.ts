// The shape of `signals.onChange` events, and output validation for a subscription: each event an
// async generator yields (as `tracked(id, value)`) is parsed through a schema before it is sent, as
// every other procedure's output is (tRPC's documented pattern for validating subscription output).
import { isTrackedEnvelope, tracked, type TrackedEnvelope } from '@trpc/server';
import { z } from 'zod';
import { signalView } from './signal.js';

/**
 * What `signals.onChange` accepts as lastEventId: an event position "<tx_id>.<id>" it sent, or a
 * plain event id from before positions existed.
 */
export const eventIdInput = z.string().regex(/^(0|[1-9]\d{0,19})(\.(0|[1-9]\d{0,18}))?$/, 'must be an event id from signals.onChange');

export const signalChangeKind = z.enum(['created', 'updated', 'closed', 'cancelled']);

/** What happened, and the signal as it is now: the owner view for its owner, else the public view. */
export const signalChange = z.object({ kind: signalChangeKind, signal: signalView });
export type SignalChange = z.infer<typeof signalChange>;

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/** An async iterable of `tracked(id, value)` events whose values are parsed through `schema`. */
export function trackedEvents<TOut, TIn>(schema: z.ZodType<TOut, TIn>) {
  return z.custom<AsyncIterable<TrackedEnvelope<TIn>, void>>(isAsyncIterable).transform(async function* (events): AsyncGenerator<TrackedEnvelope<TOut>, void, unknown> {
    for await (const event of events) {
      if (!isTrackedEnvelope<TIn>(event)) throw new Error('A subscription event must be made with tracked(id, data).');
      yield tracked(event[0], schema.parse(event[1]));
    }
  });
}
