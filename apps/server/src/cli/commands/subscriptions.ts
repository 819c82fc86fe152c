import type { Command } from 'commander';
import { action, parseFlag, withDatabase } from '../runtime.js';
import { userId } from '../../schemas/user.js';
import { addSubscription, listSubscriptions, removeSubscription } from '../../services/subscriptions.js';

export function registerSubscriptions(program: Command): void {
  const subs = program.command('subscriptions').description("who sees whose signals (public view)");

  subs
    .command('add')
    .description('subscribe a subscriber to an owner')
    .requiredOption('--owner <id>', 'owner user id')
    .requiredOption('--subscriber <id>', 'subscriber user id')
    .action(
      action(async (out, opts: { owner: string; subscriber: string }) => {
        const ownerId = parseFlag('--owner', userId, opts.owner);
        const subscriberId = parseFlag('--subscriber', userId, opts.subscriber);
        const sub = await withDatabase(out, (knex) => addSubscription(knex, ownerId, subscriberId));
        out.result(sub, [`${subscriberId} now follows ${ownerId}.`]);
      }),
    );

  subs
    .command('remove')
    .description('end a subscription')
    .requiredOption('--owner <id>', 'owner user id')
    .requiredOption('--subscriber <id>', 'subscriber user id')
    .action(
      action(async (out, opts: { owner: string; subscriber: string }) => {
        const ownerId = parseFlag('--owner', userId, opts.owner);
        const subscriberId = parseFlag('--subscriber', userId, opts.subscriber);
        const result = await withDatabase(out, (knex) => removeSubscription(knex, ownerId, subscriberId));
        out.result(result, [result.removed ? 'Subscription removed.' : 'There was no such subscription.']);
      }),
    );

  subs
    .command('list')
    .description('list subscriptions')
    .option('--owner <id>', 'only this owner')
    .option('--subscriber <id>', 'only this subscriber')
    .action(
      action(async (out, opts: { owner?: string; subscriber?: string }) => {
        const filter = {
          ownerId: opts.owner ? parseFlag('--owner', userId, opts.owner) : undefined,
          subscriberId: opts.subscriber ? parseFlag('--subscriber', userId, opts.subscriber) : undefined,
        };
        const list = await withDatabase(out, (knex) => listSubscriptions(knex, filter));
        out.result(list, list.length ? list.map((s) => `${s.subscriberId} follows ${s.ownerId}`) : ['No subscriptions.']);
      }),
    );
}
