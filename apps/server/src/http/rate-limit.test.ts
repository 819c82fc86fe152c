import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.js';

function limiter(perMinute: number, burst: number, maxKeys?: number) {
  let now = 1_000_000;
  const rl = new RateLimiter({ perMinute, burst, now: () => now, ...(maxKeys ? { maxKeys } : {}) });
  return { rl, advance: (ms: number) => (now += ms) };
}

describe('RateLimiter', () => {
  it('allows a burst, then refuses with a Retry-After that is long enough, then refills', () => {
    const { rl, advance } = limiter(60, 3); // one token per second
    for (let i = 0; i < 3; i++) expect(rl.take('a').ok).toBe(true);
    const refused = rl.take('a');
    expect(refused).toEqual({ ok: false, retryAfterSeconds: 1 });
    advance(999);
    expect(rl.take('a').ok).toBe(false);
    advance(1);
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a').ok).toBe(false);
    advance(60_000); // never more than the burst
    for (let i = 0; i < 3; i++) expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a').ok).toBe(false);
  });

  it('keeps one bucket per key', () => {
    const { rl } = limiter(60, 1);
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a').ok).toBe(false);
    expect(rl.take('b').ok).toBe(true);
  });

  it('charges a batch per call, at most the whole bucket, and says how long to wait', () => {
    const { rl, advance } = limiter(6, 5); // one token per 10 s
    expect(rl.take('a', 4)).toEqual({ ok: true, remaining: 1 });
    expect(rl.take('a', 3)).toEqual({ ok: false, retryAfterSeconds: 20 });
    advance(20_000);
    expect(rl.take('a', 3).ok).toBe(true);
    advance(60_000);
    expect(rl.take('a', 500).ok).toBe(true); // a batch larger than the bucket drains it, no more
    expect(rl.take('a').ok).toBe(false);
  });

  it('holds at most maxKeys buckets, dropping the least recently used', () => {
    const { rl } = limiter(60, 1, 100);
    for (let i = 0; i < 1000; i++) rl.take(`k${i}`);
    expect(rl.size).toBe(100);
    expect(rl.take('k999').ok).toBe(false); // recent: still limited
    expect(rl.take('k0').ok).toBe(true); // dropped long ago: a fresh bucket
  });

  it('refuses nonsensical settings', () => {
    expect(() => new RateLimiter({ perMinute: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ perMinute: 1, burst: 0 })).toThrow(RangeError);
  });
});
