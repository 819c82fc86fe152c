// Turns stored rows into API views. The public view is parsed through a schema without the
// owner-only field; only the owner's view asks the vault to open the payload.
import type { AuthUser } from '../auth/authenticate.js';
import { ownerSignalView, publicSignalView, type OwnerSignalView, type PublicSignalView } from '../schemas/signal.js';
import type { OwnerOnlyVault } from '../vault/owner-only-vault.js';
import type { SignalRow } from './signal-rows.js';

export function toPublicView(row: SignalRow): PublicSignalView {
  return publicSignalView.parse(row);
}

export async function toOwnerView(vault: OwnerOnlyVault, owner: AuthUser, row: SignalRow): Promise<OwnerSignalView> {
  const opened = await vault.openFor(owner.id, { signalId: row.id, ownerId: row.ownerId, ownerOnlyPayload: row.ownerOnlyPayload });
  const { ownerOnlyPayload: _sealed, ...rest } = row;
  return ownerSignalView.parse({ ...rest, ownerOnly: opened.value, ownerOnlyState: opened.state });
}

export function toViewFor(vault: OwnerOnlyVault, viewer: AuthUser, row: SignalRow): Promise<OwnerSignalView | PublicSignalView> {
  return viewer.id === row.ownerId ? toOwnerView(vault, viewer, row) : Promise.resolve(toPublicView(row));
}
