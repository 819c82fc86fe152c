// `payloads reencrypt`: moves owner-only payloads (legacy Fernet tokens and values sealed under an
// older data key) to the owner's newest data key, bound to their row.
//
// Safe on a live service: each batch is taken with FOR UPDATE SKIP LOCKED inside a transaction, so
// an API write to the same row waits for the batch and then applies its own value (no lost update),
// and several runs side by side never take the same row. Nothing is remembered between runs: the
// rows to do are found by what they hold, so a run that was killed is finished by running it again.
import type { Knex } from 'knex';
import type { Logger } from '../logger.js';
import { VaultError, type OwnerOnlyVault } from '../vault/owner-only-vault.js';
import type { OwnerKeys } from '../vault/owner-keys.js';
import { silentProgress, type ProgressFactory } from './progress.js';

export interface ReencryptOptions {
  batchSize?: number;
  dryRun?: boolean;
  progress?: ProgressFactory;
}

export interface ReencryptResult {
  pending: number;
  reencrypted: number;
  /** Rows that could not be opened (tampered, unknown key): left as they are, listed by id. */
  failed: { signalId: string; reason: string }[];
}

const SEALED_VERSION_SQL = `case when s.owner_only_payload ~ '^sv1\\.[1-9][0-9]{0,8}\\.' then split_part(s.owner_only_payload, '.', 2)::int end`;

/** Rows whose payload is not on its owner's newest usable data key. */
function candidates(db: Knex | Knex.Transaction) {
  return db('signals as s')
    .joinRaw(
      'join lateral (select max(k.version) as newest from owner_keys k where k.owner_id = s.owner_id and k.destroyed_at is null) k on k.newest is not null',
    )
    .whereNotNull('s.owner_only_payload')
    .whereNot('s.owner_only_payload', 'shredded')
    .where((q) => q.whereRaw(`s.owner_only_payload not like 'sv1.%'`).orWhereRaw(`${SEALED_VERSION_SQL} < k.newest`));
}

export async function reencryptPayloads(
  deps: { knex: Knex; vault: OwnerOnlyVault; ownerKeys: OwnerKeys; log: Logger },
  opts: ReencryptOptions = {},
): Promise<ReencryptResult> {
  const { knex, vault } = deps;
  // Owners with only legacy payloads have no data key yet: give them one, or their rows never qualify.
  const keyless = (await knex('signals as s')
    .distinct('s.owner_id as ownerId')
    .whereNotNull('s.owner_only_payload')
    .whereRaw(`s.owner_only_payload not like 'sv1.%'`)
    .whereNot('s.owner_only_payload', 'shredded')
    .whereNotExists(knex('owner_keys as k').whereRaw('k.owner_id = s.owner_id'))) as { ownerId: string }[];
  if (!opts.dryRun) for (const { ownerId } of keyless) await deps.ownerKeys.current(ownerId);

  const pending = Number((await candidates(knex).count({ n: '*' }).first())?.n ?? 0) + (opts.dryRun ? await legacyOfKeyless(knex, keyless) : 0);
  const result: ReencryptResult = { pending, reencrypted: 0, failed: [] };
  if (opts.dryRun || pending === 0) return result;

  const progress = (opts.progress ?? silentProgress)('reencrypt');
  progress.start(pending);
  let afterId = '00000000-0000-0000-0000-000000000000';
  try {
    for (;;) {
      const batch = await knex.transaction(async (trx) => {
        const rows = (await candidates(trx)
          .where('s.id', '>', afterId)
          .select('s.id', 's.owner_id as ownerId', 's.owner_only_payload as ownerOnlyPayload')
          .orderBy('s.id')
          .limit(opts.batchSize ?? 1000)
          .forUpdate('s')
          .skipLocked()) as { id: string; ownerId: string; ownerOnlyPayload: string }[];
        const updates: [string, string][] = [];
        for (const row of rows) {
          try {
            const resealed = await vault.resealToNewest({ signalId: row.id, ownerId: row.ownerId, ownerOnlyPayload: row.ownerOnlyPayload });
            if (resealed) updates.push([row.id, resealed]);
          } catch (err) {
            if (!(err instanceof VaultError)) throw err;
            result.failed.push({ signalId: row.id, reason: err.reason });
          }
        }
        if (updates.length > 0) {
          const values = updates.map(() => '(?::uuid, ?)').join(', ');
          await trx.raw(`update signals as s set owner_only_payload = v.p from (values ${values}) as v(id, p) where s.id = v.id`, updates.flat());
        }
        return { taken: rows.length, lastId: rows.at(-1)?.id, updated: updates.length };
      });
      if (batch.taken === 0 || !batch.lastId) break;
      afterId = batch.lastId;
      result.reencrypted += batch.updated;
      progress.advance(batch.taken);
    }
  } finally {
    progress.stop();
  }
  if (result.failed.length > 0) deps.log.warn({ failed: result.failed.length }, 'some owner-only payloads could not be re-encrypted');
  return result;
}

async function legacyOfKeyless(knex: Knex, keyless: { ownerId: string }[]): Promise<number> {
  if (keyless.length === 0) return 0;
  const row = await knex('signals')
    .whereIn('owner_id', keyless.map((k) => k.ownerId))
    .whereNotNull('owner_only_payload')
    .whereRaw(`owner_only_payload not like 'sv1.%'`)
    .whereNot('owner_only_payload', 'shredded')
    .count({ n: '*' })
    .first();
  return Number(row?.n ?? 0);
}
