import { z } from 'zod';
import { procedure, router } from '../trpc.js';

export const healthRouter = router({
  ping: procedure.output(z.object({ ok: z.literal(true) })).query(() => ({ ok: true as const })),
});
