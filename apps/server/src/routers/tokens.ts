import { z } from 'zod';
import { procedure, router } from '../trpc.js';
import { tokenLabel, userId } from '../schemas/user.js';
import { createToken, revokeToken } from '../services/users.js';

export const tokensRouter = router({
  /** The token is in this response only; the server keeps its SHA-256. */
  create: procedure
    .input(z.object({ userId, label: tokenLabel.optional() }))
    .output(z.object({ id: z.string(), token: z.string() }))
    .mutation(({ ctx, input }) => createToken(ctx.deps.knex, input.userId, input.label)),
  revoke: procedure
    .input(z.object({ tokenId: z.uuid() }))
    .output(z.object({ id: z.string(), userId: z.string(), revokedAt: z.date() }))
    .mutation(({ ctx, input }) => revokeToken(ctx.deps.knex, input.tokenId)),
});
