// Test support: a migrated throwaway database, the app's services, and users of every kind.
import { Writable } from 'node:stream';
import type { Knex } from 'knex';
import { Keyring } from '@signals/crypto';
import { createTestDatabase } from '@signals/db/testing';
import type { AppDeps } from '../context.js';
import { createInnerContext } from '../context.js';
import { createDeps } from '../deps.js';
import { createLogger } from '../logger.js';
import { appRouter } from '../routers/_app.js';
import { createCallerFactory } from '../trpc.js';
import { createUser } from '../services/users.js';
import { addSubscription } from '../services/subscriptions.js';
import type { AuthUser, Role } from '../auth/authenticate.js';
import { listen, type RunningServer } from '../server.js';

const createCaller = createCallerFactory(appRouter);
export type Caller = ReturnType<typeof createCaller>;

export interface TestUser extends AuthUser {
  token: string;
}

export interface Harness {
  knex: Knex;
  deps: AppDeps;
  keyring: Keyring;
  /** Every log line the app wrote, as text (level trace). */
  logs: () => string;
  user(role: Role, name?: string): Promise<TestUser>;
  subscribe(owner: TestUser, subscriber: TestUser): Promise<void>;
  caller(user: TestUser | null): Caller;
  serve(): Promise<RunningServer>;
  close(): Promise<void>;
}

export async function createHarness(opts: { keyring?: Keyring } = {}): Promise<Harness> {
  const db = await createTestDatabase();
  const keyring = opts.keyring ?? Keyring.parse(Keyring.generateEntry('test1'));
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const log = createLogger('trace', sink);
  const deps = createDeps({ knex: db.knex, keyring, log });
  const servers: RunningServer[] = [];
  let count = 0;

  return {
    knex: db.knex,
    deps,
    keyring,
    logs: () => chunks.join(''),
    async user(role, name) {
      const created = await createUser(db.knex, { name: name ?? `${role}-${++count}`, role });
      return { id: created.user.id, name: created.user.name, role, tokenId: created.tokenId, token: created.token };
    },
    async subscribe(owner, subscriber) {
      await addSubscription(db.knex, owner.id, subscriber.id);
    },
    caller(user) {
      return createCaller(createInnerContext({ deps, user }));
    },
    async serve() {
      const running = await listen(deps);
      servers.push(running);
      return running;
    },
    async close() {
      for (const s of servers) await s.close();
      await db.destroy();
    },
  };
}
