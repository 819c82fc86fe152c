import { z } from 'zod';
import { procedure, requireUser, router } from '../trpc.js';
import { createSignalInput, listSignalsInput, ownerSignalView, signalId, signalListOutput, signalView, updateSignalInput } from '../schemas/signal.js';
import { createSignal, getSignal, listSignals, transitionSignal, updateSignal } from '../services/signals.js';

const byIdInput = z.object({ id: signalId });

export const signalsRouter = router({
  create: procedure
    .input(createSignalInput)
    .output(ownerSignalView)
    .mutation(({ ctx, input }) => createSignal(ctx.deps, requireUser(ctx), input)),
  byId: procedure
    .input(byIdInput)
    .output(signalView)
    .query(({ ctx, input }) => getSignal(ctx.deps, requireUser(ctx), input.id)),
  list: procedure
    .input(listSignalsInput)
    .output(signalListOutput)
    .query(({ ctx, input }) => listSignals(ctx.deps, requireUser(ctx), input)),
  update: procedure
    .input(updateSignalInput)
    .output(ownerSignalView)
    .mutation(({ ctx, input }) => updateSignal(ctx.deps, requireUser(ctx), input)),
  close: procedure
    .input(byIdInput)
    .output(ownerSignalView)
    .mutation(({ ctx, input }) => transitionSignal(ctx.deps, requireUser(ctx), input.id, 'closed')),
  cancel: procedure
    .input(byIdInput)
    .output(ownerSignalView)
    .mutation(({ ctx, input }) => transitionSignal(ctx.deps, requireUser(ctx), input.id, 'cancelled')),
});
