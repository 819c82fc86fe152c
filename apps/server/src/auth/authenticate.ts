// Resolves a bearer token to its user. Revoked tokens and disabled users are rejected the same way
// as unknown tokens, so a caller learns nothing about which case it hit.
import type { Knex } from 'knex';
import { bearerToken, hashToken, hashesEqual, looksLikeToken } from './tokens.js';

export type Role = 'admin' | 'owner' | 'subscriber';

export interface AuthUser {
  id: string;
  name: string;
  role: Role;
  tokenId: string;
}

/** How often last_used_at is written, at most: a write per request would cost more than it tells. */
const LAST_USED_RESOLUTION_MS = 60_000;

export async function authenticate(knex: Knex, authorization: string | undefined): Promise<AuthUser | null> {
  const token = bearerToken(authorization);
  if (!token || !looksLikeToken(token)) return null;
  const tokenHash = hashToken(token);
  const found = (await knex('api_tokens as t')
    .join('users as u', 'u.id', 't.user_id')
    .where('t.token_hash', tokenHash)
    .whereNull('t.revoked_at')
    .whereNull('u.disabled_at')
    .first('t.id as tokenId', 't.token_hash as tokenHash', 't.last_used_at as lastUsedAt', 'u.id as userId', 'u.name as name', 'u.role as role')) as
    | { tokenId: string; tokenHash: string; lastUsedAt: Date | null; userId: string; name: string; role: Role }
    | undefined;
  if (!found || !hashesEqual(found.tokenHash, tokenHash)) return null;
  if (!found.lastUsedAt || Date.now() - found.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await knex('api_tokens').update({ last_used_at: new Date() }).where('id', found.tokenId);
  }
  return { id: found.userId, name: found.name, role: found.role, tokenId: found.tokenId };
}
