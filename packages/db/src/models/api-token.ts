import { BaseModel } from './base-model.js';
import { User } from './user.js';

export class ApiToken extends BaseModel {
  static override tableName = 'api_tokens';

  declare id: string;
  declare userId: string;
  /** Lower-case hex SHA-256 of the token (the token itself is shown once, never stored). */
  declare tokenHash: string;
  declare label: string | null;
  declare createdAt: Date;
  declare lastUsedAt: Date | null;
  declare revokedAt: Date | null;

  declare user?: User;

  static override relationMappings = () => ({
    user: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: User,
      join: { from: 'api_tokens.user_id', to: 'users.id' },
    },
  });
}
