// The approval workflow: each subscriber approves or rejects, once, the open signals of the owners
// they subscribe to; the owner sees the uptake. Who may do what is the rules table's row rules
// (subscribed-signals, subscribed-signal, own-signal), applied through loadSignalFor.
import { TRPCError } from '@trpc/server';
import type { z } from 'zod';
import type { AppDeps } from '../context.js';
import type { AuthUser } from '../auth/authenticate.js';
import type { RowRule } from '../access/rules.js';
import type { decideInput, pendingInput } from '../schemas/approval.js';
import { signalColumns, type SignalRow } from './signal-rows.js';
import { toPublicView } from './signal-views.js';
import { assertListRule, keysetPage, loadSignalFor } from './signals.js';

type PendingInput = z.output<typeof pendingInput>;
type DecideInput = z.output<typeof decideInput>;

/** Where a decision came from, for the audit columns. */
export interface DecisionOrigin {
  ip: string | null;
  userAgent: string | null;
}

const IP_MAX_CHARS = 64;
const USER_AGENT_MAX_CHARS = 512;

function isOpen(row: Pick<SignalRow, 'status' | 'expiresAt'>, now = Date.now()): boolean {
  return row.status === 'open' && (row.expiresAt === null || row.expiresAt.getTime() > now);
}

function notOpen(row: Pick<SignalRow, 'id' | 'status'>): TRPCError {
  const why = row.status === 'open' ? 'has expired' : `is ${row.status}`;
  return new TRPCError({ code: 'PRECONDITION_FAILED', message: `Signal ${row.id} ${why}; decisions are closed.` });
}

/**
 * The caller's undecided open signals from owners they subscribe to, newest first, public view.
 *
 * Each followed owner's newest pending page is read through the partial index on open signals,
 * (owner_id, created_at desc, id desc) where status = 'open', with every filter and the cursor
 * applied inside; the pages are then merged by the usual keyset pagination. (With
 * `owner_id in (subscriptions)` PostgreSQL walked the global created_at index past every other
 * owner's signals: a page took time in proportion to the whole table. Same pattern as listSignals;
 * see docs/performance.md.)
 */
export async function pendingApprovals(deps: AppDeps, subscriber: AuthUser, input: PendingInput, rows: RowRule) {
  assertListRule(rows, 'subscribed-signals');
  const { knex } = deps;
  const perOwner = knex('signals as s')
    .select('s.*')
    .whereRaw('s.owner_id = sub.owner_id')
    // A literal, not a binding: the partial index's predicate must match in generic plans too.
    .whereRaw("s.status = 'open'")
    .where((w) => w.whereNull('s.expires_at').orWhere('s.expires_at', '>', knex.fn.now()))
    .whereNotExists(knex('approvals as a').select(knex.raw('1')).whereRaw('a.signal_id = s.id').where('a.user_id', subscriber.id));
  // The same cursor condition keysetPage adds outside (it validates the cursor before any query runs).
  if (input.cursor) perOwner.whereRaw('(s.created_at, s.id) < (select created_at, id from signals where id = ?)', [input.cursor]);
  perOwner.orderBy([{ column: 's.created_at', order: 'desc' }, { column: 's.id', order: 'desc' }]).limit(input.limit + 1);
  const lateral = perOwner.toSQL();
  const query = knex
    .select(signalColumns('s'))
    .from('subscriptions as sub')
    .joinRaw(`cross join lateral (${lateral.sql}) as s`, [...lateral.bindings])
    .where('sub.subscriber_id', subscriber.id);
  const { page, nextCursor } = await keysetPage(query, 's', input, 'approvals.pending');
  return { items: page.map(toPublicView), nextCursor };
}

/**
 * Records the caller's decision. Refused: a signal the caller may not see (NOT_FOUND), one they may
 * see but not decide on (FORBIDDEN), one that is closed, cancelled or expired (PRECONDITION_FAILED,
 * also when that happens concurrently), a second decision (CONFLICT, also when both race).
 */
export async function decide(deps: AppDeps, subscriber: AuthUser, input: DecideInput, origin: DecisionOrigin, rows: RowRule) {
  const { row } = await loadSignalFor(deps, subscriber, input.signalId, rows);
  if (!isOpen(row)) throw notOpen(row);
  const decision = input.decision === 'approve' ? 'approved' : 'rejected';
  // One statement: the signal row is share-locked while it is checked to be open, so a decision
  // is either before a concurrent close or refused after it; the unique (signal_id, user_id)
  // constraint keeps exactly one of two racing decisions.
  const result = await deps.knex.raw(
    `insert into approvals (signal_id, user_id, decision, reason, ip, user_agent)
     select s.id, ?, ?, ?, ?, ? from signals s
      where s.id = ? and s.status = 'open' and (s.expires_at is null or s.expires_at > now())
      for share
     on conflict (signal_id, user_id) do nothing
     returning signal_id as "signalId", decision, reason, decided_at as "decidedAt"`,
    [
      subscriber.id,
      decision,
      input.reason ?? null,
      origin.ip?.slice(0, IP_MAX_CHARS) ?? null,
      origin.userAgent?.slice(0, USER_AGENT_MAX_CHARS) ?? null,
      row.id,
    ],
  );
  const inserted = (result as { rows: { signalId: string; decision: 'approved' | 'rejected'; reason: string | null; decidedAt: Date }[] }).rows[0];
  if (inserted) return inserted;
  const existing = await deps.knex('approvals').where({ signal_id: row.id, user_id: subscriber.id }).first(deps.knex.raw('1'));
  if (existing) throw new TRPCError({ code: 'CONFLICT', message: `You have already decided on signal ${row.id}.` });
  const now = (await deps.knex('signals').where('id', row.id).first('id', 'status', 'expires_at as expiresAt')) as Pick<SignalRow, 'id' | 'status' | 'expiresAt'>;
  throw notOpen(now);
}

/** The owner's view of the uptake: every decision, and how many subscribers have not decided. */
export async function decisionsFor(deps: AppDeps, owner: AuthUser, signalId: string, rows: RowRule) {
  const { row } = await loadSignalFor(deps, owner, signalId, rows);
  const { knex } = deps;
  const decisions = (await knex('approvals as a')
    .join('users as u', 'u.id', 'a.user_id')
    .where('a.signal_id', row.id)
    .orderBy([{ column: 'a.decided_at', order: 'asc' }, { column: 'a.id', order: 'asc' }])
    .select('a.user_id as subscriberId', 'u.name as subscriberName', 'a.decision', 'a.reason', 'a.decided_at as decidedAt')) as {
    subscriberId: string;
    subscriberName: string;
    decision: 'approved' | 'rejected';
    reason: string | null;
    decidedAt: Date;
  }[];
  // Pending: the owner's current, enabled subscribers without a decision on this signal.
  const pendingRow = (await knex('subscriptions as sub')
    .join('users as u', 'u.id', 'sub.subscriber_id')
    .where('sub.owner_id', row.ownerId)
    .whereNull('u.disabled_at')
    .whereNotExists(knex('approvals as a').select(knex.raw('1')).whereRaw('a.user_id = sub.subscriber_id').where('a.signal_id', row.id))
    .count({ n: '*' })
    .first()) as { n: string | number } | undefined;
  const counts = {
    approved: decisions.filter((d) => d.decision === 'approved').length,
    rejected: decisions.filter((d) => d.decision === 'rejected').length,
    pending: Number(pendingRow?.n ?? 0),
  };
  return { signalId: row.id, decisions, counts };
}
