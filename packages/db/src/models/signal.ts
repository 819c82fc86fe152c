import type { ModelOptions, QueryContext } from 'objection';
import { BaseModel } from './base-model.js';
import { User } from './user.js';
import type { JsonObject, SignalSide, SignalStatus } from './types.js';

export class Signal extends BaseModel {
  static override tableName = 'signals';
  static override jsonAttributes = ['payload'];

  declare id: string;
  declare ownerId: string;
  declare instrument: string;
  declare side: SignalSide;
  /** Exact decimal as text ("1923.50"): PostgreSQL numeric, never a JS number. */
  declare entryPrice: string;
  declare status: SignalStatus;
  /** Public metadata (jsonb object); keys are stored exactly as given. */
  declare payload: JsonObject;
  /** Sealed envelope text of the owner-only payload; never plaintext. */
  declare ownerOnlyPayload: string | null;
  /** Idempotency key, unique per owner. */
  declare externalId: string | null;
  /** Optimistic concurrency counter, starts at 1. */
  declare version: number;
  declare expiresAt: Date | null;
  declare createdAt: Date;
  declare updatedAt: Date;

  declare owner?: User;

  static override relationMappings = () => ({
    owner: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: User,
      join: { from: 'signals.owner_id', to: 'users.id' },
    },
  });

  override async $beforeUpdate(opt: ModelOptions, queryContext: QueryContext): Promise<void> {
    await super.$beforeUpdate(opt, queryContext);
    this.updatedAt = new Date();
  }
}
