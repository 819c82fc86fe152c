import type { Command } from 'commander';
import { action, parseFlag, withDatabase } from '../runtime.js';
import { userId } from '../../schemas/user.js';
import { addSubscription, listSubscriptions, removeSubscription } from '../../services/subscriptions.js';

interface PairFlags { owner: string; subscriber: string }

/** `add` and `remove` take the same two required flags. */
function pairCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .requiredOption('--owner <id>', 'owner user id')
    .requiredOption('--subscriber <id>', 'subscriber user id');
}

function parsePair(opts: PairFlags): { ownerId: string; subscriberId: string } {
  return { ownerId: parseFlag('--owner', userId, opts.owner), subscriberId: parseFlag('--subscriber', userId, opts.subscriber) };
}

export function registerSubscriptions(program: Command): void {
  const subs = program.command('subscriptions').description("who sees whose signals (public view)");

  pairCommand(subs, 'add', 'subscribe a subscriber to an owner')
    .action(
      action(async (out, opts: PairFlags) => {
        const { ownerId, subscriberId } = parsePair(opts);
        const sub = await withDatabase(out, (knex) => addSubscription(knex, ownerId, subscriberId));
        out.result(sub, [`${subscriberId} now follows ${ownerId}.`]);
      }),
    );

  pairCommand(subs, 'remove', 'end a subscription')
    .action(
      action(async (out, opts: PairFlags) => {
        const { ownerId, subscriberId } = parsePair(opts);
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
