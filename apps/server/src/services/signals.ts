// Signal use cases: publish, read, list, update and the status transitions. Access follows
// access/rules.ts; sealing goes through the vault.
import { randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import type { Knex } from 'knex';
import type { z } from 'zod';
import type { AppDeps } from '../context.js';
import type { AuthUser } from '../auth/authenticate.js';
import { checkSignalRow, type RowRule, type SignalRowRule } from '../access/rules.js';
import { OWNER_ONLY_MAX_BYTES, type CreateSignalInput, type listSignalsInput, type updateSignalInput } from '../schemas/signal.js';
import { findSignal, isSubscribed, SIGNAL_COLUMNS, signalColumns, signalsTable, type SignalRow } from './signal-rows.js';
import { ownerViewOf, toListViewFor, toOwnerView, toPublicView } from './signal-views.js';
import { writeSignalsWithEvents, type SignalEventKind } from './signal-events.js';

type ListInput = z.output<typeof listSignalsInput>;
type UpdateInput = z.output<typeof updateSignalInput>;

function assertOwnerOnlySize(ownerOnly: Record<string, unknown> | null | undefined): void {
  if (ownerOnly == null) return;
  const bytes = Buffer.byteLength(JSON.stringify(ownerOnly), 'utf8');
  if (bytes > OWNER_ONLY_MAX_BYTES) {
    throw new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: `ownerOnly is ${bytes} bytes serialized; the limit is ${OWNER_ONLY_MAX_BYTES}.` });
  }
}

export async function createSignal(deps: AppDeps, owner: AuthUser, input: CreateSignalInput) {
  assertOwnerOnlySize(input.ownerOnly);
  const id = randomUUID();
  const ownerOnlyPayload = input.ownerOnly ? await deps.vault.seal({ signalId: id, ownerId: owner.id }, input.ownerOnly) : null;
  const inserted = await deps.signalInserts.insert({
    id,
    owner_id: owner.id,
    instrument: input.instrument,
    side: input.side,
    entry_price: input.entryPrice,
    payload: JSON.stringify(input.payload ?? {}),
    owner_only_payload: ownerOnlyPayload,
    external_id: input.externalId ?? null,
    expires_at: input.expiresAt ?? null,
  });
  // Just written: the payload is the one sealed a moment ago, with no need to open it again.
  if (inserted) return ownerViewOf(inserted, input.ownerOnly ? { state: 'present', value: input.ownerOnly } : { state: 'absent', value: null });
  // Published before under this externalId: the signal as stored.
  const row = (await signalsTable(deps.knex).select(SIGNAL_COLUMNS).where({ owner_id: owner.id, external_id: input.externalId }).first()) as SignalRow | undefined;
  if (!row) throw new TRPCError({ code: 'CONFLICT', message: 'The signal could not be published; retry the request.' });
  return toOwnerView(deps.vault, owner, row);
}

/**
 * Loads a signal for what the procedure's row rule allows the caller (see checkSignalRow): the row
 * and the view they get, or NOT_FOUND / FORBIDDEN. Existence is not leaked to those who may not see.
 */
export async function loadSignalFor(
  deps: AppDeps,
  viewer: AuthUser,
  id: string,
  rows: RowRule,
): Promise<{ row: SignalRow; view: 'owner' | 'public' }> {
  const rule = signalRowRule(rows);
  const row = await findSignal(deps.knex, id);
  if (!row) throw new TRPCError({ code: 'NOT_FOUND', message: `No signal ${id}.` });
  const subscribed = viewer.role === 'subscriber' && (await isSubscribed(deps.knex, row.ownerId, viewer.id));
  const decision = checkSignalRow(rule, { viewer, signalOwnerId: row.ownerId, subscribed });
  if (decision.allowed) return { row, view: decision.view };
  if (decision.code === 'FORBIDDEN') throw new TRPCError({ code: 'FORBIDDEN', message: FORBIDDEN_MESSAGES[rule] });
  throw new TRPCError({ code: 'NOT_FOUND', message: `No signal ${id}.` });
}

const FORBIDDEN_MESSAGES: Record<SignalRowRule, string> = {
  'visible-signal': 'You may not see this signal.',
  'own-signal': 'Only the signal’s owner may do this.',
  'subscribed-signal': 'Only subscribers of the signal’s owner may do this.',
  'signal-feed': 'You may not follow this signal.',
};

function signalRowRule(rows: RowRule): SignalRowRule {
  if (rows === 'visible-signal' || rows === 'own-signal' || rows === 'subscribed-signal' || rows === 'signal-feed') return rows;
  throw new Error(`The row rule ${rows} is not about one signal.`);
}

/** Fails loudly when a list procedure's rule is not the one its query implements. */
export function assertListRule(rows: RowRule, implemented: RowRule): void {
  if (rows !== implemented) throw new Error(`This query implements the ${implemented} row rule, not ${rows}.`);
}

export async function getSignal(deps: AppDeps, viewer: AuthUser, id: string, rows: RowRule) {
  const { row, view } = await loadSignalFor(deps, viewer, id, rows);
  return view === 'owner' ? toOwnerView(deps.vault, viewer, row) : toPublicView(row);
}

