// Development convenience: a keyring generated once and kept under .data/, so `pnpm start` works on a
// fresh clone. Production refuses to start without SIGNALS_MASTER_KEYS (see config.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Keyring } from '@signals/crypto';
import { dataDirectory } from '@signals/db';

export function readOrCreateDevKeyring(warn: (msg: string) => void): string {
  const dir = dataDirectory();
  const file = join(dir, 'master-keys');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, `${Keyring.generateEntry('dev1')}\n`, { mode: 0o600, flag: 'wx' });
    warn(`SIGNALS_MASTER_KEYS is not set: generated a development keyring in ${file}. Never use it in production.`);
  } else {
    warn(`SIGNALS_MASTER_KEYS is not set: using the development keyring in ${file}.`);
  }
  return readFileSync(file, 'utf8').trim();
}
