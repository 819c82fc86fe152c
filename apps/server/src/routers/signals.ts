import { z } from 'zod';
import { procedure, requireUser, router } from '../trpc.js';
import { createSignalInput, listSignalsInput, ownerSignalView, signalId, signalListOutput, signalView, updateSignalInput } from '../schemas/signal.js';
import { createSignal, getSignal, listSignals, transitionSignal, updateSignal } from '../services/signals.js';
import { signalFeed } from '../services/signal-events.js';
import { eventIdInput, signalChange, trackedEvents } from '../schemas/live.js';

const byIdInput = z.object({ id: signalId });


export const signalsRouter = router({
  create: procedure
    .input(createSignalInput)
    .output(ownerSignalView)
    .mutation(({ ctx, input }) => createSignal(ctx.deps, requireUser(ctx), input)),
  byId: procedure
    .input(byIdInput)
    .output(signalView)
    .query(({ ctx, input }) => getSignal(ctx.deps, requireUser(ctx), input.id, ctx.rule.rows)),
  list: procedure
    .input(listSignalsInput)
    .output(signalListOutput)
    .query(({ ctx, input }) => listSignals(ctx.deps, requireUser(ctx), input, ctx.rule.rows)),
  update: procedure
    .input(updateSignalInput)
    .output(ownerSignalView)
    .mutation(({ ctx, input }) => updateSignal(ctx.deps, requireUser(ctx), input, ctx.rule.rows)),
  close: procedure
    .input(byIdInput)
    .output(ownerSignalView)
    .mutation(({ ctx, input }) => transitionSignal(ctx.deps, requireUser(ctx), input.id, 'closed', ctx.rule.rows)),
  cancel: procedure
    .input(byIdInput)
    .output(ownerSignalView)
    .mutation(({ ctx, input }) => transitionSignal(ctx.deps, requireUser(ctx), input.id, 'cancelled', ctx.rule.rows)),
  /**
   * Live changes over server-sent events: new signals and status changes of the caller's own
   * signals (owner view) and of the owners they subscribe to (public view), each as
   * `{ id: <event position>, data: { kind, signal } }`. Reconnecting with `lastEventId` (the client
   * does this by itself) delivers what was missed, once.
   */
  onChange: procedure
    .input(z.object({ lastEventId: eventIdInput.nullish() }).optional())
    .output(trackedEvents(signalChange))
    .subscription(async function* ({ ctx, input, signal }) {
      yield* signalFeed(ctx.deps, requireUser(ctx), { rows: ctx.rule.rows, lastEventId: input?.lastEventId ?? null, signal });
    }),
});
