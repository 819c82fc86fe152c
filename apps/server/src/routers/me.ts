import { z } from 'zod';
import { procedure, requireUser, router } from '../trpc.js';
import { role } from '../schemas/user.js';

export const meRouter = router({
  get: procedure.output(z.object({ id: z.string(), name: z.string(), role })).query(({ ctx }) => {
    const { id, name, role: userRole } = requireUser(ctx);
    return { id, name, role: userRole };
  }),
});
