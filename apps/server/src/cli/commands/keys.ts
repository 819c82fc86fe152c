import type { Command } from 'commander';
import { Keyring } from '@signals/crypto';
import { z } from 'zod';
import { action, CliError, parseFlag, withServices } from '../runtime.js';
import { keyStatus } from '../../jobs/key-status.js';
import { rewrapDataKeys } from '../../jobs/rewrap.js';
import { rotateOwnerKeys } from '../../jobs/rotate-owner.js';
import { userId } from '../../schemas/user.js';

export const batchSize = z.coerce.number().int().min(1).max(10_000);

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('key-encryption keys (KEKs) and owner data keys');

  keys
    .command('generate')
    .description('print a new key-encryption key entry for SIGNALS_MASTER_KEYS')
    .option('--id <id>', 'key id (letters, digits, - and _)')
    .addHelpText('after', '\nPut the new entry first in SIGNALS_MASTER_KEYS to make it primary; keep the old entries\nafter it until `keys rewrap` has moved every data key (see docs/operations.md).')
    .action(
      action(async (out, opts: { id?: string }) => {
        const entry = Keyring.generateEntry(opts.id);
        const id = entry.slice(0, entry.indexOf(':'));
        out.result({ id, entry }, [entry, '', `Add it to SIGNALS_MASTER_KEYS, e.g. SIGNALS_MASTER_KEYS="${id}:…,<older entries>"`]);
      }),
    );

  keys
    .command('status')
    .description('which KEK wraps how many data keys, and which data-key version seals how many payloads')
    .addHelpText('after', '\nA KEK marked "removable" wraps no live data key: it may leave SIGNALS_MASTER_KEYS.\nPayloads "on an older key" or "legacy" are moved by `signals payloads reencrypt`.')
    .action(
      action(async (out) => {
        const status = await withServices(out, (s) => keyStatus(s.knex, s.config.keyring));
        const p = status.payloads;
        out.result(status, [
          'Key-encryption keys:',
          ...status.keks.map((k) => `  ${k.kekId.padEnd(20)} ${k.primary ? 'primary ' : '        '}${k.configured ? '' : 'NOT CONFIGURED '}wraps ${k.ownerKeys} data key(s)${k.removable ? '  (removable)' : ''}`),
          'Data-key versions:',
          ...status.dataKeyVersions.map((v) => `  v${v.version}: ${v.ownerKeys} owner key(s) (${v.destroyed} destroyed), ${v.payloads} payload(s)`),
          `Payloads: ${p.total} in all; ${p.onNewestKey} on the newest key, ${p.onOlderKey} on an older key, ${p.legacyFernet} legacy Fernet, ${p.onDestroyedKey} under destroyed keys, ${p.shredded} shredded, ${p.unrecognised} unrecognised`,
        ]);
      }),
    );

  keys
    .command('rewrap')
    .description('re-wrap every owner data key under the primary KEK (one row per owner key)')
    .option('--batch-size <n>', 'keys per transaction', '500')
    .option('--dry-run', 'only count what would be re-wrapped')
    .action(
      action(async (out, opts: { batchSize: string; dryRun?: boolean }) => {
        const size = parseFlag('--batch-size', batchSize, opts.batchSize);
        const result = await withServices(out, (s) => rewrapDataKeys(s.knex, s.config.keyring, { batchSize: size, dryRun: opts.dryRun, progress: s.progress }));
        out.result(result, [
          opts.dryRun
            ? `${result.pending} data key(s) would be re-wrapped under ${result.primaryKekId}.`
            : `Re-wrapped ${result.rewrapped} data key(s) under ${result.primaryKekId}. Check \`signals keys status\` before removing an old KEK.`,
        ]);
      }),
    );

  keys
    .command('rotate-owner')
    .description("start a new data-key version for one owner or all owners (new writes use it)")
    .option('--owner <id>', 'owner user id')
    .option('--all', 'every enabled owner')
    .option('--dry-run', 'only list the owners')
    .addHelpText('after', '\nExisting payloads stay readable; `signals payloads reencrypt` moves them to the new version.')
    .action(
      action(async (out, opts: { owner?: string; all?: boolean; dryRun?: boolean }) => {
        if (Boolean(opts.owner) === Boolean(opts.all)) throw new CliError('Give exactly one of --owner ID or --all.', 2);
        const target = opts.owner ? { ownerId: parseFlag('--owner', userId, opts.owner) } : { all: true as const };
        const result = await withServices(out, (s) => rotateOwnerKeys(s.knex, s.ownerKeys, target, { dryRun: opts.dryRun, progress: s.progress }));
        out.result(result, [
          opts.dryRun ? `${result.owners.length} owner(s) would get a new data key.` : `${result.owners.length} owner(s) now write under a new data key version.`,
          ...result.owners.slice(0, 20).map((o) => `  ${o.ownerId}${o.version ? ` → v${o.version}` : ''}`),
        ]);
      }),
    );
}
