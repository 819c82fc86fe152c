// The outbox of signal changes and the live feed read from it (`signals.onChange`).
//
// Writing: every change of a signal (created, updated, closed, cancelled) adds a row to
// `signal_events` in the same statement as the change, so both commit together in one round trip
// and no writer waits for another. The hub is told after the commit (`announce`): it wakes this
// process's feeds and, through a coalesced NOTIFY, those of other replicas. Events hold ids and
// the kind of change only, never payload contents.
//
// Reading: events are delivered in (tx_id, id) order (see event-position.ts), and only those of
// transactions older than the oldest one still running: that prefix can no longer grow, so a feed
// that has read it never misses an event that commits later. A feed starts there (or at the
// client's last event id when it resumes), yields what the caller may see, each as
// `tracked(position, …)`, and then waits for the hub. Events held back behind an open transaction
// are looked at again soon, not after the poll interval. What the caller may see is the
// `signal-feed` row rule.
import { tracked, TRPCError } from '@trpc/server';
import type { Knex } from 'knex';
import type { AppDeps } from '../context.js';
import type { AuthUser } from '../auth/authenticate.js';
import { checkSignalRow, type RowRule } from '../access/rules.js';
import { mapDatabaseError } from '../http/database-errors.js';
import type { SignalChange } from '../schemas/live.js';
import type { SignalEventHub } from '../events/hub.js';
import { signalColumns, type SignalRow } from './signal-rows.js';
import { toOwnerViewOrUnreadable, toPublicView } from './signal-views.js';
import { comparePositions, formatPosition, parseEventId, startOfTransaction, type EventPosition } from './event-position.js';

export type SignalEventKind = SignalChange['kind'];
export type { SignalChange };

/** Events read per query. */
const FEED_BATCH = 100;
/** How often a quiet feed re-checks that its token still works (a busy one checks per batch). */
const REAUTH_INTERVAL_MS = 30_000;
/** Looking again at events held back behind an open transaction: first after this, doubling… */
const HELD_BACK_FIRST_RETRY_MS = 5;
/** …up to this. */
const HELD_BACK_MAX_RETRY_MS = 1_000;

/**
 * Runs `write`, an insert or update of `signals` rows returning their columns (SIGNAL_COLUMNS),
 * and records an event of `kind` for each in the same statement. Returns the rows written.
 */
export async function writeSignalsWithEvents(db: { knex: Knex; events: SignalEventHub }, write: Knex.QueryBuilder, kind: SignalEventKind): Promise<SignalRow[]> {
  const { sql, bindings } = write.toSQL();
  const { rows } = (await db.knex.raw(
    `with changed as (${sql}),
      recorded as (insert into signal_events (signal_id, owner_id, kind) select id, "ownerId", ? from changed)
    select * from changed`,
    [...bindings, kind],
  )) as { rows: SignalRow[] };
  if (rows.length > 0) db.events.announce();
  return rows;
}

/** The oldest transaction still running: events of older ones are final. */
async function currentHorizon(knex: Knex): Promise<bigint> {
  const { rows } = (await knex.raw('select pg_snapshot_xmin(pg_current_snapshot())::text as horizon')) as { rows: { horizon: string }[] };
  return BigInt(rows[0]!.horizon);
}

/** Where a feed starts: after the client's last event, or at "now" when there is none or it is not from here. */
async function startPosition(knex: Knex, lastEventId: string | null): Promise<EventPosition> {
  const now = startOfTransaction(await currentHorizon(knex));
  if (lastEventId === null) return now;
  const parsed = parseEventId(lastEventId);
  if ('legacyId' in parsed) {
    // A plain id from before positions: its event's position, if it is still there.
    const row = (await knex('signal_events').where('id', parsed.legacyId.toString()).first(knex.raw('tx_id::text as "txId"'))) as { txId: string } | undefined;
    return row ? { txId: BigInt(row.txId), id: parsed.legacyId } : now;
  }
  // A position from the future (another database, a typo) would silence the feed: start from now.
  return comparePositions(parsed, now) < 0 ? parsed : now;
}

interface FeedRow extends SignalRow {
  eventId: string;
  txId: string;
  kind: SignalEventKind;
  subscribed: boolean;
}

/**
 * Events after `cursor` on the caller's own signals or those of owners they subscribe to, and the
 * horizon seen by the same statement (its snapshot): rows at or past it are not final yet.
 */
