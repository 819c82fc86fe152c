import type { Command } from 'commander';
import { z } from 'zod';
import { action, parseFlag, withDatabase } from '../runtime.js';
import { tokenLabel, userId } from '../../schemas/user.js';
import { createToken, revokeToken } from '../../services/users.js';

export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description('API tokens');

  tokens
    .command('create')
    .description('create an API token for a user (shown only once)')
    .requiredOption('--user <id>', 'user id')
    .option('--label <label>', 'what the token is for')
    .action(
      action(async (out, opts: { user: string; label?: string }) => {
        const id = parseFlag('--user', userId, opts.user);
        const label = opts.label === undefined ? undefined : parseFlag('--label', tokenLabel, opts.label);
        const created = await withDatabase(out, (knex) => createToken(knex, id, label));
        out.result(created, [`Token ${created.id}: ${created.token}`, 'Store it now: it is shown only once.']);
      }),
    );

  tokens
    .command('revoke')
    .description('revoke an API token')
    .requiredOption('--token-id <id>', 'token id (not the token itself)')
    .action(
      action(async (out, opts: { tokenId: string }) => {
        const id = parseFlag('--token-id', z.uuid(), opts.tokenId);
        const revoked = await withDatabase(out, (knex) => revokeToken(knex, id));
        out.result(revoked, [`Revoked token ${revoked.id}.`]);
      }),
    );
}
