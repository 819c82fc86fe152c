import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../routers/_app.js';
import { createHarness, type Harness, type TestUser } from '../testing/harness.js';
import { disableUser } from './users.js';

const CANARY = `CANARY-${crypto.randomUUID()}`;

let h: Harness;
let owner: TestUser;
let otherOwner: TestUser;
let admin: TestUser;
let alice: TestUser;
let bob: TestUser;
let stranger: TestUser;

beforeAll(async () => {
  h = await createHarness();
  owner = await h.user('owner', 'Olivia');
  otherOwner = await h.user('owner');
  admin = await h.user('admin');
  alice = await h.user('subscriber', 'Alice');
  bob = await h.user('subscriber', 'Bob');
  stranger = await h.user('subscriber');
  await h.subscribe(owner, alice);
  await h.subscribe(owner, bob);
  await h.subscribe(otherOwner, stranger);
});
afterAll(() => h.close());

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (err) {
    if (err instanceof TRPCError) return err.code;
    throw err;
  }
}

const publish = (by: TestUser = owner, extra: Record<string, unknown> = {}) =>
  h.caller(by).signals.create({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1923.50', ownerOnly: { stopLoss: '1900', notes: CANARY }, ...extra });

/** Row counts of every table a rejected call could have touched. */
async function tableCounts() {
  const counts: Record<string, number> = {};
  for (const table of ['approvals', 'signals', 'signal_events', 'subscriptions', 'users']) {
    const row = (await h.knex(table).count({ n: '*' }).first()) as { n: string };
    counts[table] = Number(row.n);
  }
  const approvals = await h.knex('approvals').orderBy('id').select('*');
  return { counts, approvals };
}

describe('approvals.pending', () => {
  it("lists the caller's undecided open signals of owners they follow, newest first, public view, paged", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await publish()).id);
    const closed = await publish();
    await h.caller(owner).signals.close({ id: closed.id });
    const cancelled = await publish();
    await h.caller(owner).signals.cancel({ id: cancelled.id });
    const expired = await publish();
    await h.knex('signals').update({ expires_at: new Date(Date.now() - 1000) }).where('id', expired.id);
    const decided = await publish();
    await h.caller(alice).approvals.decide({ signalId: decided.id, decision: 'reject' });
    const notFollowed = await publish(otherOwner);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { items: { id: string; ownerId: string }[]; nextCursor: string | null } = await h.caller(alice).approvals.pending({ limit: 2, cursor });
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const item of page.items) {
        expect(item.ownerId).toBe(owner.id);
        expect(item).not.toHaveProperty('ownerOnly');
      }
      expect(JSON.stringify(page)).not.toContain(CANARY);
      seen.push(...page.items.map((s) => s.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < 50);
    expect(seen.slice(0, 5)).toEqual([...ids].reverse());
    for (const gone of [closed.id, cancelled.id, expired.id, decided.id, notFollowed.id]) expect(seen).not.toContain(gone);
    expect(new Set(seen).size).toBe(seen.length);

    // Bob has not decided on `decided`: his own list has it.
    expect((await h.caller(bob).approvals.pending({ limit: 100 })).items.map((s) => s.id)).toContain(decided.id);
    // A subscriber of another owner sees only that owner's.
    expect((await h.caller(stranger).approvals.pending({})).items.map((s) => s.id)).toEqual([notFollowed.id]);
    expect(await codeOf(h.caller(alice).approvals.pending({ cursor: 'not-a-cursor' }))).toBe('BAD_REQUEST');
  });
});

