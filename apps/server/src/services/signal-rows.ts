// Reading and writing `signals` rows. Plain knex with explicit columns: the shapes here are the
// storage shapes, and the service turns them into API views.
import type { Knex } from 'knex';

export interface SignalRow {
  id: string;
  ownerId: string;
  instrument: string;
  side: 'buy' | 'sell';
  entryPrice: string;
  status: 'open' | 'closed' | 'cancelled';
  payload: Record<string, unknown>;
  ownerOnlyPayload: string | null;
  externalId: string | null;
  version: number;
  expiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export const SIGNAL_COLUMNS = [
  'id', 'owner_id as ownerId', 'instrument', 'side', 'entry_price as entryPrice', 'status', 'payload',
  'owner_only_payload as ownerOnlyPayload', 'external_id as externalId', 'version', 'expires_at as expiresAt',
  'created_at as createdAt', 'updated_at as updatedAt',
];

/** Same columns qualified by a table alias, for joins. */
export function signalColumns(alias: string): string[] {
  return SIGNAL_COLUMNS.map((c) => `${alias}.${c}`);
}

export function signalsTable(db: Knex | Knex.Transaction) {
  return db('signals');
}

export async function findSignal(db: Knex | Knex.Transaction, id: string): Promise<SignalRow | undefined> {
  return (await signalsTable(db).select(SIGNAL_COLUMNS).where('id', id).first()) as SignalRow | undefined;
}

export async function isSubscribed(db: Knex | Knex.Transaction, ownerId: string, subscriberId: string): Promise<boolean> {
  const row = await db('subscriptions').where({ owner_id: ownerId, subscriber_id: subscriberId }).first(db.raw('1'));
  return Boolean(row);
}
