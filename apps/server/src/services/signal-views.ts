// Turns stored rows into API views. The public view is parsed through a schema without the
// owner-only field; only the owner's view asks the vault to open the payload (and is checked by the
// output schema of the procedure that returns it).
import type { AuthUser } from '../auth/authenticate.js';
import { publicSignalView, type OwnerSignalView, type PublicSignalView } from '../schemas/signal.js';
import { VaultError, type OpenedOwnerOnly, type OwnerOnlyVault } from '../vault/owner-only-vault.js';
import type { SignalRow } from './signal-rows.js';

export function toPublicView(row: SignalRow): PublicSignalView {
  return publicSignalView.parse(row);
}

/**
 * The owner's view, built field by field: the sealed column is left out by construction, and there
 * is nothing else to strip. It is not parsed here as the public view is: every procedure that
 * returns it validates it through its output schema, and parsing twice cost a list of 100 about
 * 0.5 ms (docs/performance.md).
 */
export async function toOwnerView(vault: OwnerOnlyVault, owner: AuthUser, row: SignalRow): Promise<OwnerSignalView> {
  return ownerViewOf(row, await vault.openFor(owner.id, { signalId: row.id, ownerId: row.ownerId, ownerOnlyPayload: row.ownerOnlyPayload }));
}

/**
 * For lists and live feeds: one payload that does not open (tampered, moved to another row, its key
 * missing) must not take the other items down, nor stop a feed for good. Its item says
 * `unreadable`, with no payload: closed, as an error would be. The vault has logged why, and
 * `signals.byId` on that signal answers with the reason.
 */
export async function toOwnerViewOrUnreadable(vault: OwnerOnlyVault, owner: AuthUser, row: SignalRow): Promise<OwnerSignalView> {
  try {
    return await toOwnerView(vault, owner, row);
  } catch (err) {
    if (err instanceof VaultError) return ownerViewOf(row, { state: 'unreadable', value: null });
    throw err;
  }
}

/** The owner's view of a row whose owner-only payload is already open (say, the one just sealed). */
export function ownerViewOf(row: SignalRow, opened: OpenedOwnerOnly | { state: 'unreadable'; value: null }): OwnerSignalView {
  return {
    id: row.id,
    ownerId: row.ownerId,
    instrument: row.instrument,
    side: row.side,
    entryPrice: row.entryPrice,
    status: row.status,
    payload: row.payload as OwnerSignalView['payload'],
    externalId: row.externalId,
    version: row.version,
    expiresAt: row.expiresAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    ownerOnly: opened.value as OwnerSignalView['ownerOnly'],
    ownerOnlyState: opened.state,
  };
}

/** An item of a list: the owner's view (or `unreadable`) for the owner, else the public view. */
export function toListViewFor(vault: OwnerOnlyVault, viewer: AuthUser, row: SignalRow): Promise<OwnerSignalView | PublicSignalView> {
  return viewer.id === row.ownerId ? toOwnerViewOrUnreadable(vault, viewer, row) : Promise.resolve(toPublicView(row));
}
