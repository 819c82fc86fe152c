// JSON values as zod schemas, bounded so hostile input cannot blow the stack or the heap.
import { z } from 'zod';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export const MAX_DEPTH = 16;

/** Keys that would pollute prototypes if an object were ever merged naively. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Problems with raw input that zod cannot see: by the time a schema runs, `__proto__` keys may
 * already be gone. The `procedure` middleware checks every raw input with this before validation.
 * Iterative, with early exit, so hostile input cannot exhaust the stack here either.
 */
export function rawInputProblem(raw: unknown, maxDepth = MAX_DEPTH + 2): string | null {
  const stack: { value: unknown; depth: number }[] = [{ value: raw, depth: 0 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!;
    if (!value || typeof value !== 'object') continue;
    if (depth >= maxDepth) return `input must not nest deeper than ${MAX_DEPTH} levels`;
    if (!Array.isArray(value)) {
      for (const key of Object.keys(value)) {
        if (FORBIDDEN_KEYS.has(key)) return 'input must not contain the keys __proto__, constructor or prototype';
      }
    }
    for (const child of Object.values(value)) stack.push({ value: child, depth: depth + 1 });
  }
  return null;
}

export const jsonValue: z.ZodType<Json> = z.json() as z.ZodType<Json>;

/** A JSON object with string keys. */
export const jsonObject = z.record(z.string().max(200), jsonValue);
