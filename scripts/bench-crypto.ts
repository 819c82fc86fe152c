// Benchmark of @signals/crypto against its baselines, measured in one run:
//   - sealed values: our seal+open of a 1 KiB JSON payload vs bare node:crypto AES-256-GCM
//     (createCipheriv/createDecipheriv, fresh randomBytes(12) nonce) on the same 1 KiB of bytes;
//     target ratio ≥ 0.8;
//   - legacy Fernet: our Fernet round trip vs the npm `fernet` 0.4.0 package; target ≥ 10×;
//   - how many of the 8 spec-invalid Fernet tokens each Fernet implementation accepts.
// Paired cases are interleaved in rounds so that machine noise hits both alike; each figure is
// the median of the case's rounds.
// Targets are reported (PASS / BELOW), never enforced.
//
//   pnpm exec tsx scripts/bench-crypto.ts [--quick]
import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Fernet, generateDataKey, open, seal } from '../packages/crypto/src/index.js';
import type { SealContext } from '../packages/crypto/src/index.js';

export interface BenchRow {
  name: string;
  opsPerSec: number;
  note?: string;
}

export const SEALED_RATIO_TARGET = 0.8;
export const FERNET_RATIO_TARGET = 10;

// The npm package is CommonJS without types, installed as a devDependency of packages/crypto.
interface NpmFernetToken {
  encode(message: string): string;
  decode(token?: string): string;
}
interface NpmFernet {
  Secret: new (key: string) => object;
  Token: new (opts: { secret: object; token?: string; ttl?: number }) => NpmFernetToken;
}
const requireFromCrypto = createRequire(new URL('../packages/crypto/package.json', import.meta.url));

interface InvalidVector {
  desc: string;
  token: string;
  now: string;
  ttl_sec: number;
  secret: string;
}

// --- timing -----------------------------------------------------------------------------------

function runFor(fn: () => unknown, ms: number): { ops: number; ms: number } {
  let ops = 0;
  let batch = 16;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    elapsed = performance.now() - start;
    if (elapsed < ms / 20) batch *= 2; // keep clock reads rare relative to the work
  }
  return { ops, ms: elapsed };
}

/**
 * ops/s of each case: after a warm-up, the cases run in interleaved rounds (`seconds` per case in
 * total, rounds of at least 40 ms so each includes its share of garbage collection) and each
 * case's figure is the median of its rounds. Interleaving exposes the cases of a ratio to the
 * same machine conditions; the median discards rounds hit by outside interference.
 */
function measureInterleaved(cases: ReadonlyArray<() => unknown>, seconds: number): number[] {
  for (const fn of cases) runFor(fn, 250); // enough for V8 to optimise the hot paths
  const rounds = Math.max(5, Math.min(15, Math.floor((seconds * 1000) / 40)));
  const rates = cases.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    // Alternate the order so neither case always runs right after the other's garbage.
    const order = round % 2 === 0 ? cases.map((_, i) => i) : cases.map((_, i) => cases.length - 1 - i);
    for (const i of order) {
      const r = runFor(cases[i] as () => unknown, (seconds * 1000) / rounds);
      rates[i]?.push((r.ops * 1000) / r.ms);
    }
  }
  return rates.map((list) => {
    const sorted = [...list].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  });
}

// --- cases ------------------------------------------------------------------------------------

/** A realistic owner-only payload whose JSON text is exactly 1024 bytes. */
export function makePayload(): Record<string, string> {
  const base = { stopLoss: '1923.10', takeProfit: '1987.45', strategy: 'london-breakout-v3', notes: '' };
  const sentence = 'Scale out half at TP1, trail the rest under the 4h EMA; skip if spread > 3 pips. ';
  const room = 1024 - Buffer.byteLength(JSON.stringify(base));
  return { ...base, notes: sentence.repeat(Math.ceil(room / sentence.length)).slice(0, room) };
}

function withFrozenClock<T>(iso: string, fn: () => T): T {
  const RealDate = Date;
  const fixed = RealDate.parse(iso);
  class FrozenDate extends RealDate {
    constructor(value?: number | string | Date) {
      if (value === undefined) super(fixed);
      else super(value);
    }
    static override now(): number {
      return fixed;
    }
  }
  globalThis.Date = FrozenDate as DateConstructor;
  try {
    return fn();
  } finally {
    globalThis.Date = RealDate;
  }
}

/** The descriptions of the vectors that `decrypt` accepted (returned from without throwing). */
function acceptedVectors(vectors: readonly InvalidVector[], decrypt: (v: InvalidVector) => unknown): string[] {
  const accepted: string[] = [];
  for (const v of vectors) {
    try {
      decrypt(v);
      accepted.push(v.desc);
    } catch {
      // rejected, as it should be
    }
  }
  return accepted;
}

const acceptance = (accepted: readonly string[], total: number): string =>
  `accepts ${accepted.length}/${total} spec-invalid tokens${accepted.length > 0 ? ` (${accepted.join('; ')})` : ''}`;

const verdict = (ratio: number, target: number): string => (ratio >= target ? 'PASS' : 'BELOW');

