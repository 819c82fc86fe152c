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
