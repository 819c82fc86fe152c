// Start-up guard: refuse a keyring that lacks a KEK still wrapping some owner's data key, since
// every payload under that key would become unreadable.
import type { Knex } from 'knex';
import type { Keyring } from '@signals/crypto';

export async function missingKeks(knex: Knex, keyring: Keyring): Promise<{ kekId: string; ownerKeys: number }[]> {
  const rows = (await knex('owner_keys')
    .whereNull('destroyed_at')
    .groupBy('kek_id')
    .select('kek_id as kekId')
    .count({ ownerKeys: '*' })) as { kekId: string; ownerKeys: string | number }[];
  return rows.filter((r) => !keyring.get(r.kekId)).map((r) => ({ kekId: r.kekId, ownerKeys: Number(r.ownerKeys) }));
}

export async function assertKeyringCoversDataKeys(knex: Knex, keyring: Keyring): Promise<void> {
  const missing = await missingKeks(knex, keyring);
  if (missing.length > 0) {
    const list = missing.map((m) => `${m.kekId} (wraps ${m.ownerKeys} owner key${m.ownerKeys === 1 ? '' : 's'})`).join(', ');
    throw new Error(
      `SIGNALS_MASTER_KEYS lacks key-encryption keys still in use: ${list}. Put them back, or run \`pnpm signals keys rewrap\` with them present before removing them.`,
    );
  }
}
