// Users and their API tokens: shared by the admin API and the CLI.
import type { Knex } from 'knex';
import { TRPCError } from '@trpc/server';
import type { Role } from '../auth/authenticate.js';
import { generateToken, hashToken } from '../auth/tokens.js';
import type { UserView } from '../schemas/user.js';

const USER_COLUMNS = ['id', 'name', 'role', 'disabled_at as disabledAt', 'created_at as createdAt'];

export async function createUser(knex: Knex, input: { name: string; role: Role; tokenLabel?: string }) {
  return knex.transaction(async (trx) => {
    const [user] = (await trx('users').insert({ name: input.name, role: input.role }).returning(USER_COLUMNS)) as UserView[];
    const token = await insertToken(trx, user!.id, input.tokenLabel ?? 'initial');
    return { user: user!, tokenId: token.id, token: token.token };
  });
}

export async function listUsers(knex: Knex, opts: { role?: Role } = {}): Promise<UserView[]> {
  const query = knex('users').select(USER_COLUMNS).orderBy('created_at', 'asc');
  if (opts.role) query.where('role', opts.role);
  return (await query) as UserView[];
}

export async function disableUser(knex: Knex, userId: string): Promise<UserView> {
  const [user] = (await knex('users')
    .update({ disabled_at: knex.fn.now() })
    .where('id', userId)
    .returning(USER_COLUMNS)) as UserView[];
  if (!user) throw new TRPCError({ code: 'NOT_FOUND', message: `No user ${userId}.` });
  return user;
}

export async function createToken(knex: Knex, userId: string, label?: string) {
  const user = await knex('users').where('id', userId).first('id', 'disabled_at as disabledAt');
  if (!user) throw new TRPCError({ code: 'NOT_FOUND', message: `No user ${userId}.` });
  if (user.disabledAt) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: `User ${userId} is disabled.` });
  return insertToken(knex, userId, label ?? null);
}

export async function revokeToken(knex: Knex, tokenId: string) {
  const [row] = (await knex('api_tokens')
    .update({ revoked_at: knex.fn.now() })
    .where('id', tokenId)
    .returning(['id', 'user_id as userId', 'revoked_at as revokedAt'])) as { id: string; userId: string; revokedAt: Date }[];
  if (!row) throw new TRPCError({ code: 'NOT_FOUND', message: `No token ${tokenId}.` });
  return row;
}

/** The token is returned here once; only its hash is stored. */
async function insertToken(db: Knex | Knex.Transaction, userId: string, label: string | null) {
  const token = generateToken();
  const [row] = (await db('api_tokens').insert({ user_id: userId, token_hash: hashToken(token), label }).returning(['id'])) as { id: string }[];
  return { id: row!.id, token };
}
