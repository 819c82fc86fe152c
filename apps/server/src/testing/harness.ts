// Test support: a migrated throwaway database, the app's services, and users of every kind.
import { randomUUID } from 'node:crypto';
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
  /** The test database's URL, for child processes such as the CLI. */
  url: string;
  knex: Knex;
  deps: AppDeps;
  keyring: Keyring;
  /** Every log line the app wrote, as text (level trace). */
  logs: () => string;
  user(role: Role, name?: string): Promise<TestUser>;
  subscribe(owner: TestUser, subscriber: TestUser): Promise<void>;
  caller(user: TestUser | null): Caller;
  serve(): Promise<RunningServer>;
  /** Inserts `count` signals of an owner with sealed payloads `{ notes: '<prefix><i>' }`, fast. */
  seedSignals(owner: TestUser, count: number, notesPrefix: string): Promise<string[]>;
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
    url: db.url,
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
    async seedSignals(owner, count, notesPrefix) {
      const ids: string[] = [];
      for (let start = 0; start < count; start += 1000) {
        const rows = [];
        for (let i = start; i < Math.min(count, start + 1000); i++) {
          const id = randomUUID();
          ids.push(id);
          const sealed = await deps.vault.seal({ signalId: id, ownerId: owner.id }, { notes: `${notesPrefix}${i}` });
          rows.push({ id, owner_id: owner.id, instrument: 'XAUUSD', side: 'buy', entry_price: '1', owner_only_payload: sealed });
        }
        await db.knex('signals').insert(rows);
      }
      return ids;
    },
    async serve() {
      const running = await listen(deps);
      servers.push(running);
      return running;
    },
    async close() {
      for (const s of servers) await s.close();
      await deps.events.close();
      await db.destroy();
    },
  };
}
