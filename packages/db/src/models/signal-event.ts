import { BaseModel } from './base-model.js';
import { Signal } from './signal.js';
import type { SignalEventKind } from './types.js';

/**
 * One change of a signal, in the outbox behind `signals.onChange`. Feeds deliver events in
 * (txId, id) order, and clients resume from that position (see the commit-order migration). Both
 * are read as strings, so they never lose precision.
 */
export class SignalEvent extends BaseModel {
  static override tableName = 'signal_events';

  declare id: string;
  /** The id (xid8) of the transaction that wrote the event. */
  declare txId: string;
  declare signalId: string;
  declare ownerId: string;
  declare kind: SignalEventKind;
  declare createdAt: Date;

  declare signal?: Signal;

  static override relationMappings = () => ({
    signal: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: Signal,
      join: { from: 'signal_events.signal_id', to: 'signals.id' },
    },
  });
}
