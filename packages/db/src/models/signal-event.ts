import { BaseModel } from './base-model.js';
import { Signal } from './signal.js';
import type { SignalEventKind } from './types.js';

/**
 * One change of a signal, in the outbox behind `signals.onChange`. The id (bigserial, read as a
 * string so it never loses precision) is the event id clients resume from.
 */
export class SignalEvent extends BaseModel {
  static override tableName = 'signal_events';

  declare id: string;
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
