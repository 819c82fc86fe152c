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

// ---------------------------------------------------------------------------------------------
// Well-formed text. A lone UTF-16 surrogate (U+D800-U+DFFF without its pair) has no UTF-8 form: on
// its way to a text column the UTF-8 encoder silently puts U+FFFD in its place, and jsonb refuses
// its \u escape (sealed owner-only JSON would keep it escaped). One rule for all of them: input
// schemas refuse it before the database, with a field error, in every string that is stored.

const NOT_WELL_FORMED = 'must be well-formed Unicode text (a lone UTF-16 surrogate cannot be stored)';
const KEY_NOT_WELL_FORMED = `key ${NOT_WELL_FORMED}`;

/** No lone UTF-16 surrogate in `text`. String.prototype.isWellFormed: ES2024, Node 20+ (native, one pass). */
export function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** A string that can be stored as it came: chain limits on it (`wellFormedText.max(200)`). */
export const wellFormedText = z.string().refine(isWellFormed, { message: NOT_WELL_FORMED });

/**
 * For `.superRefine` on objects whose keys are stored (records, catchalls): one issue per key with a
 * lone surrogate, at that key's path. Not a key schema: a record's invalid key aborts it, so inside
 * the JSON union it would surface as a bare "Invalid input" one level up instead of this message.
 */
export function wellFormedKeys(value: object, ctx: z.RefinementCtx): void {
  for (const key of Object.keys(value)) {
    if (!isWellFormed(key)) ctx.addIssue({ code: 'custom', message: KEY_NOT_WELL_FORMED, input: key, path: [key] });
  }
}

/**
 * Any JSON value, as stored data may hold it: for views (output). Payloads sealed before input was
 * checked for lone surrogates (or legacy Fernet ones) may contain them and must still be shown.
 */
export const jsonValue: z.ZodType<Json> = z.json() as z.ZodType<Json>;

/**
 * Any JSON value accepted as input: z.json()'s shape, with every string and key (at any depth)
 * well-formed. The check rides on zod's own walk of the value (one native pass per string), so the
 * value is walked once.
 */
export const jsonInputValue: z.ZodType<Json> = z.lazy(() =>
  z.union([wellFormedText, z.number(), z.boolean(), z.null(), z.array(jsonInputValue), z.record(z.string(), jsonInputValue).superRefine(wellFormedKeys)]),
);

/** A JSON object with string keys, as input. */
export const jsonObject = z.record(z.string().max(200), jsonInputValue).superRefine(wellFormedKeys);
