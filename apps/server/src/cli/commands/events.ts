import type { Command } from 'commander';
import { z } from 'zod';
import { action, CliError, parseFlag, withDatabase } from '../runtime.js';
import { terminalProgress } from '../../jobs/progress.js';
import { pruneSignalEvents, signalEventsStatus, type PruneTarget } from '../../services/signal-events-retention.js';
import { batchSize } from './keys.js';

const UNIT_SECONDS = { d: 86_400, h: 3_600, m: 60 } as const;

/** A duration such as `30d`, `12h` or `90m`, in seconds. */
export const duration = z
  .string()
  .regex(/^[1-9][0-9]{0,5}[dhm]$/, 'expected a whole number of days, hours or minutes, e.g. 30d, 12h or 90m')
  .transform((text) => Number(text.slice(0, -1)) * UNIT_SECONDS[text.slice(-1) as keyof typeof UNIT_SECONDS]);

const when = (d: Date | null) => (d ? d.toISOString() : '—');

export function registerEvents(program: Command): void {
  const events = program.command('events').description('the live-update outbox (signal_events) behind signals.onChange');

  events
    .command('prune')
    .description('delete old live-update events, in short batches (safe while the server runs)')
    .option('--older-than <duration>', 'delete events created more than this long ago: 30d, 12h, 90m (days, hours, minutes)')
    .option('--all', 'delete every event (after restoring a dump into another cluster, before starting the service)')
    .option('--batch-size <n>', 'events per transaction', '10000')
    .option('--dry-run', 'only count what would be deleted')
    .addHelpText(
      'after',
      '\nGive exactly one of --older-than or --all. Each batch is its own short transaction, so live feeds\n' +
        'are never held back for long. A client resuming from a position older than what is kept misses\n' +
        'the pruned changes: it should list signals again. Run it daily, keeping 7 to 30 days, e.g.\n' +
        '  pnpm signals events prune --older-than 14d\n' +
        'See docs/operations.md ("Live-update events: retention").',
    )
    .action(
      action(async (out, opts: { olderThan?: string; all?: boolean; batchSize: string; dryRun?: boolean }) => {
        if ((opts.olderThan === undefined) === !opts.all) {
          throw new CliError('Give exactly one of --older-than <duration> (e.g. --older-than 30d) or --all.', 2);
        }
        const target: PruneTarget = opts.all ? { all: true } : { olderThanSeconds: parseFlag('--older-than', duration, opts.olderThan) };
        const size = parseFlag('--batch-size', batchSize, opts.batchSize);
        const result = await withDatabase(out, (knex) => pruneSignalEvents(knex, target, { batchSize: size, dryRun: opts.dryRun, progress: terminalProgress }));
        const which = result.cutoff ? `created before ${result.cutoff.toISOString()}` : '(all of them)';
        out.result(result, [opts.dryRun ? `${result.pending} event(s) ${which} would be deleted.` : `Deleted ${result.deleted} event(s) ${which}.`]);
      }),
    );

  events
    .command('status')
    .description('how many live-update events are kept, and the oldest and newest')
    .addHelpText('after', '\nOld events are deleted by `signals events prune`.')
    .action(
      action(async (out) => {
        const status = await withDatabase(out, (knex) => signalEventsStatus(knex));
        out.result(status, [`${status.count} event(s); oldest ${when(status.oldest)}, newest ${when(status.newest)}.`]);
      }),
    );
}
