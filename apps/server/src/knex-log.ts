// knex's own messages (failed connection attempts, warnings) as structured log lines instead of
// console output. They describe connections, never row values; only the first line of each is kept.
import type { Knex } from 'knex';
import type { Logger } from './logger.js';

const firstLine = (message: unknown) => String(message instanceof Error ? message.message : message).split('\n')[0]!.slice(0, 300);

export function knexLogger(log: Logger): Knex.Logger {
  const knex = log.child({ component: 'knex' });
  return {
    warn: (message) => knex.warn(firstLine(message)),
    error: (message) => knex.warn(firstLine(message)),
    debug: (message) => knex.debug(firstLine(message)),
    deprecate: (method, alternative) => knex.warn(`${method} is deprecated; use ${alternative}`),
  };
}
