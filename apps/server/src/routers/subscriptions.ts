import { z } from 'zod';
import { procedure, router } from '../trpc.js';
import { subscriptionView, userId } from '../schemas/user.js';
import { addSubscription, listSubscriptions, removeSubscription } from '../services/subscriptions.js';

const pair = z.object({ ownerId: userId, subscriberId: userId });

export const subscriptionsRouter = router({
  add: procedure.input(pair).output(subscriptionView).mutation(({ ctx, input }) => addSubscription(ctx.deps.knex, input.ownerId, input.subscriberId)),
  remove: procedure
    .input(pair)
    .output(z.object({ removed: z.boolean() }))
    .mutation(({ ctx, input }) => removeSubscription(ctx.deps.knex, input.ownerId, input.subscriberId)),
  list: procedure
    .input(z.object({ ownerId: userId.optional(), subscriberId: userId.optional() }).default({}))
    .output(z.array(subscriptionView))
    .query(({ ctx, input }) => listSubscriptions(ctx.deps.knex, input)),
});
