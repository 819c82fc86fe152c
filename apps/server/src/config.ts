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
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
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
