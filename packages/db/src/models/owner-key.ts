import { BaseModel } from './base-model.js';
import { User } from './user.js';

/** One data key (DEK) of an owner, per version, stored only wrapped by a KEK. */
export class OwnerKey extends BaseModel {
  static override tableName = 'owner_keys';
  static override idColumn = ['owner_id', 'version'];

  declare ownerId: string;
  declare version: number;
  /** Which key-encryption key wrapped this DEK. */
  declare kekId: string;
  /** The wrapped DEK; null once destroyed (crypto-shredding), together with destroyedAt. */
  declare wrappedKey: string | null;
  declare createdAt: Date;
  declare destroyedAt: Date | null;

  declare owner?: User;

  static override relationMappings = () => ({
    owner: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: User,
      join: { from: 'owner_keys.owner_id', to: 'users.id' },
    },
  });
}
