// `keys rotate-owner`: a new data-key version per owner; new writes use it at once (in this
// process) or within the data-key cache's time to live (in running servers).
import type { Knex } from 'knex';
import type { OwnerKeys } from '../vault/owner-keys.js';
import { silentProgress, type ProgressFactory } from './progress.js';

export async function rotateOwnerKeys(
  knex: Knex,
  ownerKeys: OwnerKeys,
  target: { ownerId: string } | { all: true },
  opts: { dryRun?: boolean; progress?: ProgressFactory } = {},
): Promise<{ owners: { ownerId: string; version: number | null }[] }> {
  const query = knex('users').where('role', 'owner').whereNull('disabled_at').select('id').orderBy('id');
  if ('ownerId' in target) query.where('id', target.ownerId);
  const owners = ((await query) as { id: string }[]).map((r) => r.id);
  if ('ownerId' in target && owners.length === 0) {
    throw new Error(`No enabled owner ${target.ownerId}.`);
  }
  if (opts.dryRun) return { owners: owners.map((ownerId) => ({ ownerId, version: null })) };
  const progress = (opts.progress ?? silentProgress)('rotate-owner');
  progress.start(owners.length);
  const result: { ownerId: string; version: number | null }[] = [];
  for (const ownerId of owners) {
    result.push({ ownerId, version: await ownerKeys.rotate(ownerId) });
    progress.advance(1);
  }
  progress.stop();
  return { owners: result };
}
