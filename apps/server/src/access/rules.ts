// The one table of who may call what. Every procedure is checked against it by the `procedure`
// middleware in trpc.ts; a procedure without a rule is refused (and fails the matrix test).
import type { Role } from '../auth/authenticate.js';

export const ALL_ROLES = ['admin', 'owner', 'subscriber'] as const satisfies readonly Role[];

/** Which rows a caller may touch once the role check has passed. */
export type RowRule =
  | 'none' //           no row involved, or the procedure works on the caller itself
  | 'visible-signal' // one signal the caller may see: own (owner view) or public view (see signalAccess)
  | 'visible-signals' // a list filtered to what the caller may see; never an error for rows
  | 'own-signal'; //    only the signal's owner; others who can see it get FORBIDDEN, the rest NOT_FOUND

export interface Rule {
  roles: 'public' | readonly Role[];
  rows: RowRule;
}

export const rules = {
  'health.ping': { roles: 'public', rows: 'none' },
  'me.get': { roles: ALL_ROLES, rows: 'none' },
  'signals.create': { roles: ['owner'], rows: 'none' },
  'signals.byId': { roles: ALL_ROLES, rows: 'visible-signal' },
  'signals.list': { roles: ALL_ROLES, rows: 'visible-signals' },
  'signals.update': { roles: ['owner'], rows: 'own-signal' },
  'signals.close': { roles: ['owner'], rows: 'own-signal' },
  'signals.cancel': { roles: ['owner'], rows: 'own-signal' },
  'subscriptions.add': { roles: ['admin'], rows: 'none' },
  'subscriptions.remove': { roles: ['admin'], rows: 'none' },
  'subscriptions.list': { roles: ['admin'], rows: 'none' },
  'users.create': { roles: ['admin'], rows: 'none' },
  'users.list': { roles: ['admin'], rows: 'none' },
  'users.disable': { roles: ['admin'], rows: 'none' },
  'tokens.create': { roles: ['admin'], rows: 'none' },
  'tokens.revoke': { roles: ['admin'], rows: 'none' },
} as const satisfies Record<string, Rule>;

export type ProcedurePath = keyof typeof rules;

export function ruleFor(path: string): Rule | undefined {
  return Object.hasOwn(rules, path) ? rules[path as ProcedurePath] : undefined;
}

export interface SignalAccessFacts {
  viewer: { id: string; role: Role };
  signalOwnerId: string;
  /** Whether the viewer subscribes to the signal's owner. */
  subscribed: boolean;
}

/**
 * What a viewer may see of one signal: its owner sees everything; admins, other owners and the
 * owner's subscribers see the public view; anyone else may not learn that it exists.
 */
export function signalAccess({ viewer, signalOwnerId, subscribed }: SignalAccessFacts): 'owner' | 'public' | 'none' {
  if (viewer.id === signalOwnerId) return 'owner';
  if (viewer.role === 'admin' || viewer.role === 'owner') return 'public';
  return subscribed ? 'public' : 'none';
}
