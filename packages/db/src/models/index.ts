export { BaseModel } from './base-model.js';
export { User } from './user.js';
export { ApiToken } from './api-token.js';
export { OwnerKey } from './owner-key.js';
export { Signal } from './signal.js';
export { Subscription } from './subscription.js';
export { USER_ROLES, SIGNAL_SIDES, SIGNAL_STATUSES } from './types.js';
export type { UserRole, SignalSide, SignalStatus, JsonValue, JsonObject } from './types.js';