export async function listSignals(deps: AppDeps, viewer: AuthUser, input: ListInput, rows: RowRule) {
  assertListRule(rows, 'visible-signals');
  const filtered = (q: Knex.QueryBuilder) => {
    if (input.ownerId) q.where('s.owner_id', input.ownerId);
    if (input.status) q.where('s.status', input.status);
    if (input.instrument) q.where('s.instrument', input.instrument);
    return q;
  };
  let query: Knex.QueryBuilder;
  if (viewer.role === 'subscriber') {
    // Subscribers see only the signals of owners they subscribe to: each such owner's newest page
    // through the (owner_id, created_at, id) index, then merged. (With `owner_id in (subscriptions)`
    // PostgreSQL walked the global created_at index past every other owner's signals: a list took
    // time in proportion to the whole table. See docs/performance.md.)
    const perOwner = filtered(deps.knex('signals as s').select('s.*').whereRaw('s.owner_id = sub.owner_id'));
    if (input.cursor) perOwner.whereRaw('(s.created_at, s.id) < (select created_at, id from signals where id = ?)', [input.cursor]);
    perOwner.orderBy([{ column: 's.created_at', order: 'desc' }, { column: 's.id', order: 'desc' }]).limit(input.limit + 1);
    const lateral = perOwner.toSQL();
    query = deps.knex
      .select(signalColumns('s'))
      .from('subscriptions as sub')
      .joinRaw(`cross join lateral (${lateral.sql}) as s`, [...lateral.bindings])
      .where('sub.subscriber_id', viewer.id);
  } else {
    query = filtered(deps.knex('signals as s').select(signalColumns('s')));
    if (viewer.role === 'owner' && !input.ownerId) query.where('s.owner_id', viewer.id);
  }
  const { page, nextCursor } = await keysetPage(query, 's', input, 'signals.list');
  const items = await Promise.all(page.map((row) => toListViewFor(deps.vault, viewer, row)));
  return { items, nextCursor };
}

export async function updateSignal(deps: AppDeps, owner: AuthUser, input: UpdateInput, rows: RowRule) {
  const { row: current } = await loadOwn(deps, owner, input.id, rows);
  if (current.status !== 'open') throw new TRPCError({ code: 'PRECONDITION_FAILED', message: `The signal is ${current.status}; only open signals can be updated.` });
  const { patch } = input;
  assertOwnerOnlySize(patch.ownerOnly);
  const changes: Record<string, unknown> = { version: deps.knex.raw('version + 1'), updated_at: new Date() };
  if (patch.entryPrice !== undefined) changes.entry_price = patch.entryPrice;
  if (patch.payload !== undefined) changes.payload = JSON.stringify(patch.payload);
  if (patch.expiresAt !== undefined) changes.expires_at = patch.expiresAt;
  if (patch.ownerOnly !== undefined) {
    changes.owner_only_payload = patch.ownerOnly === null ? null : await deps.vault.seal({ signalId: current.id, ownerId: owner.id }, patch.ownerOnly);
  }
  return applyVersioned(deps, owner, current, input.expectedVersion, changes, 'updated');
}

export async function transitionSignal(deps: AppDeps, owner: AuthUser, id: string, to: 'closed' | 'cancelled', rows: RowRule) {
  const { row: current } = await loadOwn(deps, owner, id, rows);
  if (current.status !== 'open') throw new TRPCError({ code: 'PRECONDITION_FAILED', message: `The signal is already ${current.status}.` });
  return applyVersioned(deps, owner, current, current.version, { status: to, version: deps.knex.raw('version + 1'), updated_at: new Date() }, to, { status: 'open' });
}

/** For writes: the row rule must give the caller the owner view (own-signal). */
async function loadOwn(deps: AppDeps, owner: AuthUser, id: string, rows: RowRule) {
  const loaded = await loadSignalFor(deps, owner, id, rows);
  if (loaded.view !== 'owner') throw new Error(`The row rule ${rows} does not allow writes.`);
  return loaded;
}

/**
 * Keyset pagination, newest first, by `(created_at, id)` with the last row's id as cursor; the
 * comparison happens in SQL, so timestamps keep PostgreSQL's microseconds.
 */
export async function keysetPage(query: Knex.QueryBuilder, alias: string, input: { cursor?: string | null | undefined; limit: number }, procedure: string) {
  if (input.cursor) {
    if (!/^[0-9a-f-]{36}$/.test(input.cursor)) throw new TRPCError({ code: 'BAD_REQUEST', message: `cursor: not a cursor returned by ${procedure}.` });
    // Strictly older than the cursor row, ties broken by id.
    query.whereRaw(`(${alias}.created_at, ${alias}.id) < (select created_at, id from signals where id = ?)`, [input.cursor]);
  }
  const rows = (await query.orderBy([{ column: `${alias}.created_at`, order: 'desc' }, { column: `${alias}.id`, order: 'desc' }]).limit(input.limit + 1)) as SignalRow[];
  const page = rows.slice(0, input.limit);
  return { page, nextCursor: rows.length > input.limit ? (page.at(-1)?.id ?? null) : null };
}

/** Optimistic concurrency: the write applies only if nobody changed the row since `expectedVersion`. */
async function applyVersioned(
  deps: AppDeps,
  owner: AuthUser,
  current: SignalRow,
  expectedVersion: number,
  changes: Record<string, unknown>,
  kind: SignalEventKind,
  extraWhere: Record<string, unknown> = {},
) {
  const update = signalsTable(deps.knex)
    .update(changes as never)
    .where({ id: current.id, owner_id: owner.id, version: expectedVersion, ...extraWhere })
    .returning(SIGNAL_COLUMNS);
  const [row] = await writeSignalsWithEvents(deps, update, kind);
  if (!row) {
    throw new TRPCError({ code: 'CONFLICT', message: `The signal changed since version ${expectedVersion}; read it again and retry.` });
  }
  return toOwnerView(deps.vault, owner, row);
}
