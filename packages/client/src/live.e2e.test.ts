// signals.onChange end to end through @signals/client: server-sent events over real HTTP, the token
// sent as a header by the client's EventSource ponyfill, and resumption from the last event id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignalsClient, isOwnerView, isSignalsError, type SignalChangeEvent } from './index.js';
import { recordingFetch, sleep, startStack, until, type Actor, type Exchange, type Stack } from './testing.js';

const CANARY = `canary-${crypto.randomUUID()}`;

let stack: Stack;
let owner: Actor;
let follower: Actor;
let stranger: Actor;

beforeAll(async () => {
  stack = await startStack();
  owner = await stack.actor('owner', 'Olivia');
  follower = await stack.actor('subscriber', 'Sam');
  stranger = await stack.actor('subscriber', 'Sid');
  await stack.subscribe(owner, follower);
});
afterAll(() => stack?.close());

interface Listening {
  events: SignalChangeEvent[];
  started: () => boolean;
  error: () => unknown;
  stop: () => void;
}

function listen(actor: Pick<Actor, 'client'>, input: { lastEventId?: string } = {}): Listening {
  const events: SignalChangeEvent[] = [];
  let started = false;
  let error: unknown = null;
  const subscription = actor.client.signals.onChange.subscribe(input, {
    onStarted: () => {
      started = true;
    },
    onData: (event) => events.push(event),
    onError: (err) => {
      error = err;
    },
  });
  return { events, started: () => started, error: () => error, stop: () => subscription.unsubscribe() };
}

const publish = (n: number) =>
  owner.client.signals.create.mutate({ instrument: 'XAUUSD', side: n % 2 ? 'sell' : 'buy', entryPrice: `19${n}.50`, ownerOnly: { stopLoss: '1900.00', notes: CANARY } });

describe('signals.onChange through @signals/client', () => {
  it('gives a subscriber the public event of a new signal and the owner the owner view', async () => {
    const forFollower = listen(follower);
    const forOwner = listen(owner);
    const forStranger = listen(stranger);
    try {
      await until(() => forFollower.started() && forOwner.started() && forStranger.started(), 'the subscriptions to start');
      await sleep(200);
      const signal = await publish(1);
      await until(() => forFollower.events.length > 0 && forOwner.events.length > 0, 'the events');

      const publicEvent = forFollower.events[0]!;
      expect(publicEvent.data.kind).toBe('created');
      expect(isOwnerView(publicEvent.data.signal)).toBe(false);
      expect(publicEvent.data.signal).not.toHaveProperty('ownerOnly');
      expect(publicEvent.data.signal).toMatchObject({ id: signal.id, ownerId: owner.id, entryPrice: '191.50', status: 'open' });
      expect(publicEvent.data.signal.createdAt).toBeInstanceOf(Date);

      const ownerEvent = forOwner.events[0]!;
      expect(ownerEvent.id).toBe(publicEvent.id);
      expect(isOwnerView(ownerEvent.data.signal)).toBe(true);
      expect(ownerEvent.data.signal).toMatchObject({ id: signal.id, ownerOnly: { stopLoss: '1900.00', notes: CANARY }, ownerOnlyState: 'present' });

      await sleep(200);
      expect(forStranger.events).toEqual([]);
      for (const l of [forFollower, forOwner, forStranger]) expect(l.error()).toBeNull();

      // On the wire: the follower's and the stranger's streams carry neither the field nor the canary.
      const sse = (wire: Exchange[]) => wire.filter((e) => e.url.includes('signals.onChange'));
      expect(sse(follower.wire)).toHaveLength(1);
      expect(sse(follower.wire)[0]!.body).toContain(signal.id);
      for (const e of [...sse(follower.wire), ...sse(stranger.wire)]) {
        expect(e.body).not.toContain(CANARY);
        expect(e.body).not.toContain('ownerOnly');
      }
      expect(sse(owner.wire)[0]!.body).toContain(CANARY);
      // The token went as a header, never in the URL.
      for (const e of [...follower.wire, ...owner.wire]) expect(e.url).not.toMatch(/sig_|connectionParams|token/);
    } finally {
      for (const l of [forFollower, forOwner, forStranger]) l.stop();
    }
  });

  it('after disconnect and reconnect with the last event id, the missed events arrive, none twice', async () => {
    const first = listen(follower);
    await until(() => first.started(), 'the subscription to start');
    await sleep(200);
    const a = await publish(2);
    const b = await publish(3);
    await until(() => first.events.length === 2, 'two events');
    first.stop();
    const lastEventId = first.events.at(-1)!.id;

    // While disconnected: two new signals and a status change.
    const missedA = await publish(4);
    await owner.client.signals.update.mutate({ id: a.id, expectedVersion: a.version, patch: { entryPrice: '1.25' } });
    await owner.client.signals.close.mutate({ id: b.id });
    const missedB = await publish(5);

    const second = listen(follower, { lastEventId });
    try {
      await until(() => second.events.length >= 4, 'the missed events');
      await sleep(300);
      expect(second.events.map((e) => [e.data.signal.id, e.data.kind])).toEqual([
        [missedA.id, 'created'],
        [a.id, 'updated'],
        [b.id, 'closed'],
        [missedB.id, 'created'],
      ]);
      const ids = [...first.events, ...second.events].map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      // Event ids are positions "<transaction>.<event>", delivered in increasing order.
      const positions = ids.map((id) => id.split('.').map(BigInt) as [bigint, bigint]);
      expect(positions.every(([tx, n], i) => i === 0 || tx > positions[i - 1]![0] || (tx === positions[i - 1]![0] && n > positions[i - 1]![1]))).toBe(true);
      for (const e of second.events) expect(isOwnerView(e.data.signal)).toBe(false);

      // And it stays live after catching up.
      const after = await publish(6);
      await until(() => second.events.some((e) => e.data.signal.id === after.id), 'the live event after catching up');
    } finally {
      second.stop();
    }
  });

  it('refuses a subscription with a bad token with UNAUTHORIZED', async () => {
    const wire: Exchange[] = [];
    const intruder = { client: createSignalsClient({ url: stack.server.url, token: `sig_${'A'.repeat(43)}`, fetch: recordingFetch(wire) }) };
    const attempt = listen(intruder);
    try {
      await until(() => attempt.error() !== null, 'the refusal');
      expect(isSignalsError(attempt.error(), 'UNAUTHORIZED')).toBe(true);
      expect(attempt.events).toEqual([]);
    } finally {
      attempt.stop();
    }
  });
});
