export const USER_ROLES = ['admin', 'owner', 'subscriber'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const SIGNAL_SIDES = ['buy', 'sell'] as const;
export type SignalSide = (typeof SIGNAL_SIDES)[number];

export const SIGNAL_STATUSES = ['open', 'closed', 'cancelled'] as const;
export type SignalStatus = (typeof SIGNAL_STATUSES)[number];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const APPROVAL_DECISIONS = ['approved', 'rejected'] as const;
export type ApprovalDecision = (typeof APPROVAL_DECISIONS)[number];

export const SIGNAL_EVENT_KINDS = ['created', 'updated', 'closed', 'cancelled'] as const;
export type SignalEventKind = (typeof SIGNAL_EVENT_KINDS)[number];
