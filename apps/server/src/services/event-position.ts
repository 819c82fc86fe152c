// A place in the signal_events outbox: (tx_id, id), the order in which feeds deliver events (see
// the commit-order migration). Clients see it as the SSE event id "<tx_id>.<id>" and resume from it.
export interface EventPosition {
  /** The writing transaction's id (xid8). */
  txId: bigint;
  /** The event's own id, ordering events of one transaction. */
  id: bigint;
}

export function formatPosition(p: EventPosition): string {
  return `${p.txId}.${p.id}`;
}

/** A position, or the plain id of an event recorded before positions existed (to be looked up). */
export function parseEventId(text: string): EventPosition | { legacyId: bigint } {
  const [txId, id] = text.split('.');
  return id === undefined ? { legacyId: BigInt(txId!) } : { txId: BigInt(txId!), id: BigInt(id) };
}

/** Negative when `a` comes before `b`. */
export function comparePositions(a: EventPosition, b: EventPosition): number {
  if (a.txId !== b.txId) return a.txId < b.txId ? -1 : 1;
  return a.id === b.id ? 0 : a.id < b.id ? -1 : 1;
}

/** Everything before this position is written by transactions older than `txId`. */
export function startOfTransaction(txId: bigint): EventPosition {
  return { txId, id: 0n };
}
