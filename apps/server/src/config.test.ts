import { describe, expect, it } from 'vitest';
import { Keyring } from '@signals/crypto';
import { ConfigError, loadConfig } from './config.js';

const entry = Keyring.generateEntry('main1');
const secretPart = entry.slice(entry.indexOf(':') + 1);

function problemsOf(env: NodeJS.ProcessEnv, dev?: () => string): string[] {
  try {
    loadConfig(env, dev);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('reads a valid environment with defaults', () => {
    const config = loadConfig({ SIGNALS_MASTER_KEYS: entry });
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.keyring.primary.id).toBe('main1');
    expect(config.keyringSource).toBe('env');
    expect(config.databaseUrl).toBeUndefined();
  });

  it('reports one line per problem, never echoing key material', () => {
    const badKey = `main1:${secretPart.slice(0, 20)}`;
    const problems = problemsOf({ SIGNALS_MASTER_KEYS: badKey, PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' });
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).not.toContain(secretPart.slice(0, 20));
    expect(problems.some((p) => p.startsWith('PORT'))).toBe(true);
    expect(problems.some((p) => p.startsWith('DATABASE_URL'))).toBe(true);
  });

  it('refuses to start in production without SIGNALS_MASTER_KEYS, even with a dev keyring', () => {
    const problems = problemsOf({ NODE_ENV: 'production' }, () => entry);
    expect(problems).toEqual([expect.stringContaining('SIGNALS_MASTER_KEYS: required in production')]);
  });

  it('uses the development keyring outside production', () => {
    const config = loadConfig({}, () => entry);
    expect(config.keyringSource).toBe('dev-file');
    expect(config.keyring.primary.id).toBe('main1');
  });
});

describe('loadConfig: limits', () => {
  it('has safe defaults: bounded timeouts, a rate limit, CORS closed', () => {
    const { limits } = loadConfig({ SIGNALS_MASTER_KEYS: entry });
    expect(limits).toEqual({
      dbTimeoutMs: 5_000,
      statementTimeoutMs: 10_000,
      requestTimeoutMs: 15_000,
      slowQueryMs: 500,
      rateLimit: { perMinute: 600, burst: 100 },
      corsOrigins: [],
    });
  });

  it('reads every limit from the environment', () => {
    const { limits } = loadConfig({
      SIGNALS_MASTER_KEYS: entry,
      SIGNALS_DB_TIMEOUT_MS: '1500',
      SIGNALS_STATEMENT_TIMEOUT_MS: '2500',
      SIGNALS_REQUEST_TIMEOUT_MS: '3500',
      SIGNALS_SLOW_QUERY_MS: '-1',
      SIGNALS_RATE_LIMIT_PER_MINUTE: '120',
      SIGNALS_RATE_LIMIT_BURST: '7',
      SIGNALS_CORS_ORIGINS: 'https://app.example.com, http://localhost:5173/',
    });
    expect(limits).toEqual({
      dbTimeoutMs: 1500,
      statementTimeoutMs: 2500,
      requestTimeoutMs: 3500,
      slowQueryMs: -1,
      rateLimit: { perMinute: 120, burst: 7 },
      corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
    });
    expect(loadConfig({ SIGNALS_MASTER_KEYS: entry, SIGNALS_RATE_LIMIT_PER_MINUTE: '0' }).limits.rateLimit).toBeNull();
  });

  it('reports each bad limit on its own line, naming the variable', () => {
    const problems = problemsOf({
      SIGNALS_MASTER_KEYS: entry,
      SIGNALS_DB_TIMEOUT_MS: '5s',
      SIGNALS_STATEMENT_TIMEOUT_MS: '0',
      SIGNALS_REQUEST_TIMEOUT_MS: '1.5',
      SIGNALS_SLOW_QUERY_MS: '-2',
      SIGNALS_RATE_LIMIT_PER_MINUTE: '-1',
      SIGNALS_RATE_LIMIT_BURST: '0',
      SIGNALS_CORS_ORIGINS: 'https://ok.example.com,*,https://x.example.com/path',
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'SIGNALS_DB_TIMEOUT_MS',
      'SIGNALS_STATEMENT_TIMEOUT_MS',
      'SIGNALS_REQUEST_TIMEOUT_MS',
      'SIGNALS_SLOW_QUERY_MS',
      'SIGNALS_RATE_LIMIT_PER_MINUTE',
      'SIGNALS_RATE_LIMIT_BURST',
      'SIGNALS_CORS_ORIGINS',
      'SIGNALS_CORS_ORIGINS',
    ]);
    expect(problems[0]).toBe('SIGNALS_DB_TIMEOUT_MS: must be a whole number of milliseconds');
    expect(problems[1]).toBe('SIGNALS_STATEMENT_TIMEOUT_MS: must be at least 100 ms');
    expect(problems.filter((p) => p.startsWith('SIGNALS_CORS_ORIGINS')).join('\n')).toMatch(/"\*" is not an origin[\s\S]*"https:\/\/x\.example\.com\/path" is not an origin/);
    for (const p of problems) expect(p).not.toContain('\n');
  });
});