describe('approvals.decide', () => {
  it('stores one decision with its reason; a second one gets CONFLICT', async () => {
    const s = await publish();
    const decision = await h.caller(alice).approvals.decide({ signalId: s.id, decision: 'approve', reason: '  fits my plan  ' });
    expect(decision).toEqual({ signalId: s.id, decision: 'approved', reason: 'fits my plan', decidedAt: expect.any(Date) });
    expect(await codeOf(h.caller(alice).approvals.decide({ signalId: s.id, decision: 'reject' }))).toBe('CONFLICT');
    const rows = await h.knex('approvals').where({ signal_id: s.id });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ user_id: alice.id, decision: 'approved', reason: 'fits my plan', ip: null, user_agent: null });
  });

  it('stores exactly one of many parallel decisions; the others get CONFLICT', async () => {
    const s = await publish();
    const codes = await Promise.all(
      Array.from({ length: 12 }, (_, i) => codeOf(h.caller(bob).approvals.decide({ signalId: s.id, decision: i % 2 ? 'approve' : 'reject', reason: `try ${i}` }))),
    );
    expect(codes.filter((c) => c === 'OK')).toHaveLength(1);
    expect(codes.filter((c) => c !== 'OK').every((c) => c === 'CONFLICT')).toBe(true);
    expect(await h.knex('approvals').where({ signal_id: s.id, user_id: bob.id })).toHaveLength(1);
  });

  it('refuses closed, cancelled and expired signals with PRECONDITION_FAILED', async () => {
    const closed = await publish();
    await h.caller(owner).signals.close({ id: closed.id });
    const cancelled = await publish();
    await h.caller(owner).signals.cancel({ id: cancelled.id });
    const expired = await publish();
    await h.knex('signals').update({ expires_at: new Date(Date.now() - 1) }).where('id', expired.id);
    for (const s of [closed, cancelled, expired]) {
      expect(await codeOf(h.caller(alice).approvals.decide({ signalId: s.id, decision: 'approve' })), s.id).toBe('PRECONDITION_FAILED');
    }
  });

  it('decides before or after a concurrent close, never on a closed signal', async () => {
    for (let round = 0; round < 5; round++) {
      const s = await publish();
      const [aliceCode, closed, bobCode] = await Promise.all([
        codeOf(h.caller(alice).approvals.decide({ signalId: s.id, decision: 'approve' })),
        h.caller(owner).signals.close({ id: s.id }),
        codeOf(h.caller(bob).approvals.decide({ signalId: s.id, decision: 'reject' })),
      ]);
      expect(closed.status).toBe('closed');
      for (const code of [aliceCode, bobCode]) expect(['OK', 'PRECONDITION_FAILED']).toContain(code);
      // What was answered OK is stored, and nothing else.
      const stored = await h.knex('approvals').where({ signal_id: s.id }).pluck('user_id');
      expect(stored.sort()).toEqual([aliceCode === 'OK' ? alice.id : null, bobCode === 'OK' ? bob.id : null].filter(Boolean).sort());
    }
  });

  it('answers NOT_FOUND to those who may not see the signal and FORBIDDEN to other roles, changing nothing', async () => {
    const s = await publish();
    const before = await tableCounts();
    expect(await codeOf(h.caller(stranger).approvals.decide({ signalId: s.id, decision: 'approve' }))).toBe('NOT_FOUND');
    expect(await codeOf(h.caller(alice).approvals.decide({ signalId: crypto.randomUUID(), decision: 'approve' }))).toBe('NOT_FOUND');
    for (const other of [owner, otherOwner, admin]) {
      expect(await codeOf(h.caller(other).approvals.decide({ signalId: s.id, decision: 'approve' }))).toBe('FORBIDDEN');
    }
    for (const bad of [
      { signalId: 'nope', decision: 'approve' },
      { signalId: s.id, decision: 'approved' },
      { signalId: s.id, decision: 'approve', reason: 'x'.repeat(501) },
      { signalId: s.id, decision: 'approve', reason: '   ' },
    ]) {
      expect(await codeOf(h.caller(alice).approvals.decide(bad as never)), JSON.stringify(bad).slice(0, 80)).toBe('BAD_REQUEST');
    }
    expect(await tableCounts()).toEqual(before);
  });

  it("stores the caller's IP address and user agent when the decision comes over HTTP", async () => {
    const { url } = await h.serve();
    const client = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${url}/trpc`, transformer: superjson, headers: () => ({ authorization: `Bearer ${alice.token}`, 'user-agent': 'signals-test/1.0' }) })],
    });
    const s = await publish();
    await client.approvals.decide.mutate({ signalId: s.id, decision: 'reject', reason: 'too risky' });
    const row = await h.knex('approvals').where({ signal_id: s.id, user_id: alice.id }).first();
    expect(row).toMatchObject({ decision: 'rejected', reason: 'too risky', user_agent: 'signals-test/1.0' });
    expect(row.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    // Audit data is in no view: the owner's overview does not show it.
    const overview = await h.caller(owner).approvals.forSignal({ signalId: s.id });
    expect(JSON.stringify(overview)).not.toMatch(/127\.0\.0\.1|signals-test/);
  });
});

describe('approvals.forSignal', () => {
  it('gives the owner each decision and the counts; pending counts enabled subscribers yet to decide', async () => {
    const carol = await h.user('subscriber', 'Carol');
    const dave = await h.user('subscriber', 'Dave');
    const owner2 = await h.user('owner');
    await h.subscribe(owner2, alice);
    await h.subscribe(owner2, bob);
    await h.subscribe(owner2, carol);
    await h.subscribe(owner2, dave);
    await disableUser(h.knex, dave.id);
    const s = await h.caller(owner2).signals.create({ instrument: 'EURUSD', side: 'sell', entryPrice: '1.08' });

    expect(await h.caller(owner2).approvals.forSignal({ signalId: s.id })).toEqual({ signalId: s.id, decisions: [], counts: { approved: 0, rejected: 0, pending: 3 } });
    await h.caller(alice).approvals.decide({ signalId: s.id, decision: 'approve', reason: 'alice-secret-reason' });
    await h.caller(bob).approvals.decide({ signalId: s.id, decision: 'reject' });
    const overview = await h.caller(owner2).approvals.forSignal({ signalId: s.id });
    expect(overview.counts).toEqual({ approved: 1, rejected: 1, pending: 1 });
    expect(overview.decisions).toEqual([
      { subscriberId: alice.id, subscriberName: 'Alice', decision: 'approved', reason: 'alice-secret-reason', decidedAt: expect.any(Date) },
      { subscriberId: bob.id, subscriberName: 'Bob', decision: 'rejected', reason: null, decidedAt: expect.any(Date) },
    ]);

    // Only the owner: other owners may see the signal (FORBIDDEN), subscribers' role may not ask.
    expect(await codeOf(h.caller(otherOwner).approvals.forSignal({ signalId: s.id }))).toBe('FORBIDDEN');
    for (const who of [alice, carol, admin]) expect(await codeOf(h.caller(who).approvals.forSignal({ signalId: s.id }))).toBe('FORBIDDEN');
    expect(await codeOf(h.caller(owner2).approvals.forSignal({ signalId: crypto.randomUUID() }))).toBe('NOT_FOUND');

    // Subscribers never see each other's decisions: nothing Carol can call shows Alice's.
    const carolSees = JSON.stringify([
      await h.caller(carol).approvals.pending({ limit: 100 }),
      await h.caller(carol).signals.byId({ id: s.id }),
      await h.caller(carol).signals.list({ limit: 100 }),
      await h.caller(carol).approvals.decide({ signalId: s.id, decision: 'approve' }),
    ]);
    expect(carolSees).toContain(s.id);
    expect(carolSees).not.toContain('alice-secret-reason');
    expect(carolSees).not.toContain(alice.id);
    expect((await h.caller(owner2).approvals.forSignal({ signalId: s.id })).counts).toEqual({ approved: 2, rejected: 1, pending: 0 });
  });
});
