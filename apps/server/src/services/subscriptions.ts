// Who follows whom: a subscriber sees the public view of an owner's signals.
import type { Knex } from 'knex';
import { TRPCError } from '@trpc/server';

const COLUMNS = ['owner_id as ownerId', 'subscriber_id as subscriberId', 'created_at as createdAt'];

export interface SubscriptionView { ownerId: string; subscriberId: string; createdAt: Date }

export async function addSubscription(knex: Knex, ownerId: string, subscriberId: string): Promise<SubscriptionView> {
  const users = (await knex('users').whereIn('id', [ownerId, subscriberId]).select('id', 'role')) as { id: string; role: string }[];
  const owner = users.find((u) => u.id === ownerId);
  const subscriber = users.find((u) => u.id === subscriberId);
  if (!owner) throw new TRPCError({ code: 'NOT_FOUND', message: `No user ${ownerId}.` });
  if (!subscriber) throw new TRPCError({ code: 'NOT_FOUND', message: `No user ${subscriberId}.` });
  if (owner.role !== 'owner') throw new TRPCError({ code: 'BAD_REQUEST', message: `User ${ownerId} is not an owner.` });
  if (subscriber.role !== 'subscriber') throw new TRPCError({ code: 'BAD_REQUEST', message: `User ${subscriberId} is not a subscriber.` });
  await knex('subscriptions').insert({ owner_id: ownerId, subscriber_id: subscriberId }).onConflict(['owner_id', 'subscriber_id']).ignore();
  return (await knex('subscriptions').where({ owner_id: ownerId, subscriber_id: subscriberId }).first(COLUMNS)) as SubscriptionView;
}

export async function removeSubscription(knex: Knex, ownerId: string, subscriberId: string): Promise<{ removed: boolean }> {
  const removed = await knex('subscriptions').where({ owner_id: ownerId, subscriber_id: subscriberId }).delete();
  return { removed: removed > 0 };
}

export async function listSubscriptions(knex: Knex, filter: { ownerId?: string; subscriberId?: string }): Promise<SubscriptionView[]> {
  const query = knex('subscriptions').select(COLUMNS).orderBy('created_at', 'asc');
  if (filter.ownerId) query.where('owner_id', filter.ownerId);
  if (filter.subscriberId) query.where('subscriber_id', filter.subscriberId);
  return (await query) as SubscriptionView[];
}
