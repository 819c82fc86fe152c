// Per-caller rate limit: a token bucket in memory, keyed by API token (or by IP address for calls
// without a valid token). Each replica keeps its own buckets, so N replicas allow N times the rate.

export interface RateLimitOptions {
  /** Sustained rate: tokens added per minute. */
  perMinute: number;
  /** Bucket size: how many calls may come at once after a quiet spell. */
  burst: number;
  /** Buckets kept at most; beyond that the least recently used are dropped (they were full or nearly). */
  maxKeys?: number;
  now?: () => number;
}

export type RateDecision = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(readonly options: RateLimitOptions) {
    if (!(options.perMinute > 0) || !(options.burst >= 1)) throw new RangeError('rate limit: perMinute must be > 0 and burst >= 1');
    this.perMs = options.perMinute / 60_000;
    this.maxKeys = options.maxKeys ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  /** Takes `cost` tokens (a tRPC batch costs one per call, at most the whole bucket) from `key`'s bucket. */
  take(key: string, cost = 1): RateDecision {
    const now = this.now();
    const { burst } = this.options;
    const wanted = Math.min(Math.max(1, cost), burst);
    const bucket = this.buckets.get(key);
    let tokens = burst;
    if (bucket) {
      tokens = Math.min(burst, bucket.tokens + (now - bucket.at) * this.perMs);
      this.buckets.delete(key); // re-inserted below: Map order is least recently used first
    }
    if (tokens < wanted) {
      this.buckets.set(key, { tokens, at: now });
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((wanted - tokens) / this.perMs / 1000)) };
    }
    this.buckets.set(key, { tokens: tokens - wanted, at: now });
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    return { ok: true, remaining: Math.floor(tokens - wanted) };
  }

  get size(): number {
    return this.buckets.size;
  }
}
