import type { Command } from 'commander';
import { action, parseFlag, withDatabase } from '../runtime.js';
import { role, userId, userName } from '../../schemas/user.js';
import { createUser, disableUser, listUsers } from '../../services/users.js';

export function registerUsers(program: Command): void {
  const users = program.command('users').description('create, list and disable users');

  users
    .command('create')
    .description('create a user and print its first API token (shown only once)')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--role <role>', 'admin | owner | subscriber')
    .action(
      action(async (out, opts: { name: string; role: string }) => {
        const input = { name: parseFlag('--name', userName, opts.name), role: parseFlag('--role', role, opts.role) };
        const created = await withDatabase(out, (knex) => createUser(knex, input));
        const { id, name, role: userRole } = created.user;
        out.result({ id, name, role: userRole, token: created.token }, [
          `Created ${userRole} ${name} (${id}).`,
          `Token: ${created.token}`,
          'Store it now: it is shown only once (only its hash is kept).',
        ]);
      }),
    );

  users
    .command('list')
    .description('list users')
    .option('--role <role>', 'only users of this role')
    .action(
      action(async (out, opts: { role?: string }) => {
        const filter = opts.role ? { role: parseFlag('--role', role, opts.role) } : {};
        const list = await withDatabase(out, (knex) => listUsers(knex, filter));
        out.result(list, list.length ? list.map((u) => `${u.id}  ${u.role.padEnd(10)} ${u.name}${u.disabledAt ? '  (disabled)' : ''}`) : ['No users.']);
      }),
    );

  users
    .command('disable')
    .description('disable a user: every token of theirs stops working at once')
    .requiredOption('--user <id>', 'user id')
    .action(
      action(async (out, opts: { user: string }) => {
        const id = parseFlag('--user', userId, opts.user);
        const user = await withDatabase(out, (knex) => disableUser(knex, id));
        out.result({ id: user.id, disabledAt: user.disabledAt }, [`Disabled ${user.name} (${user.id}).`]);
      }),
    );
}
