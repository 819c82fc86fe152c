import { BaseModel } from './base-model.js';
import { User } from './user.js';

export class Subscription extends BaseModel {
  static override tableName = 'subscriptions';
  static override idColumn = ['owner_id', 'subscriber_id'];

  declare ownerId: string;
  declare subscriberId: string;
  declare createdAt: Date;

  declare owner?: User;
  declare subscriber?: User;

  static override relationMappings = () => ({
    owner: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: User,
      join: { from: 'subscriptions.owner_id', to: 'users.id' },
    },
    subscriber: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: User,
      join: { from: 'subscriptions.subscriber_id', to: 'users.id' },
    },
  });
}
