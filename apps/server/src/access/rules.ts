// The one table of who may call what. Every procedure is checked against it by the `procedure`
// middleware in trpc.ts; a procedure without a rule is refused (and fails the matrix test).
import type { Role } from '../auth/authenticate.js';

export const ALL_ROLES = ['admin', 'owner', 'subscriber'] as const satisfies readonly Role[];

/** Which rows a caller may touch once the role check has passed (see `checkSignalRow`). */
export type RowRule =
  | 'none' //               no row involved, or the procedure works on the caller itself
  | 'visible-signal' //     one signal the caller may see: own (owner view) or public view (see signalAccess)
  | 'visible-signals' //    a list filtered to what the caller may see; never an error for rows
  | 'own-signal' //         only the signal's owner; others who can see it get FORBIDDEN, the rest NOT_FOUND
  | 'subscribed-signal' //  one signal of an owner the caller subscribes to (public view); others who can see
  //                        it get FORBIDDEN, the rest NOT_FOUND
  | 'subscribed-signals' // a list of the signals of owners the caller subscribes to; never an error for rows
  | 'signal-feed'; //       events of the caller's own signals (owner view) and of owners they subscribe to
//                          (public view); everything else is left out, never an error

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
  'signals.onChange': { roles: ['owner', 'subscriber'], rows: 'signal-feed' },
  'approvals.pending': { roles: ['subscriber'], rows: 'subscribed-signals' },
  'approvals.decide': { roles: ['subscriber'], rows: 'subscribed-signal' },
  'approvals.forSignal': { roles: ['owner'], rows: 'own-signal' },
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

/** The row rules that are about one signal at a time. */
export type SignalRowRule = Extract<RowRule, 'visible-signal' | 'own-signal' | 'subscribed-signal' | 'signal-feed'>;

export type SignalRowDecision =
  | { allowed: true; view: 'owner' | 'public' }
  /** FORBIDDEN: the caller may see the signal but not do this; NOT_FOUND: may not learn it exists. */
  | { allowed: false; code: 'FORBIDDEN' | 'NOT_FOUND' };

/**
 * What a row rule allows one caller on one signal, and which view they get. Every procedure that
 * touches a signal asks this, with the rule the rules table gives that procedure; for lists
 * (`signal-feed`), a refused row is left out rather than reported.
 */
export function checkSignalRow(rows: SignalRowRule, facts: SignalAccessFacts): SignalRowDecision {
  const access = signalAccess(facts);
  const notFound = { allowed: false, code: 'NOT_FOUND' } as const;
  const forbidden = { allowed: false, code: 'FORBIDDEN' } as const;
  switch (rows) {
    case 'visible-signal':
      return access === 'none' ? notFound : { allowed: true, view: access };
    case 'own-signal':
      return access === 'owner' ? { allowed: true, view: 'owner' } : access === 'public' ? forbidden : notFound;
    case 'subscribed-signal':
      if (facts.viewer.role === 'subscriber' && facts.subscribed) return { allowed: true, view: 'public' };
      return access === 'none' ? notFound : forbidden;
    case 'signal-feed':
      if (access === 'owner') return { allowed: true, view: 'owner' };
      return facts.viewer.role === 'subscriber' && facts.subscribed ? { allowed: true, view: 'public' } : notFound;
  }
}
