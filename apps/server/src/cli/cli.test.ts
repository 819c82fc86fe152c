// The CLI as an operator runs it: a real process, real PostgreSQL, --json output parsed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@signals/db/testing';
import { runCli } from '../testing/cli.js';
import { authenticate } from '../auth/authenticate.js';
import { createUser, disableUser } from '../services/users.js';


let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.destroy());

const signals = (...args: string[]) => runCli(db.url, ...args);

const json = (stdout: string) => JSON.parse(stdout.trim()) as Record<string, string>;

describe('signals CLI', () => {
  it('creates users whose token works, and disables them', async () => {
    const created = await signals('users', 'create', '--name', 'Ada', '--role', 'owner', '--json');
    expect(created.code).toBe(0);
    const user = json(created.stdout);
    expect(user).toEqual({ id: expect.any(String), name: 'Ada', role: 'owner', token: expect.stringMatching(/^sig_/) });
    expect((await authenticate(db.knex, `Bearer ${user.token}`))?.id).toBe(user.id);

    const token = json((await signals('tokens', 'create', '--user', user.id!, '--label', 'ci', '--json')).stdout);
    expect(token).toEqual({ id: expect.any(String), token: expect.stringMatching(/^sig_/) });
    expect(await signals('tokens', 'revoke', '--token-id', token.id!, '--json')).toMatchObject({ code: 0 });
    expect(await authenticate(db.knex, `Bearer ${token.token}`)).toBeNull();

    expect((await signals('users', 'disable', '--user', user.id!, '--json')).code).toBe(0);
    expect(await authenticate(db.knex, `Bearer ${user.token}`)).toBeNull();
  });

  it('subscribes a subscriber to an owner', async () => {
    const owner = json((await signals('users', 'create', '--name', 'O', '--role', 'owner', '--json')).stdout);
    const sub = json((await signals('users', 'create', '--name', 'S', '--role', 'subscriber', '--json')).stdout);
    const added = await signals('subscriptions', 'add', '--owner', owner.id!, '--subscriber', sub.id!, '--json');
    expect(json(added.stdout)).toMatchObject({ ownerId: owner.id, subscriberId: sub.id });
    const rows = await db.knex('subscriptions').where({ owner_id: owner.id, subscriber_id: sub.id });
    expect(rows).toHaveLength(1);
  });

  it('lists users (by role too), and lists and removes subscriptions', async () => {
    // Made directly (the commands that make them are tested above); each CLI run costs a process.
    const owner = (await createUser(db.knex, { name: 'Lister', role: 'owner' })).user;
    const sub = (await createUser(db.knex, { name: 'Follower', role: 'subscriber' })).user;
    await disableUser(db.knex, sub.id);

    const [all, owners, human, added] = await Promise.all([
      signals('users', 'list', '--json'),
      signals('users', 'list', '--role', 'owner', '--json'),
      signals('users', 'list', '--role', 'subscriber'),
      signals('subscriptions', 'add', '--owner', owner.id, '--subscriber', sub.id, '--json'),
    ]);
    const users = JSON.parse(all.stdout) as { id: string; name: string; role: string; disabledAt: string | null }[];
    expect(users).toEqual(expect.arrayContaining([expect.objectContaining({ id: owner.id, name: 'Lister', role: 'owner', disabledAt: null })]));
    expect(users.find((u) => u.id === sub.id)?.disabledAt).toEqual(expect.any(String));
    expect(all.stdout).not.toMatch(/sig_|token/);
    const ownerList = JSON.parse(owners.stdout) as { role: string }[];
    expect(ownerList.length).toBeGreaterThan(0);
    expect(ownerList.every((u) => u.role === 'owner')).toBe(true);
    expect(human.stdout).toContain(`${sub.id}  subscriber Follower  (disabled)`);
    expect(added.code).toBe(0);

    const [listed, bySubscriber, listedHuman] = await Promise.all([
      signals('subscriptions', 'list', '--owner', owner.id, '--json'),
      signals('subscriptions', 'list', '--subscriber', sub.id, '--json'),
      signals('subscriptions', 'list', '--owner', owner.id),
    ]);
    expect(JSON.parse(listed.stdout)).toEqual([{ ownerId: owner.id, subscriberId: sub.id, createdAt: expect.any(String) }]);
    expect(JSON.parse(bySubscriber.stdout)).toHaveLength(1);
    expect(listedHuman.stdout).toContain(`${sub.id} follows ${owner.id}`);

    expect(json((await signals('subscriptions', 'remove', '--owner', owner.id, '--subscriber', sub.id, '--json')).stdout)).toEqual({ removed: true });
    expect(await db.knex('subscriptions').where({ owner_id: owner.id })).toEqual([]);
    const [again, after] = await Promise.all([
      signals('subscriptions', 'remove', '--owner', owner.id, '--subscriber', sub.id, '--json'),
      signals('subscriptions', 'list', '--owner', owner.id, '--json'),
    ]);
    expect(json(again.stdout)).toEqual({ removed: false });
    expect(JSON.parse(after.stdout)).toEqual([]);
  }, 90_000); // eleven CLI processes

  it('generates key-encryption keys without touching the database', async () => {
    const out = await signals('keys', 'generate', '--id', 'k2', '--json');
    expect(json(out.stdout)).toEqual({ id: 'k2', entry: expect.stringMatching(/^k2:[A-Za-z0-9+/=_-]{43,44}$/) });
  });

  it('explains bad input and exits non-zero', async () => {
    const bad = await signals('users', 'create', '--name', 'X', '--role', 'root');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--role: .*admin.*owner.*subscriber/);
    const missing = await signals('users', 'disable', '--user', '00000000-0000-4000-8000-000000000000', '--json');
    expect(missing.code).toBe(1);
    expect(json(missing.stdout)).toEqual({ error: { code: 'NOT_FOUND', message: expect.stringContaining('No user') } });
  });

  it('has --help at every level', async () => {
    for (const args of [[], ['users'], ['users', 'create'], ['tokens', 'revoke'], ['keys', 'generate'], ['subscriptions', 'add']]) {
      const help = await signals(...args, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Usage: signals');
    }
  });
});
