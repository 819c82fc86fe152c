import { BaseModel } from './base-model.js';
import { ApiToken } from './api-token.js';
import { OwnerKey } from './owner-key.js';
import { Signal } from './signal.js';
import type { UserRole } from './types.js';

export class User extends BaseModel {
  static override tableName = 'users';

  declare id: string;
  declare name: string;
  declare role: UserRole;
  declare disabledAt: Date | null;
  declare createdAt: Date;

  declare apiTokens?: ApiToken[];
  declare ownerKeys?: OwnerKey[];
  declare signals?: Signal[];
  /** For an owner: the users subscribed to them. */
  declare subscribers?: User[];
  /** For a subscriber: the owners they are subscribed to. */
  declare subscribedOwners?: User[];

  static override relationMappings = () => ({
    apiTokens: {
      relation: BaseModel.HasManyRelation,
      modelClass: ApiToken,
      join: { from: 'users.id', to: 'api_tokens.user_id' },
    },
    ownerKeys: {
      relation: BaseModel.HasManyRelation,
      modelClass: OwnerKey,
      join: { from: 'users.id', to: 'owner_keys.owner_id' },
    },
    signals: {
      relation: BaseModel.HasManyRelation,
      modelClass: Signal,
      join: { from: 'users.id', to: 'signals.owner_id' },
    },
    subscribers: {
      relation: BaseModel.ManyToManyRelation,
      modelClass: User,
      join: {
        from: 'users.id',
        through: { from: 'subscriptions.owner_id', to: 'subscriptions.subscriber_id' },
        to: 'users.id',
      },
    },
    subscribedOwners: {
      relation: BaseModel.ManyToManyRelation,
      modelClass: User,
      join: {
        from: 'users.id',
        through: { from: 'subscriptions.subscriber_id', to: 'subscriptions.owner_id' },
        to: 'users.id',
      },
    },
  });
}
