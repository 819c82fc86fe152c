// `owners shred`: crypto-shredding. The owner's data keys are destroyed (their wrapped material
// removed, the row keeps when), legacy payloads that were under the earlier system's shared key are
// erased, and the owner is disabled. Signals stay for subscribers' history; their owner-only
// payloads now read as `destroyed`.
import type { Knex } from 'knex';
import { TRPCError } from '@trpc/server';
import type { OwnerKeys } from '../vault/owner-keys.js';
import { SHREDDED_MARKER } from '../vault/owner-only-vault.js';

export interface ShredResult {
  ownerId: string;
  destroyedKeys: number;
  erasedLegacyPayloads: number;
  sealedPayloads: number;
  dryRun: boolean;
}

export async function shredOwner(knex: Knex, ownerKeys: OwnerKeys, ownerId: string, opts: { dryRun?: boolean } = {}): Promise<ShredResult> {
  const result = await knex.transaction(async (trx) => {
    const owner = await trx('users').where('id', ownerId).forUpdate().first('id', 'role');
    if (!owner) throw new TRPCError({ code: 'NOT_FOUND', message: `No user ${ownerId}.` });
    if (owner.role !== 'owner') throw new TRPCError({ code: 'BAD_REQUEST', message: `User ${ownerId} is a ${owner.role}, not an owner.` });
    const keys = trx('owner_keys').where('owner_id', ownerId).whereNull('destroyed_at');
    const legacy = trx('signals').where('owner_id', ownerId).whereNotNull('owner_only_payload').whereRaw(`owner_only_payload not like 'sv1.%'`).whereNot('owner_only_payload', SHREDDED_MARKER);
    const sealed = trx('signals').where('owner_id', ownerId).whereRaw(`owner_only_payload like 'sv1.%'`);
    const count = async (q: Knex.QueryBuilder) => Number((await q.clone().count({ n: '*' }).first())?.n ?? 0);
    const summary = { ownerId, destroyedKeys: await count(keys), erasedLegacyPayloads: await count(legacy), sealedPayloads: await count(sealed), dryRun: Boolean(opts.dryRun) };
    if (opts.dryRun) return summary;
    await keys.clone().update({ wrapped_key: null, destroyed_at: trx.fn.now() });
    await legacy.clone().update({ owner_only_payload: SHREDDED_MARKER });
    await trx('users').where('id', ownerId).update({ disabled_at: trx.raw('coalesce(disabled_at, now())') });
    return summary;
  });
  ownerKeys.forget(ownerId);
  return result;
}
