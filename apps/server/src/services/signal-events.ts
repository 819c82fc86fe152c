// The outbox of signal changes and the live feed read from it (`signals.onChange`).
//
// Writing: every change of a signal (created, updated, closed, cancelled) adds a row to
// `signal_events` in the change's own transaction and NOTIFYs the channel with the event's id,
// signal id and kind (never payload contents). The advisory lock makes ids visible in increasing
// order, so "everything after id N" is a complete answer at any moment.
//
// Reading: a feed starts at the newest event (or at the client's last event id when it resumes),
// yields what the caller may see after it, in id order, each as `tracked(id, …)`, and then waits
// for the hub to say that something changed. What the caller may see is the `signal-feed` row rule.
import { tracked, TRPCError } from '@trpc/server';
import type { Knex } from 'knex';
import type { AppDeps } from '../context.js';
import type { AuthUser } from '../auth/authenticate.js';
import { checkSignalRow, type RowRule } from '../access/rules.js';
import { mapDatabaseError } from '../http/database-errors.js';
import { SIGNAL_EVENTS_CHANNEL } from '../events/hub.js';
import type { SignalChange } from '../schemas/live.js';
import { signalColumns, type SignalRow } from './signal-rows.js';
import { toOwnerView, toPublicView } from './signal-views.js';

export type SignalEventKind = SignalChange['kind'];
export type { SignalChange };

/** Serializes outbox writers from the event insert to commit (an arbitrary constant: "SIGE"). */
const OUTBOX_LOCK_KEY = 0x53494745;
/** Events read per query. */
const FEED_BATCH = 100;
/** How often a quiet feed re-checks that its token still works (a busy one checks per batch). */
const REAUTH_INTERVAL_MS = 30_000;

/** Records a change in the caller's transaction; returns the event id. */
export async function recordSignalEvent(trx: Knex.Transaction, event: { signalId: string; ownerId: string; kind: SignalEventKind }): Promise<string> {
  // Held until commit: the next writer's id is drawn only after this one is visible.
  await trx.raw('select pg_advisory_xact_lock(?)', [OUTBOX_LOCK_KEY]);
  const [row] = (await trx('signal_events')
    .insert({ signal_id: event.signalId, owner_id: event.ownerId, kind: event.kind })
    .returning(['id'])) as { id: string }[];
  const id = row!.id;
  await trx.raw('select pg_notify(?, ?)', [SIGNAL_EVENTS_CHANNEL, JSON.stringify({ id, signalId: event.signalId, kind: event.kind })]);
  return id;
}

/** The newest event id, or "0" when there is none. */
async function latestEventId(knex: Knex): Promise<string> {
  const row = (await knex('signal_events').max({ id: 'id' }).first()) as { id: string | null } | undefined;
  return row?.id ?? '0';
}

interface FeedRow extends SignalRow {
  eventId: string;
  kind: SignalEventKind;
  subscribed: boolean;
}

/** Events after `cursor` on the caller's own signals or those of owners they subscribe to. */
async function eventsAfter(knex: Knex, viewer: AuthUser, cursor: string): Promise<FeedRow[]> {
  return (await knex('signal_events as e')
    .join('signals as s', 's.id', 'e.signal_id')
    .leftJoin('subscriptions as sub', (j) => j.on('sub.owner_id', 'e.owner_id').andOnVal('sub.subscriber_id', viewer.id))
    .where('e.id', '>', cursor)
    .andWhere((w) => w.where('e.owner_id', viewer.id).orWhereNotNull('sub.subscriber_id'))
    
    .orderBy('e.id', 'asc')
    .limit(FEED_BATCH)
    .select([...signalColumns('s'), 'e.id as eventId', 'e.kind as kind', knex.raw('(sub.subscriber_id is not null) as subscribed')])) as FeedRow[];
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
    const latest = await latestEventId(deps.knex);
    // An id from the future (another database, a typo) would silence the feed: start from now.
    let cursor = opts.lastEventId !== null && BigInt(opts.lastEventId) < BigInt(latest) ? opts.lastEventId : latest;
    let checkedAt = Date.now();
    for (;;) {
      const generation = deps.events.generation;
      for (;;) {
        // Everything up to `horizon` is committed (ids become visible in order), so once the
        // caller's events up to it are read, the cursor moves past it: events of other owners are
        // scanned once, not on every wake.
        const horizon = await latestEventId(deps.knex);
        const batch = await eventsAfter(deps.knex, viewer, cursor);
        if (batch.length > 0) {
          await assertStillAuthorized(deps.knex, viewer);
          checkedAt = Date.now();
        }
        for (const { eventId, kind, subscribed, ...row } of batch) {
          cursor = eventId;
          const decision = checkSignalRow(rows, { viewer, signalOwnerId: row.ownerId, subscribed });
          if (!decision.allowed) continue;
          const view = decision.view === 'owner' ? await toOwnerView(deps.vault, viewer, row) : toPublicView(row);
          const change: SignalChange = { kind, signal: view };
          yield tracked(eventId, change);
        }
        if (batch.length < FEED_BATCH) {
          if (BigInt(horizon) > BigInt(cursor)) cursor = horizon;
          break;
        }
      }
      const reason = await deps.events.wait(generation, opts.signal);
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
