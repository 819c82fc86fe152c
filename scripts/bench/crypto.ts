// Part 1, crypto (issue 3): runs `benchCrypto` of scripts/bench-crypto.ts and turns its rows into
// the common report: a table and the two ratio lines, plus how many of the spec's invalid Fernet
// tokens each implementation accepts.
import { benchCrypto, FERNET_RATIO_TARGET, SEALED_RATIO_TARGET, type BenchRow } from '../bench-crypto.js';
import { fmtInt, ratio, type PartReport } from './common.js';

function find(rows: readonly BenchRow[], test: (name: string) => boolean, what: string): BenchRow {
  const row = rows.find((r) => test(r.name));
  if (!row) throw new Error(`benchCrypto returned no row for ${what} (rows: ${rows.map((r) => r.name).join(', ')})`);
  return row;
}

/** "accepts 0/8 spec-invalid tokens" in a row's note, as numbers. */
function acceptedOf(row: BenchRow): { accepted: number; total: number } | null {
  const m = /accepts (\d+)\/(\d+) spec-invalid/.exec(row.note ?? '');
  return m ? { accepted: Number(m[1]), total: Number(m[2]) } : null;
}

export async function runCrypto(opts: { quick: boolean }): Promise<PartReport> {
  const rows = await benchCrypto({ quick: opts.quick });
  const bare = find(rows, (n) => n.startsWith('node:crypto'), 'bare AES-256-GCM');
  const sealed = find(rows, (n) => n.includes('seal+open') && n.startsWith('@signals/crypto'), 'seal+open');
  const npm = find(rows, (n) => n.startsWith('npm fernet'), 'npm fernet');
  const ours = find(rows, (n) => n.includes('Fernet') && n.startsWith('@signals/crypto'), 'our Fernet');
  const npmAccepts = acceptedOf(npm);
  const oursAccepts = acceptedOf(ours);

  const table = {
    title: `crypto: round trips of a 1 KiB payload, one thread (${opts.quick ? '0.2' : '1'} s per case, interleaved rounds)`,
    headers: ['case', 'ops/s', 'note'],
    rows: rows.map((r) => [r.name, fmtInt(r.opsPerSec), r.note ?? '']),
  };
  const ratios = [
    ratio('sealed seal+open vs bare AES-256-GCM', sealed.opsPerSec / bare.opsPerSec, SEALED_RATIO_TARGET, 'min', 'round trips/s of @signals/crypto seal+open ÷ node:crypto AES-256-GCM'),
    ratio('our Fernet vs npm fernet', ours.opsPerSec / npm.opsPerSec, FERNET_RATIO_TARGET, 'min', 'round trips/s of @signals/crypto Fernet ÷ npm fernet 0.4.0'),
  ];
  const notes = [
    `spec-invalid Fernet tokens accepted: ours ${oursAccepts ? `${oursAccepts.accepted}/${oursAccepts.total}` : '?'}, ` +
      `npm fernet ${npmAccepts ? `${npmAccepts.accepted}/${npmAccepts.total}` : '?'} (0 is right: every one should be refused)`,
  ];
  return {
    part: 'crypto',
    tables: [table],
    ratios,
    notes,
    figures: {
      rows: rows.map((r) => ({ name: r.name, opsPerSec: r.opsPerSec, note: r.note ?? null })),
      invalidTokensAccepted: { ours: oursAccepts, npmFernet: npmAccepts },
    },
  };
}
