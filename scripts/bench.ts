// `pnpm bench [crypto|reencrypt|api ...] [--quick] [--cpu-prof]`: benchmarks with figures and
// ratios against baselines measured in the same run. Targets are reported (PASS / BELOW), never
// enforced: the command exits 0 when a target is missed, and 1 only when a part fails to run.
//
//   crypto     seal+open vs bare AES-256-GCM; our Fernet vs npm fernet (scripts/bench-crypto.ts)
//   reencrypt  `payloads reencrypt` over 10k and 100k rows (5k and 20k with --quick)
//   api        signals.create / byId / list through @signals/client over HTTP, concurrency 1 and 16
//
// --quick      a short version of everything, in under a minute
// --cpu-prof   V8 CPU profiles of the re-encryption worker and the API server, written to
//              bench/results/profiles/ (open them in Chrome DevTools or speedscope)
//
// Each run writes its figures to bench/results/<timestamp>.json, with the machine's description.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runApi } from './bench/api.js';
import { BenchPostgres, formatPart, machineInfo, type PartReport } from './bench/common.js';
import { runCrypto } from './bench/crypto.js';
import { runReencrypt } from './bench/reencrypt.js';

const PARTS = ['crypto', 'reencrypt', 'api'] as const;
type Part = (typeof PARTS)[number];

function parseArgs(argv: string[]): { parts: Part[]; quick: boolean; cpuProf: boolean } {
  const parts: Part[] = [];
  let quick = false;
  let cpuProf = false;
  for (const arg of argv) {
    if (arg === '--') continue;
    if (arg === '--quick') quick = true;
    else if (arg === '--cpu-prof') cpuProf = true;
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: pnpm bench [crypto|reencrypt|api ...] [--quick] [--cpu-prof]');
      process.exit(0);
    } else if ((PARTS as readonly string[]).includes(arg)) parts.push(arg as Part);
    else {
      console.error(`unknown argument ${JSON.stringify(arg)}; usage: pnpm bench [crypto|reencrypt|api ...] [--quick] [--cpu-prof]`);
      process.exit(2);
    }
  }
  return { parts: parts.length ? [...new Set(parts)] : [...PARTS], quick, cpuProf };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const resultsDir = fileURLToPath(new URL('../bench/results/', import.meta.url));
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const cpuProfDir = args.cpuProf ? `${resultsDir}profiles/${stamp}` : undefined;
  const machine = machineInfo();
  const postgres = new BenchPostgres();
  const usesDatabase = args.parts.some((p) => p !== 'crypto');

  console.log(
    `signals bench${args.quick ? ' --quick' : ''}: ${args.parts.join(', ')} — ${startedAt.toISOString()}\n` +
      `machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.totalMemoryGiB} GiB, Node ${machine.node}, ${machine.platform}` +
      (usesDatabase ? `\ndatabase: ${postgres.describe()}` : ''),
  );
  if (machine.loadAverage > machine.cpus / 2) {
    console.log(`note: load average ${machine.loadAverage} on ${machine.cpus} CPUs before starting: other work is running, figures will be noisier`);
  }

  const reports: PartReport[] = [];
  const failures: { part: Part; error: string }[] = [];
  const t0 = performance.now();
  try {
    for (const part of args.parts) {
      const partStart = performance.now();
      console.log(`\n=== ${part} ${'='.repeat(70 - part.length)}`);
      try {
        const report =
          part === 'crypto'
            ? await runCrypto({ quick: args.quick })
            : part === 'reencrypt'
              ? await runReencrypt({ quick: args.quick, postgres, cpuProfDir })
              : await runApi({ quick: args.quick, postgres, cpuProfDir });
        reports.push(report);
        console.log(formatPart(report));
        console.log(`  (${part}: ${((performance.now() - partStart) / 1000).toFixed(1)} s)`);
      } catch (err) {
        const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
        failures.push({ part, error });
        console.error(`${part} failed: ${error}`);
      }
    }
  } finally {
    await postgres.stop();
  }

  const ratios = reports.flatMap((r) => r.ratios.map((x) => ({ part: r.part, ...x })));
  const below = ratios.filter((r) => !r.pass);
  console.log(
    `\n${ratios.length - below.length}/${ratios.length} targets met` +
      (below.length ? ` (BELOW: ${below.map((r) => `${r.part}: ${r.name}`).join('; ')})` : '') +
      ` — ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  mkdirSync(resultsDir, { recursive: true });
  const file = `${resultsDir}${stamp}.json`;
  const json = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    seconds: (performance.now() - t0) / 1000,
    quick: args.quick,
    parts: args.parts,
    machine,
    loadAverageAtEnd: machineInfo().loadAverage,
    database: usesDatabase ? postgres.describe() : null,
    results: Object.fromEntries(reports.map((r) => [r.part, { figures: r.figures, ratios: r.ratios, notes: r.notes, tables: r.tables }])),
    failures,
  };
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`figures written to ${file}`);
  if (cpuProfDir) console.log(`CPU profiles in ${cpuProfDir}`);
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
