// The fast output serializer must write exactly what superjson writes, for every value: compared
// on generated values (the shapes of our views and everything superjson treats specially).
import { describe, expect, it, vi } from 'vitest';
import superjson from 'superjson';
import { serializeOutput } from './output-serializer.js';

/** A small deterministic PRNG, so that a failure can be replayed from its seed. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['id', 'createdAt', 'a.b', 'back\\slash', 'both.\\', '', '0', 'ownerOnly', 'notes', 'ünï', '__proto__', 'constructor'];
const PLAIN_LEAVES = () => ['text', '', 'a.b', 0, 1.5, -3, 1e21, true, false, null, new Date(1_700_000_000_000), new Date(0)];
const SPECIAL_LEAVES = () => [undefined, NaN, Infinity, -0, 10n, new Date(Number.NaN), new Map([[1, 2]]), new Set([1]), /re/g, new (class Point { x = 1 })()];

function generate(rand: () => number, depth: number, special: boolean): unknown {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const r = rand();
  if (depth <= 0 || r < 0.35) return special && rand() < 0.15 ? pick(SPECIAL_LEAVES()) : pick(PLAIN_LEAVES());
  if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => generate(rand, depth - 1, special));
  const obj: Record<string, unknown> = rand() < 0.1 ? (Object.create(null) as Record<string, unknown>) : {};
  for (let i = Math.floor(rand() * 5); i > 0; i--) {
    const key = pick(KEYS);
    if (!special && (key === '__proto__' || key === 'constructor')) continue;
    Object.defineProperty(obj, key, { value: generate(rand, depth - 1, special), enumerable: true, writable: true, configurable: true });
  }
  return obj;
}

function expectSameAsSuperjson(value: unknown) {
  let expected: ReturnType<typeof superjson.serialize>;
  try {
    expected = superjson.serialize(value);
  } catch (err) {
    // superjson refuses some values (a `constructor` key, say): so must we, the same way.
    expect(() => serializeOutput(value)).toThrow((err as Error).message);
    return;
  }
  // The same value; only the order of meta.values' keys may differ (superjson puts integer-like
  // paths first, as JavaScript objects do), which no reader of the format depends on.
  expect(serializeOutput(value)).toStrictEqual(expected);
}

describe('serializeOutput', () => {
  it('writes what superjson writes for a signal list (dates, nested payloads, keys with dots)', () => {
    const item = (i: number) => ({
      id: `s${i}`,
      payload: { 'risk.pct': 1.5, tags: ['a', 'b'], nested: { at: new Date(i) } },
      ownerOnly: i % 2 ? null : { notes: 'n', 'a\\b': 1 },
      expiresAt: i % 3 ? null : new Date(1_800_000_000_000 + i),
      createdAt: new Date(1_700_000_000_000 + i),
      updatedAt: new Date(1_700_000_000_001 + i),
    });
    const list = { items: Array.from({ length: 50 }, (_, i) => item(i)), nextCursor: 's49' };
    expectSameAsSuperjson(list);
    expect(JSON.stringify(serializeOutput(list))).toBe(JSON.stringify(superjson.serialize(list)));
    // …and wrote it itself, without superjson.
    const spy = vi.spyOn(superjson, 'serialize');
    try {
      serializeOutput(list);
      expect(spy).not.toHaveBeenCalled();
      serializeOutput({ list, odd: new Map() });
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('matches superjson on 3,000 generated plain values', () => {
    for (let seed = 1; seed <= 3000; seed++) expectSameAsSuperjson(generate(prng(seed), 4, false));
  });

  it('matches superjson on 3,000 generated values with what only superjson handles', () => {
    for (let seed = 1; seed <= 3000; seed++) expectSameAsSuperjson(generate(prng(seed), 4, true));
  });

  it('hands shared references, holes and top-level specials to superjson', () => {
    const shared = { x: new Date(5) };
    expectSameAsSuperjson({ a: shared, b: shared });
    expectSameAsSuperjson([1, , 3]); // eslint-disable-line no-sparse-arrays
    for (const top of [new Date(1), undefined, 'text', 42, null, [new Date(2)]]) expectSameAsSuperjson(top);
  });

  it('round-trips through superjson.deserialize, dates as dates', () => {
    const value = { items: [{ createdAt: new Date(7), payload: { 'k.1': [new Date(8)] } }] };
    expect(superjson.deserialize(serializeOutput(value))).toStrictEqual(value);
  });
});
