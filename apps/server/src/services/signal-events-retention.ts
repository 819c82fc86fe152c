// Retention of the `signal_events` outbox (`signals events prune` and `signals events status`).
//
// Nothing else ever deletes events, so the outbox grows with every signal change. Pruning deletes
// in batches, each its own short transaction: feeds only deliver events of transactions older than
// the oldest one still running (see signal-events.ts), so one long delete would hold back every
// live event of the cluster until it ended. The rows to delete are bounded when the run starts (the
// cut-off time, and the largest id then present), so a run on a busy service still ends, and a run
// that was interrupted is finished by running it again.
import type { Knex } from 'knex';
import { silentProgress, type ProgressFactory } from '../jobs/progress.js';

/** Which events to delete: those created more than `olderThanSeconds` ago, or all of them. */
export type PruneTarget = { olderThanSeconds: number } | { all: true };

export interface PruneOptions {
  batchSize?: number;
  dryRun?: boolean;
  progress?: ProgressFactory;
}

export interface PruneResult {
  /** Events matching the target when the run started (what a dry run would delete). */
  pending: number;
  deleted: number;
  /** Events created before this instant (the database's clock) were deleted; null with `all`. */
  cutoff: Date | null;
}

export interface EventsStatus {
  count: number;
  oldest: Date | null;
  newest: Date | null;
}

const DEFAULT_BATCH_SIZE = 10_000;

export async function pruneSignalEvents(knex: Knex, target: PruneTarget, opts: PruneOptions = {}): Promise<PruneResult> {
  // The cut-off comes from the database's clock, as created_at does; it is kept as text, exact to
  // the microsecond (a Date would round it to the millisecond).
  const { rows: bounds } = (await knex.raw(
    `select b.cutoff, b.cutoff::text as "cutoffText", (select max(id) from signal_events)::text as "maxId"
    from (select ${'all' in target ? 'null::timestamptz' : 'now() - make_interval(secs => ?)'} as cutoff) b`,
    'all' in target ? [] : [target.olderThanSeconds],
  )) as { rows: { cutoff: Date | null; cutoffText: string | null; maxId: string | null }[] };
  const { cutoff, cutoffText, maxId } = bounds[0]!;
  const result: PruneResult = { pending: 0, deleted: 0, cutoff };
  if (maxId === null) return result;

  const matching = (q: Knex.QueryBuilder) => (cutoffText === null ? q : q.whereRaw('created_at < ?::timestamptz', [cutoffText]));
  result.pending = Number((await matching(knex('signal_events').where('id', '<=', maxId)).count({ n: '*' }).first())?.n ?? 0);
  if (opts.dryRun || result.pending === 0) return result;

  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  const progress = (opts.progress ?? silentProgress)('prune events');
  progress.start(result.pending);
  // Keyset on id: each batch starts after the last one, so it never rescans deleted rows.
  let afterId = '0';
  try {
    for (;;) {
      // One statement, so one short transaction of its own (autocommit).
      const batch = matching(knex('signal_events').select('id').where('id', '>', afterId).andWhere('id', '<=', maxId)).orderBy('id').limit(batchSize).toSQL();
      const { rows } = (await knex.raw(
        `with doomed as (${batch.sql}), gone as (delete from signal_events e using doomed d where e.id = d.id returning e.id)
        select count(*)::int as deleted, (select max(id) from doomed)::text as "lastId" from gone`,
        [...batch.bindings],
      )) as { rows: { deleted: number; lastId: string | null }[] };
      const { deleted, lastId } = rows[0]!;
      if (lastId === null) break;
      afterId = lastId;
      result.deleted += deleted;
      progress.advance(deleted);
    }
  } finally {
    progress.stop();
  }
  return result;
}

export async function signalEventsStatus(knex: Knex): Promise<EventsStatus> {
  const row = (await knex('signal_events')
    .first(knex.raw('count(*)::text as count'), knex.raw('min(created_at) as oldest'), knex.raw('max(created_at) as newest'))) as
    | { count: string; oldest: Date | null; newest: Date | null }
    | undefined;
  return { count: Number(row?.count ?? 0), oldest: row?.oldest ?? null, newest: row?.newest ?? null };
}
