// What other packages may import from the server. The client imports types only.
export type { AppRouter } from './routers/_app.js';
export type { OwnerSignalView, PublicSignalView, SignalView, CreateSignalInput, OwnerOnly } from './schemas/signal.js';
export type { Role } from './auth/authenticate.js';
export { appRouter } from './routers/_app.js';
export { createCallerFactory } from './trpc.js';
export { createInnerContext, type AppDeps, type Context } from './context.js';
export { createDeps } from './deps.js';
export { createLogger } from './logger.js';
export { listen, type RunningServer } from './server.js';
export { createUser, createToken } from './services/users.js';
export { addSubscription } from './services/subscriptions.js';
