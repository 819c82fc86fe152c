import type { Command } from 'commander';
import { action, parseFlag, withServices } from '../runtime.js';
import { reencryptPayloads } from '../../jobs/reencrypt.js';
import { batchSize } from './keys.js';

export function registerPayloads(program: Command): void {
  const payloads = program.command('payloads').description('owner-only payloads at rest');

  payloads
    .command('reencrypt')
    .description("move payloads (legacy Fernet, older data keys) to each owner's newest data key")
    .option('--batch-size <n>', 'rows per transaction', '1000')
    .option('--dry-run', 'only count what would be moved')
    .addHelpText('after', '\nSafe while the server runs, safe to interrupt (Ctrl-C, even kill -9) and run again,\nand several runs may work side by side. Legacy tokens need SIGNALS_LEGACY_FERNET_KEYS.')
    .action(
      action(async (out, opts: { batchSize: string; dryRun?: boolean }) => {
        const size = parseFlag('--batch-size', batchSize, opts.batchSize);
        const result = await withServices(out, (s) => reencryptPayloads(s, { batchSize: size, dryRun: opts.dryRun, progress: s.progress }));
        out.result(result, [
          opts.dryRun ? `${result.pending} payload(s) would be re-encrypted.` : `Re-encrypted ${result.reencrypted} payload(s).`,
          ...(result.failed.length
            ? [`${result.failed.length} could not be opened and were left as they are:`, ...result.failed.slice(0, 20).map((f) => `  ${f.signalId} (${f.reason})`)]
            : []),
        ]);
        if (result.failed.length > 0) process.exitCode = 1;
      }),
    );
}
