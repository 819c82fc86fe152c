// Environment configuration, validated once at start-up. Every problem is reported on its own
// line, and no message ever echoes key material.
import { z } from 'zod';
import { Keyring, parseLegacyFernetKeys, isCryptoError, type MultiFernet } from '@signals/crypto';

export interface Config {
  databaseUrl: string | undefined;
  port: number;
  host: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  nodeEnv: 'development' | 'production' | 'test';
  keyring: Keyring;
  legacyFernet: MultiFernet | null;
  /** Where the master keys came from: the environment, or a development file under .data/. */
  keyringSource: 'env' | 'dev-file';
  limits: Limits;
}

/** Timeouts, rate limits and CORS: what protects the service from slow, hostile or runaway callers. */
export interface Limits {
  /** Wait for a database connection (pool and connect) before answering SERVICE_UNAVAILABLE. */
  dbTimeoutMs: number;
  /** PostgreSQL `statement_timeout` of every connection; a statement cancelled by it answers TIMEOUT. */
  statementTimeoutMs: number;
  /** Deadline of one procedure call (TIMEOUT), and of receiving one HTTP request. */
  requestTimeoutMs: number;
  /** Queries slower than this are logged at warn, SQL text only; -1: never, 0: every query. */
  slowQueryMs: number;
  /** Token bucket per API token (per IP address without a valid token); null: no limit. */
  rateLimit: { perMinute: number; burst: number } | null;
  /** Origins allowed to call the API from a browser; empty: CORS closed. */
  corsOrigins: string[];
}

export const DEFAULT_LIMITS: Limits = {
  dbTimeoutMs: 5_000,
  statementTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  slowQueryMs: 500,
  rateLimit: { perMinute: 600, burst: 100 },
  corsOrigins: [],
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** A whole number of milliseconds within bounds. */
const millis = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: 'must be a whole number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(min, `must be at least ${min} ms`)
    .max(max, `must be at most ${max} ms`)
    .default(fallback);

const count = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(fallback);

/** `https://app.example.com,http://localhost:5173`: exact origins (scheme, host, port), no path, no wildcard. */
const corsOrigins = z
  .string()
  .transform((value, ctx) => {
    const origins: string[] = [];
    for (const raw of value.split(',').map((o) => o.trim()).filter(Boolean)) {
      let origin: string | undefined;
      try {
        const url = new URL(raw);
        if ((url.protocol === 'https:' || url.protocol === 'http:') && url.origin === raw.replace(/\/$/, '').toLowerCase()) origin = url.origin;
      } catch {
        // reported below
      }
      if (origin) origins.push(origin);
      else ctx.addIssue({ code: 'custom', message: `"${raw.slice(0, 100)}" is not an origin such as https://app.example.com (scheme, host and port only; no path, no wildcard)` });
    }
    return origins;
  })
  .default([]);

const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  SIGNALS_DB_TIMEOUT_MS: millis(100, 600_000, DEFAULT_LIMITS.dbTimeoutMs),
  SIGNALS_STATEMENT_TIMEOUT_MS: millis(100, 3_600_000, DEFAULT_LIMITS.statementTimeoutMs),
  SIGNALS_REQUEST_TIMEOUT_MS: millis(100, 3_600_000, DEFAULT_LIMITS.requestTimeoutMs),
  SIGNALS_SLOW_QUERY_MS: millis(-1, 3_600_000, DEFAULT_LIMITS.slowQueryMs),
  SIGNALS_RATE_LIMIT_PER_MINUTE: count(0, 100_000_000, DEFAULT_LIMITS.rateLimit?.perMinute ?? 0),
  SIGNALS_RATE_LIMIT_BURST: count(1, 100_000_000, DEFAULT_LIMITS.rateLimit?.burst ?? 1),
  SIGNALS_CORS_ORIGINS: corsOrigins,
});

/** Reads a dev keyring when the environment has none; injected so tests need no files. */
export type DevKeyringSource = () => string;

export function loadConfig(env: NodeJS.ProcessEnv, devKeyring?: DevKeyringSource): Config {
  const problems: string[] = [];
  const blankToUndefined = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === '' ? undefined : v]));
  const parsed = envSchema.safeParse(blankToUndefined);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  const nodeEnv = parsed.success ? parsed.data.NODE_ENV : 'development';

  let keyring: Keyring | undefined;
  let keyringSource: Config['keyringSource'] = 'env';
  const masterKeys = blankToUndefined.SIGNALS_MASTER_KEYS;
  if (masterKeys) {
    keyring = parseOrReport('SIGNALS_MASTER_KEYS', () => Keyring.parse(masterKeys), problems);
  } else if (nodeEnv === 'production') {
    problems.push('SIGNALS_MASTER_KEYS: required in production (generate one with `pnpm signals keys generate`)');
  } else if (devKeyring) {
    keyringSource = 'dev-file';
    keyring = parseOrReport('development keyring file', () => Keyring.parse(devKeyring()), problems);
  } else {
    problems.push('SIGNALS_MASTER_KEYS: not set (generate one with `pnpm signals keys generate`)');
  }

  let legacyFernet: MultiFernet | null = null;
  const legacyKeys = blankToUndefined.SIGNALS_LEGACY_FERNET_KEYS;
  if (legacyKeys) {
    legacyFernet = parseOrReport('SIGNALS_LEGACY_FERNET_KEYS', () => parseLegacyFernetKeys(legacyKeys), problems) ?? null;
  }

  if (problems.length > 0 || !parsed.success || !keyring) throw new ConfigError(problems);
  return {
    databaseUrl: parsed.data.DATABASE_URL,
    port: parsed.data.PORT,
    host: parsed.data.HOST,
    logLevel: parsed.data.LOG_LEVEL,
    nodeEnv,
    keyring,
    legacyFernet,
    keyringSource,
    limits: {
      dbTimeoutMs: parsed.data.SIGNALS_DB_TIMEOUT_MS,
      statementTimeoutMs: parsed.data.SIGNALS_STATEMENT_TIMEOUT_MS,
      requestTimeoutMs: parsed.data.SIGNALS_REQUEST_TIMEOUT_MS,
      slowQueryMs: parsed.data.SIGNALS_SLOW_QUERY_MS,
      rateLimit:
        parsed.data.SIGNALS_RATE_LIMIT_PER_MINUTE === 0
          ? null
          : { perMinute: parsed.data.SIGNALS_RATE_LIMIT_PER_MINUTE, burst: parsed.data.SIGNALS_RATE_LIMIT_BURST },
      corsOrigins: parsed.data.SIGNALS_CORS_ORIGINS,
    },
  };
}

function parseOrReport<T>(name: string, parse: () => T, problems: string[]): T | undefined {
  try {
    return parse();
  } catch (err) {
    // Crypto errors are written never to contain key material, so their message is safe to show.
    problems.push(`${name}: ${isCryptoError(err) ? err.message : 'could not be parsed'}`);
    return undefined;
  }
}
