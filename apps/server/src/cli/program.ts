// The CLI's command tree. Each command has --help, and --json for one line of output.
import { Command } from 'commander';
import { registerEvents } from './commands/events.js';
import { registerKeys } from './commands/keys.js';
import { registerOwners } from './commands/owners.js';
import { registerPayloads } from './commands/payloads.js';
import { registerSubscriptions } from './commands/subscriptions.js';
import { registerTokens } from './commands/tokens.js';
import { registerUsers } from './commands/users.js';

export function buildProgram(): Command {
  const program = new Command('signals')
    .description('Operate the signals service: keys, users, tokens, subscriptions, payload jobs, live-update events.\nUses DATABASE_URL, or the embedded PostgreSQL under .data/ when it is unset.')
    .option('--json', 'print one line of machine-readable JSON')
    .showHelpAfterError('(add --help for usage)');
  registerKeys(program);
  registerUsers(program);
  registerTokens(program);
  registerSubscriptions(program);
  registerPayloads(program);
  registerOwners(program);
  registerEvents(program);
  return program;
}
