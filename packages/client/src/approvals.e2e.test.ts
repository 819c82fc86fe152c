// The approval workflow end to end: @signals/client over real HTTP against the real server and
// PostgreSQL. Publish → pending for subscribers → decisions → counts for the owner → close → late
// decisions refused; racing decisions store one; refused calls change nothing; nobody but the
// owner ever gets owner-only data, and no subscriber gets another's decision.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignalsClient, type OwnerSignalView } from './index.js';
import { codeOf, recordingFetch, startStack, type Actor, type Exchange, type Stack } from './testing.js';

const CANARY = `canary-${crypto.randomUUID()}`;

let stack: Stack;
let owner: Actor;
let otherOwner: Actor;
let admin: Actor;
let alice: Actor;
let bob: Actor;
let carol: Actor;
let stranger: Actor;
let signal: OwnerSignalView;

/** Row counts and the approvals themselves: what a refused call must leave as it was. */
async function snapshot() {
  const counts: Record<string, number> = {};
  for (const table of ['approvals', 'signals', 'signal_events', 'subscriptions', 'users', 'api_tokens']) {
    const row = (await stack.db.knex(table).count({ n: '*' }).first()) as { n: string };
    counts[table] = Number(row.n);
  }
  return { counts, approvals: await stack.db.knex('approvals').orderBy('id').select('*'), signals: await stack.db.knex('signals').orderBy('id').select('id', 'status', 'version') };
}

beforeAll(async () => {
  stack = await startStack();
  owner = await stack.actor('owner', 'Olivia');
  otherOwner = await stack.actor('owner', 'Oscar');
  admin = await stack.actor('admin', 'Ada');
  alice = await stack.actor('subscriber', 'Alice');
  bob = await stack.actor('subscriber', 'Bob');
  carol = await stack.actor('subscriber', 'Carol');
  stranger = await stack.actor('subscriber', 'Sid');
  for (const s of [alice, bob, carol]) await stack.subscribe(owner, s);
  await stack.subscribe(otherOwner, stranger);
});
afterAll(() => stack?.close());