async function eventsAfter(knex: Knex, viewer: AuthUser, cursor: EventPosition): Promise<{ horizon: bigint; rows: FeedRow[] }> {
  const events = knex('signal_events as e')
    .join('signals as s', 's.id', 'e.signal_id')
    .leftJoin('subscriptions as sub', (j) => j.on('sub.owner_id', 'e.owner_id').andOnVal('sub.subscriber_id', viewer.id))
    .whereRaw('(e.tx_id, e.id) > (?::xid8, ?)', [cursor.txId.toString(), cursor.id.toString()])
    .andWhere((w) => w.where('e.owner_id', viewer.id).orWhereNotNull('sub.subscriber_id'))
    .orderBy([{ column: 'e.tx_id' }, { column: 'e.id' }])
    .limit(FEED_BATCH)
    .select([...signalColumns('s'), 'e.id as eventId', knex.raw('e.tx_id::text as "txId"'), 'e.kind as kind', knex.raw('(sub.subscriber_id is not null) as subscribed')])
    .toSQL();
  const { rows } = (await knex.raw(
    `select h.horizon::text as horizon, x.* from (select pg_snapshot_xmin(pg_current_snapshot()) as horizon) h left join lateral (${events.sql}) x on true`,
    [...events.bindings],
  )) as { rows: (FeedRow & { horizon: string })[] };
  const horizon = BigInt(rows[0]!.horizon);
  return { horizon, rows: rows.filter((r) => r.eventId !== null).map(({ horizon: _, ...row }) => row) };
}

/** A feed lives longer than a request: a token revoked or a user disabled meanwhile ends it. */
async function assertStillAuthorized(knex: Knex, viewer: AuthUser): Promise<void> {
  const row = await knex('api_tokens as t')
    .join('users as u', 'u.id', 't.user_id')
    .where({ 't.id': viewer.tokenId, 'u.id': viewer.id })
    .whereNull('t.revoked_at')
    .whereNull('u.disabled_at')
    .first(knex.raw('1'));
  if (!row) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'The token is invalid, revoked, or its user is disabled.' });
}

export interface FeedOptions {
  /** The row rule the rules table gives the procedure (must be `signal-feed`). */
  rows: RowRule;
  /** Resume after this event id; null: only what happens from now on. */
  lastEventId: string | null;
  signal?: AbortSignal;
}

export async function* signalFeed(deps: AppDeps, viewer: AuthUser, opts: FeedOptions) {
  if (opts.rows !== 'signal-feed') throw new Error(`signalFeed implements the signal-feed row rule, not ${opts.rows}`);
  const rows = opts.rows;
  try {
    let cursor = await startPosition(deps.knex, opts.lastEventId);
    let checkedAt = Date.now();
    let retryMs = HELD_BACK_FIRST_RETRY_MS;
    for (;;) {
      const generation = deps.events.generation;
      let heldBack = false;
      for (;;) {
        const { horizon, rows: batch } = await eventsAfter(deps.knex, viewer, cursor);
        const final = batch.filter((e) => BigInt(e.txId) < horizon);
        heldBack = final.length < batch.length;
        if (final.length > 0) {
          await assertStillAuthorized(deps.knex, viewer);
          checkedAt = Date.now();
          retryMs = HELD_BACK_FIRST_RETRY_MS;
        }
        for (const { eventId, txId, kind, subscribed, ...row } of final) {
          cursor = { txId: BigInt(txId), id: BigInt(eventId) };
          const decision = checkSignalRow(rows, { viewer, signalOwnerId: row.ownerId, subscribed });
          if (!decision.allowed) continue;
          const view = decision.view === 'owner' ? await toOwnerViewOrUnreadable(deps.vault, viewer, row) : toPublicView(row);
          const change: SignalChange = { kind, signal: view };
          yield tracked(formatPosition(cursor), change);
        }
        if (heldBack) break;
        if (batch.length < FEED_BATCH) {
          // All of the caller's final events are read: the cursor moves to the horizon, so other
          // owners' events below it are scanned once, not on every wake.
          const horizonStart = startOfTransaction(horizon);
          if (comparePositions(horizonStart, cursor) > 0) cursor = horizonStart;
          break;
        }
      }
      const reason = await deps.events.wait(generation, opts.signal, heldBack ? retryMs : undefined);
      if (heldBack) retryMs = Math.min(retryMs * 2, HELD_BACK_MAX_RETRY_MS);
      if (reason === 'aborted' || reason === 'closed') return;
      if (Date.now() - checkedAt >= REAUTH_INTERVAL_MS) {
        await assertStillAuthorized(deps.knex, viewer);
        checkedAt = Date.now();
      }
    }
  } catch (err) {
    // The procedure middleware has returned by the time a generator runs: map here.
    throw mapDatabaseError(err) ?? err;
  }
}
