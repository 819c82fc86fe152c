// `keys rewrap`: re-wraps every owner data key under the primary KEK. One row per owner key, not
// per signal: payloads do not change. Batches are taken with FOR UPDATE SKIP LOCKED, so several
// runs can work side by side, and an interrupted run is finished by running it again.
import type { Knex } from 'knex';
import { unwrapDataKey, wrapDataKey, type Keyring } from '@signals/crypto';
import { silentProgress, type ProgressFactory } from './progress.js';

export interface RewrapOptions {
  batchSize?: number;
  dryRun?: boolean;
  progress?: ProgressFactory;
}

export interface RewrapResult {
  primaryKekId: string;
  /** Keys still wrapped by another KEK before the run (what a dry run would do). */
  pending: number;
  rewrapped: number;
}

interface KeyRow { ownerId: string; version: number; kekId: string; wrappedKey: string }

export async function rewrapDataKeys(knex: Knex, keyring: Keyring, opts: RewrapOptions = {}): Promise<RewrapResult> {
  const primary = keyring.primary;
  const stale = () => knex('owner_keys').whereNot('kek_id', primary.id).whereNotNull('wrapped_key');
  const pending = Number((await stale().count({ n: '*' }).first())?.n ?? 0);
  const result: RewrapResult = { primaryKekId: primary.id, pending, rewrapped: 0 };
  if (opts.dryRun || pending === 0) return result;

  const progress = (opts.progress ?? silentProgress)('rewrap');
  progress.start(pending);
  try {
    for (;;) {
      const done = await knex.transaction(async (trx) => {
        const rows = (await stale()
          .transacting(trx)
          .select('owner_id as ownerId', 'version', 'kek_id as kekId', 'wrapped_key as wrappedKey')
          .orderBy(['owner_id', 'version'])
          .limit(opts.batchSize ?? 500)
          .forUpdate()
          .skipLocked()) as KeyRow[];
        for (const row of rows) {
          const ctx = { ownerId: row.ownerId, version: row.version };
          const rewrapped = wrapDataKey(primary, unwrapDataKey(keyring, row.wrappedKey, ctx), ctx);
          await trx('owner_keys').update({ kek_id: primary.id, wrapped_key: rewrapped }).where({ owner_id: row.ownerId, version: row.version });
        }
        return rows.length;
      });
      if (done === 0) break;
      result.rewrapped += done;
      progress.advance(done);
    }
  } finally {
    progress.stop();
  }
  return result;
}
