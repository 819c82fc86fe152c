// Shared by the package's tests (not part of the package API).
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { isCryptoError } from '../src/errors.js';
import type { CryptoError, CryptoErrorCode } from '../src/errors.js';

/** Runs fn, which must throw; returns what it threw. A returned value fails the test. */
export function thrown(fn: () => unknown): unknown {
  let value: unknown;
  try {
    value = fn();
  } catch (err) {
    return err;
  }
  throw new Error(`expected a throw, got a value: ${String(value).slice(0, 80)}`);
}

/** fn must throw a CryptoError (with `code`, when given); returns it. */
export function expectCryptoError(fn: () => unknown, code?: CryptoErrorCode): CryptoError {
  const err = thrown(fn);
  if (!isCryptoError(err)) throw new Error(`expected a CryptoError, got ${String(err)}`);
  if (code !== undefined) expect(err.code, err.message).toBe(code);
  return err;
}

/** A JSON file of this package, by path relative to the package root. */
export function readPackageJson<T>(relativePath: string): T {
  return JSON.parse(readFileSync(new URL(`../${relativePath}`, import.meta.url), 'utf8')) as T;
}
