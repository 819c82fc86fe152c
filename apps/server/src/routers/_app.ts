// The API: one router per domain, composed here.
import { router } from '../trpc.js';
import { approvalsRouter } from './approvals.js';
import { healthRouter } from './health.js';
import { meRouter } from './me.js';
import { signalsRouter } from './signals.js';
import { subscriptionsRouter } from './subscriptions.js';
import { tokensRouter } from './tokens.js';
import { usersRouter } from './users.js';

export const appRouter = router({
  health: healthRouter,
  me: meRouter,
  signals: signalsRouter,
  approvals: approvalsRouter,
  subscriptions: subscriptionsRouter,
  users: usersRouter,
  tokens: tokensRouter,
});

export type AppRouter = typeof appRouter;
