import { z } from 'zod';
import { procedure, router } from '../trpc.js';
import { role, tokenLabel, userId, userName, userView } from '../schemas/user.js';
import { createUser, disableUser, listUsers } from '../services/users.js';

export const usersRouter = router({
  /** Creates a user with a first API token, returned this once. */
  create: procedure
    .input(z.object({ name: userName, role, tokenLabel: tokenLabel.optional() }))
    .output(z.object({ user: userView, tokenId: z.string(), token: z.string() }))
    .mutation(({ ctx, input }) => createUser(ctx.deps.knex, input)),
  list: procedure
    .input(z.object({ role: role.optional() }).default({}))
    .output(z.array(userView))
    .query(({ ctx, input }) => listUsers(ctx.deps.knex, input)),
  disable: procedure
    .input(z.object({ userId }))
    .output(userView)
    .mutation(({ ctx, input }) => disableUser(ctx.deps.knex, input.userId)),
});