describe('the approval workflow through @signals/client', () => {
  it('publish → pending for subscribers, and only for them', async () => {
    signal = await owner.client.signals.create.mutate({
      instrument: 'XAUUSD',
      side: 'buy',
      entryPrice: '1923.50',
      ownerOnly: { stopLoss: '1900.00', takeProfit: '1990.00', notes: CANARY },
    });
    for (const s of [alice, bob, carol]) {
      const pending = await s.client.approvals.pending.query({});
      expect(pending.items.map((i) => i.id)).toEqual([signal.id]);
      expect(pending.items[0]).not.toHaveProperty('ownerOnly');
    }
    expect((await stranger.client.approvals.pending.query({})).items).toEqual([]);
    expect(await codeOf(owner.client.approvals.pending.query({}))).toBe('FORBIDDEN');
  });

  it('decisions → counts for the owner; a second decision gets CONFLICT; others are refused', async () => {
    expect(await alice.client.approvals.decide.mutate({ signalId: signal.id, decision: 'approve', reason: 'alice: fits my book' })).toMatchObject({
      signalId: signal.id,
      decision: 'approved',
      reason: 'alice: fits my book',
    });
    expect(await bob.client.approvals.decide.mutate({ signalId: signal.id, decision: 'reject', reason: 'bob: too tight' })).toMatchObject({ decision: 'rejected' });

    const before = await snapshot();
    expect(await codeOf(alice.client.approvals.decide.mutate({ signalId: signal.id, decision: 'reject' }))).toBe('CONFLICT');
    expect(await codeOf(stranger.client.approvals.decide.mutate({ signalId: signal.id, decision: 'approve' }))).toBe('NOT_FOUND');
    expect(await codeOf(alice.client.approvals.decide.mutate({ signalId: crypto.randomUUID(), decision: 'approve' }))).toBe('NOT_FOUND');
    for (const who of [owner, otherOwner, admin]) expect(await codeOf(who.client.approvals.decide.mutate({ signalId: signal.id, decision: 'approve' }))).toBe('FORBIDDEN');
    for (const who of [alice, admin]) expect(await codeOf(who.client.approvals.forSignal.query({ signalId: signal.id }))).toBe('FORBIDDEN');
    expect(await codeOf(otherOwner.client.approvals.forSignal.query({ signalId: signal.id }))).toBe('FORBIDDEN');
    expect(await codeOf(alice.client.approvals.decide.mutate({ signalId: signal.id, decision: 'maybe' as 'approve' }))).toBe('BAD_REQUEST');
    expect(await snapshot()).toEqual(before);

    const overview = await owner.client.approvals.forSignal.query({ signalId: signal.id });
    expect(overview.counts).toEqual({ approved: 1, rejected: 1, pending: 1 });
    expect(overview.decisions.map((d) => [d.subscriberName, d.decision, d.reason])).toEqual([
      ['Alice', 'approved', 'alice: fits my book'],
      ['Bob', 'rejected', 'bob: too tight'],
    ]);
    expect(overview.decisions[0]!.decidedAt).toBeInstanceOf(Date);
    // Decided signals leave the decider's pending list, not the others'.
    expect((await alice.client.approvals.pending.query({})).items).toEqual([]);
    expect((await carol.client.approvals.pending.query({})).items.map((i) => i.id)).toEqual([signal.id]);
    // The audit columns hold where the decision came from.
    const row = await stack.db.knex('approvals').where({ signal_id: signal.id, user_id: alice.id }).first();
    expect(row.ip).toMatch(/127\.0\.0\.1/);
    expect(typeof row.user_agent).toBe('string');
  });

  it('close → late decisions refused with PRECONDITION_FAILED, changing nothing', async () => {
    const closed = await owner.client.signals.close.mutate({ id: signal.id });
    expect(closed.status).toBe('closed');
    const before = await snapshot();
    expect(await codeOf(carol.client.approvals.decide.mutate({ signalId: signal.id, decision: 'approve' }))).toBe('PRECONDITION_FAILED');
    expect(await codeOf(bob.client.approvals.decide.mutate({ signalId: signal.id, decision: 'approve' }))).toBe('PRECONDITION_FAILED');
    expect(await snapshot()).toEqual(before);
    expect((await carol.client.approvals.pending.query({})).items).toEqual([]);
    expect((await owner.client.approvals.forSignal.query({ signalId: signal.id })).counts).toEqual({ approved: 1, rejected: 1, pending: 1 });

    const cancelled = await owner.client.signals.create.mutate({ instrument: 'EURUSD', side: 'sell', entryPrice: '1.08' });
    await owner.client.signals.cancel.mutate({ id: cancelled.id });
    expect(await codeOf(carol.client.approvals.decide.mutate({ signalId: cancelled.id, decision: 'reject' }))).toBe('PRECONDITION_FAILED');
  });

  it('stores exactly one of parallel decisions sent as separate HTTP requests; the rest get CONFLICT', async () => {
    const s = await owner.client.signals.create.mutate({ instrument: 'GBPUSD', side: 'buy', entryPrice: '1.27', ownerOnly: { notes: CANARY } });
    const wire: Exchange[] = [];
    const clients = Array.from({ length: 10 }, () => createSignalsClient({ url: stack.server.url, token: carol.token, fetch: recordingFetch(wire) }));
    const outcomes = await Promise.all(
      clients.map((c, i) =>
        c.approvals.decide.mutate({ signalId: s.id, decision: i % 2 ? 'approve' : 'reject' }).then(
          () => 'OK',
          (err: unknown) => codeOf(Promise.reject(err)),
        ),
      ),
    );
    expect(wire).toHaveLength(10);
    expect(outcomes.filter((o) => o === 'OK')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'OK')).toEqual(Array(9).fill('CONFLICT'));
    expect(await stack.db.knex('approvals').where({ signal_id: s.id })).toHaveLength(1);
    expect((await owner.client.approvals.forSignal.query({ signalId: s.id })).counts).toEqual({ approved: outcomes.indexOf('OK') % 2, rejected: 1 - (outcomes.indexOf('OK') % 2), pending: 2 });
  });

  it('sent no owner-only data and no other subscriber’s decision to any subscriber, on the wire', async () => {
    for (const s of [alice, bob, carol, stranger]) {
      expect(s.wire.length).toBeGreaterThan(0);
      for (const exchange of s.wire) {
        expect(exchange.body).not.toContain(CANARY);
        expect(exchange.body).not.toContain('ownerOnly');
        expect(exchange.body).not.toContain('1990.00');
        for (const other of [alice, bob, carol]) {
          if (other === s) continue;
          expect(exchange.body).not.toContain(`${other.name.toLowerCase()}:`); // their reasons
          expect(exchange.body).not.toContain(other.id);
        }
      }
    }
    // The owner did get it, so the check above looked for something real.
    expect(owner.wire.some((e) => e.body.includes(CANARY))).toBe(true);
    expect(stack.logs()).not.toContain(CANARY);
  });
});
