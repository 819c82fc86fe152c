import { BaseModel } from './base-model.js';
import { Signal } from './signal.js';
import { User } from './user.js';
import type { ApprovalDecision } from './types.js';

/** A subscriber's decision on a signal: one per signal and subscriber. */
export class Approval extends BaseModel {
  static override tableName = 'approvals';

  declare id: string;
  declare signalId: string;
  /** The subscriber who decided. */
  declare userId: string;
  declare decision: ApprovalDecision;
  /** Optional, at most 500 characters. */
  declare reason: string | null;
  /** Where the decision came from (audit); null when it did not come over HTTP. */
  declare ip: string | null;
  declare userAgent: string | null;
  declare decidedAt: Date;

  declare signal?: Signal;
  declare user?: User;

  static override relationMappings = () => ({
    signal: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: Signal,
      join: { from: 'approvals.signal_id', to: 'signals.id' },
    },
    user: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: User,
      join: { from: 'approvals.user_id', to: 'users.id' },
    },
  });
}