export async function benchCrypto(opts: { quick: boolean }): Promise<BenchRow[]> {
  const seconds = opts.quick ? 0.2 : 1;
  const payload = makePayload();
  const json = JSON.stringify(payload);
  const jsonBytes = Buffer.from(json, 'utf8');

  // Sealed values vs bare AES-256-GCM on the same bytes.
  const key = generateDataKey();
  const ctx: SealContext = {
    table: 'signals',
    column: 'owner_only_payload',
    rowId: '0b8f6c52-54b1-4c3e-9d55-6f1f7f3a2c11',
    ownerId: '6a0a1c4e-5b7b-4f34-8a4f-2f1d2b6f1c3a',
  };
  const bareRoundTrip = (): Buffer => {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    const ciphertext = Buffer.concat([cipher.update(jsonBytes), cipher.final()]);
    const tag = cipher.getAuthTag();
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  };
  const sealedRoundTrip = (): unknown => open(key, seal(key, 1, payload, ctx), ctx);
  const jsonOnly = (): unknown => JSON.parse(JSON.stringify(payload));
  if (!bareRoundTrip().equals(jsonBytes)) throw new Error('bare GCM round trip is wrong');
  if (JSON.stringify(sealedRoundTrip()) !== json) throw new Error('seal/open round trip is wrong');

  const [bareOps = 0, sealedOps = 0, jsonOps = 0] = measureInterleaved([bareRoundTrip, sealedRoundTrip, jsonOnly], seconds);
  const sealedRatio = sealedOps / bareOps;
  // What the envelope (format, AAD, strict parsing) costs beyond bare GCM plus the JSON round trip.
  const sealedVsBarePlusJson = (1 / bareOps + 1 / jsonOps) * sealedOps;

  // Fernet vs the npm package, same 1 KiB text.
  const npm = requireFromCrypto('fernet') as NpmFernet;
  const fernetKey = Fernet.generateKey();
  const ours = new Fernet(fernetKey);
  const secret = new npm.Secret(fernetKey);
  const npmRoundTrip = (): string => {
    const token = new npm.Token({ secret, ttl: 0 }).encode(json);
    return new npm.Token({ secret, token, ttl: 0 }).decode();
  };
  const oursRoundTrip = (): Buffer => ours.decrypt(ours.encrypt(json));
  if (npmRoundTrip() !== json) throw new Error('npm fernet round trip is wrong');
  if (oursRoundTrip().toString('utf8') !== json) throw new Error('Fernet round trip is wrong');
  // Interoperability both ways, as a sanity check of what is being compared.
  const interop =
    ours.decrypt(new npm.Token({ secret, ttl: 0 }).encode(json)).toString('utf8') === json &&
    new npm.Token({ secret, token: ours.encrypt(json), ttl: 0 }).decode() === json;

  const [npmOps = 0, oursOps = 0] = measureInterleaved([npmRoundTrip, oursRoundTrip], seconds);
  const fernetRatio = oursOps / npmOps;

  const invalid = JSON.parse(
    readFileSync(new URL('../packages/crypto/test-vectors/invalid.json', import.meta.url), 'utf8'),
  ) as InvalidVector[];
  const oursAccepted = acceptedVectors(invalid, (v) =>
    new Fernet(v.secret).decrypt(v.token, { ttlSeconds: v.ttl_sec, now: new Date(v.now) }),
  );
  // The npm package reads the system clock: freeze it at each vector's "now".
  const npmAccepted = acceptedVectors(invalid, (v) =>
    withFrozenClock(v.now, () => new npm.Token({ secret: new npm.Secret(v.secret), token: v.token, ttl: v.ttl_sec }).decode()),
  );

  return [
    {
      name: 'node:crypto AES-256-GCM seal+open, 1 KiB (baseline)',
      opsPerSec: bareOps,
      note: 'createCipheriv/createDecipheriv, randomBytes(12) nonce per seal',
    },
    {
      name: '@signals/crypto seal+open, 1 KiB JSON (sv1)',
      opsPerSec: sealedOps,
      note: `${sealedRatio.toFixed(2)}× baseline (target ≥ ${SEALED_RATIO_TARGET}) ${verdict(sealedRatio, SEALED_RATIO_TARGET)}`,
    },
    {
      name: 'JSON.stringify+JSON.parse of that payload alone',
      opsPerSec: jsonOps,
      note: `reference: work seal+open does and the baseline does not; seal+open = ${sealedVsBarePlusJson.toFixed(2)}× the speed of baseline + this`,
    },
    {
      name: 'npm fernet 0.4.0 round trip, 1 KiB',
      opsPerSec: npmOps,
      note: acceptance(npmAccepted, invalid.length),
    },
    {
      name: '@signals/crypto Fernet round trip, 1 KiB',
      opsPerSec: oursOps,
      note:
        `${fernetRatio.toFixed(1)}× npm fernet (target ≥ ${FERNET_RATIO_TARGET}) ${verdict(fernetRatio, FERNET_RATIO_TARGET)}; ` +
        `${acceptance(oursAccepted, invalid.length)}; interop with npm fernet ${interop ? 'ok' : 'FAILED'}`,
    },
  ];
}

export function formatBenchRows(rows: readonly BenchRow[]): string {
  const width = Math.max(...rows.map((r) => r.name.length));
  const lines = rows.map(
    (r) =>
      `${r.name.padEnd(width)}  ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(11)} ops/s${r.note ? `  ${r.note}` : ''}`,
  );
  return [`${'case'.padEnd(width)}  ${'throughput'.padStart(17)}`, ...lines].join('\n');
}

// Run alone: print the table. (No top-level await, so the module also loads from CommonJS.)
const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  benchCrypto({ quick: process.argv.includes('--quick') }).then(
    (rows) => console.log(formatBenchRows(rows)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
