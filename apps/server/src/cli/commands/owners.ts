import type { Command } from 'commander';
import { action, parseFlag, withServices } from '../runtime.js';
import { shredOwner } from '../../jobs/shred.js';
import { userId } from '../../schemas/user.js';

export function registerOwners(program: Command): void {
  const owners = program.command('owners').description('owner lifecycle');

  owners
    .command('shred')
    .description("crypto-shred an owner: destroy their data keys and disable them (cannot be undone)")
    .requiredOption('--owner <id>', 'owner user id')
    .option('--dry-run', 'only count what would be destroyed')
    .addHelpText('after', "\nTheir signals stay for subscribers' history; every owner-only payload of theirs then reads\nas destroyed. Running servers may keep a cached data key for up to the cache's time to live.")
    .action(
      action(async (out, opts: { owner: string; dryRun?: boolean }) => {
        const ownerId = parseFlag('--owner', userId, opts.owner);
        const result = await withServices(out, (s) => shredOwner(s.knex, s.ownerKeys, ownerId, { dryRun: opts.dryRun }));
        out.result(result, [
          `${opts.dryRun ? 'Would destroy' : 'Destroyed'} ${result.destroyedKeys} data key(s) of ${ownerId}: ${result.sealedPayloads} sealed payload(s) ${opts.dryRun ? 'would become' : 'are now'} unreadable, ${result.erasedLegacyPayloads} legacy payload(s) ${opts.dryRun ? 'would be' : ''} erased.`,
        ]);
      }),
    );
}
