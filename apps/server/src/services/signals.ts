// Signal use cases: publish, read, list, update and the status transitions. Access follows
// access/rules.ts; sealing goes through the vault.
import { randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import type { z } from 'zod';
import type { AppDeps } from '../context.js';
import type { AuthUser } from '../auth/authenticate.js';
import { signalAccess } from '../access/rules.js';
import { OWNER_ONLY_MAX_BYTES, type CreateSignalInput, type listSignalsInput, type updateSignalInput } from '../schemas/signal.js';
import { findSignal, isSubscribed, SIGNAL_COLUMNS, signalColumns, signalsTable, type SignalRow } from './signal-rows.js';
import { toOwnerView, toViewFor } from './signal-views.js';

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
  const inserted = (await signalsTable(deps.knex)
    .insert({
      id,
      owner_id: owner.id,
      instrument: input.instrument,
      side: input.side,
      entry_price: input.entryPrice,
      payload: JSON.stringify(input.payload ?? {}),
      owner_only_payload: ownerOnlyPayload,
      external_id: input.externalId ?? null,
      expires_at: input.expiresAt ?? null,
    } as never)
    // Idempotent publishing: the same externalId from the same owner yields the first signal.
    .onConflict(['owner_id', 'external_id'])
    .ignore()
    .returning(SIGNAL_COLUMNS)) as SignalRow[];
  const row =
    inserted[0] ??
    ((await signalsTable(deps.knex).select(SIGNAL_COLUMNS).where({ owner_id: owner.id, external_id: input.externalId }).first()) as SignalRow | undefined);
  if (!row) throw new TRPCError({ code: 'CONFLICT', message: 'The signal could not be published; retry the request.' });
  return toOwnerView(deps.vault, owner, row);
}

/** Loads a signal the viewer may see, or NOT_FOUND: existence is not leaked. */
async function loadVisible(deps: AppDeps, viewer: AuthUser, id: string): Promise<{ row: SignalRow; access: 'owner' | 'public' }> {
  const row = await findSignal(deps.knex, id);
  if (row) {
    const subscribed = viewer.role === 'subscriber' && (await isSubscribed(deps.knex, row.ownerId, viewer.id));
    const access = signalAccess({ viewer, signalOwnerId: row.ownerId, subscribed });
    if (access !== 'none') return { row, access };
  }
  throw new TRPCError({ code: 'NOT_FOUND', message: `No signal ${id}.` });
}

/** For writes: only the owner. Others who can see the signal get FORBIDDEN, the rest NOT_FOUND. */
async function loadOwn(deps: AppDeps, owner: AuthUser, id: string): Promise<SignalRow> {
  const { row, access } = await loadVisible(deps, owner, id);
  if (access !== 'owner') throw new TRPCError({ code: 'FORBIDDEN', message: 'Only the signal’s owner may change it.' });
  return row;
}

export async function getSignal(deps: AppDeps, viewer: AuthUser, id: string) {
  const { row } = await loadVisible(deps, viewer, id);
  return toViewFor(deps.vault, viewer, row);
}

export async function listSignals(deps: AppDeps, viewer: AuthUser, input: ListInput) {
  const query = deps.knex('signals as s').select(signalColumns('s'));
  if (viewer.role === 'subscriber') {
    // Subscribers see only the signals of owners they subscribe to.
    query.whereIn('s.owner_id', deps.knex('subscriptions').select('owner_id').where('subscriber_id', viewer.id));
  } else if (viewer.role === 'owner' && !input.ownerId) {
    query.where('s.owner_id', viewer.id);
  }
  if (input.ownerId) query.where('s.owner_id', input.ownerId);
  if (input.status) query.where('s.status', input.status);
  if (input.instrument) query.where('s.instrument', input.instrument);
  if (input.cursor) {
    if (!/^[0-9a-f-]{36}$/.test(input.cursor)) throw new TRPCError({ code: 'BAD_REQUEST', message: 'cursor: not a cursor returned by signals.list.' });
    // Keyset pagination: strictly older than the cursor row, ties broken by id.
    query.whereRaw('(s.created_at, s.id) < (select created_at, id from signals where id = ?)', [input.cursor]);
  }
  const rows = (await query.orderBy([{ column: 's.created_at', order: 'desc' }, { column: 's.id', order: 'desc' }]).limit(input.limit + 1)) as SignalRow[];
  const page = rows.slice(0, input.limit);
  const items = await Promise.all(page.map((row) => toViewFor(deps.vault, viewer, row)));
  return { items, nextCursor: rows.length > input.limit ? (page.at(-1)?.id ?? null) : null };
}

export async function updateSignal(deps: AppDeps, owner: AuthUser, input: UpdateInput) {
  const current = await loadOwn(deps, owner, input.id);
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
  return applyVersioned(deps, owner, current, input.expectedVersion, changes);
}

export async function transitionSignal(deps: AppDeps, owner: AuthUser, id: string, to: 'closed' | 'cancelled') {
  const current = await loadOwn(deps, owner, id);
  if (current.status !== 'open') throw new TRPCError({ code: 'PRECONDITION_FAILED', message: `The signal is already ${current.status}.` });
  return applyVersioned(deps, owner, current, current.version, { status: to, version: deps.knex.raw('version + 1'), updated_at: new Date() }, { status: 'open' });
}

/** Optimistic concurrency: the write applies only if nobody changed the row since `expectedVersion`. */
async function applyVersioned(
  deps: AppDeps,
  owner: AuthUser,
  current: SignalRow,
  expectedVersion: number,
  changes: Record<string, unknown>,
  extraWhere: Record<string, unknown> = {},
) {
  const [row] = (await signalsTable(deps.knex)
    .update(changes as never)
    .where({ id: current.id, owner_id: owner.id, version: expectedVersion, ...extraWhere })
    .returning(SIGNAL_COLUMNS)) as SignalRow[];
  if (!row) {
    throw new TRPCError({ code: 'CONFLICT', message: `The signal changed since version ${expectedVersion}; read it again and retry.` });
  }
  return toOwnerView(deps.vault, owner, row);
}
