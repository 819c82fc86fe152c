// Builds the long-lived services from configuration.
import type { Knex } from 'knex';
import type { Keyring, MultiFernet } from '@signals/crypto';
import type { AppDeps } from './context.js';
import type { Logger } from './logger.js';
import { OwnerKeys } from './vault/owner-keys.js';
import { OwnerOnlyVault } from './vault/owner-only-vault.js';
import { SignalEventHub, type SignalEventHubOptions } from './events/hub.js';
import { SignalInserts } from './services/signal-inserts.js';

export interface DepsOptions {
  knex: Knex;
  keyring: Keyring;
  legacyFernet?: MultiFernet | null;
  log: Logger;
  dataKeyCache?: { maxEntries: number; ttlMs: number };
  /** Deadline of one procedure call in ms; absent: none. */
  requestTimeoutMs?: number;
  /** Live feeds: how often they poll at the latest, and how soon LISTEN is retried. */
  events?: SignalEventHubOptions;
}

export function createDeps(opts: DepsOptions): AppDeps {
  const ownerKeys = new OwnerKeys(opts.knex, opts.keyring, opts.dataKeyCache);
  const vault = new OwnerOnlyVault(ownerKeys, opts.legacyFernet ?? null, opts.log);
  const events = new SignalEventHub(opts.knex, opts.log, opts.events);
  const signalInserts = new SignalInserts({ knex: opts.knex, events });
  return { knex: opts.knex, ownerKeys, vault, log: opts.log, events, signalInserts, ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}) };
}
