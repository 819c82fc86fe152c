// The published package, as a consumer outside the workspace gets it: `pnpm pack`, then
// `npm install <tarball>` into a fresh TypeScript project and `tsc --noEmit`. The consumer has no
// @signals/server, knex, pino or zod; it must still get real types (the @ts-expect-error lines fail
// the check if anything degrades to `any`).
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(pkgDir, '../..');
const TYPESCRIPT = 'typescript@5.9.3';

interface RunResult {
  code: number | null;
  output: string;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 150_000): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, output }));
  });
}

/** npm must not inherit pnpm's per-script settings (npm_config_*, npm_package_*, ...). */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|pnpm_|PNPM_)/i.test(k)));
}

const CONSUMER_SOURCE = `\
import { createSignalsClient, isSignalsError, isOwnerView, type OwnerSignalView, type PublicSignalView, type SignalsClient } from '@signals/client';

const client: SignalsClient = createSignalsClient({ url: 'http://127.0.0.1:3000', token: 'sig_example' });

export async function publish(): Promise<OwnerSignalView | null> {
  try {
    const created = await client.signals.create.mutate({
      instrument: 'XAUUSD',
      side: 'buy',
      entryPrice: '1923.50',
      payload: { confidence: 0.8 },
      ownerOnly: { stopLoss: '1900.00', takeProfit: '1990.00', strategy: 'breakout', anything: [1, 'two'] },
      externalId: 'ext-1',
      expiresAt: new Date(Date.now() + 60_000),
    });
    const price: string = created.entryPrice;
    const stopLoss: string | undefined = created.ownerOnly?.stopLoss;
    const createdAt: Date = created.createdAt;
    void [price, stopLoss, createdAt];

    // @ts-expect-error side is 'buy' | 'sell'
    await client.signals.create.mutate({ instrument: 'XAUUSD', side: 'hold', entryPrice: '1923.50' });
    // @ts-expect-error entryPrice is exact decimal text, not a number
    await client.signals.create.mutate({ instrument: 'XAUUSD', side: 'sell', entryPrice: 1923.5 });
    // @ts-expect-error no such procedure
    await client.signals.destroy.mutate({ id: created.id });
    // @ts-expect-error entryPrice is a string
    const wrong: number = created.entryPrice;
    void wrong;

    const page = await client.signals.list.query({ limit: 10 });
    const next: string | null = page.nextCursor;
    void next;
    for (const item of page.items) {
      if (isOwnerView(item)) {
        const mine: OwnerSignalView = item;
        void mine;
      } else {
        const theirs: PublicSignalView = item;
        // @ts-expect-error the public view has no owner-only payload
        void theirs.ownerOnly;
      }
    }

    const decided = await client.approvals.decide.mutate({ signalId: created.id, decision: 'approve', reason: 'ok' });
    const stored: 'approved' | 'rejected' = decided.decision;
    void stored;
    // @ts-expect-error the input says 'approve' | 'reject'
    await client.approvals.decide.mutate({ signalId: created.id, decision: 'approved' });
    const overview = await client.approvals.forSignal.query({ signalId: created.id });
    const pendingCount: number = overview.counts.pending;
    void pendingCount;

    const live = client.signals.onChange.subscribe(
      { lastEventId: '41' },
      {
        onData(event) {
          const eventId: string = event.id;
          const kind: 'created' | 'updated' | 'closed' | 'cancelled' = event.data.kind;
          const signal = event.data.signal;
          if (!isOwnerView(signal)) {
            // @ts-expect-error the public view has no owner-only payload, live events included
            void signal.ownerOnly;
          }
          void [eventId, kind];
        },
      },
    );
    live.unsubscribe();
    return created;
  } catch (err) {
    if (isSignalsError(err, 'NOT_FOUND')) return null;
    // @ts-expect-error not a tRPC error code
    if (isSignalsError(err, 'NOPE')) return null;
    throw err;
  }
}
`;

/** skipLibCheck on (what most projects use) and off (stricter: our declarations must be valid). */
const TSCONFIGS = {
  'tsconfig.json': {
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, noEmit: true, types: [] },
    files: ['index.ts'],
  },
  'tsconfig.strict.json': {
    // tRPC's own declarations need the Disposable types; ours need nothing beyond ES2022 + fetch.
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2022', 'DOM', 'ESNext.Disposable'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      skipLibCheck: false,
      noEmit: true,
      types: [],
    },
    files: ['index.ts'],
  },
};

describe('the packed @signals/client', () => {
  let work: string;
  let tarball: string;
  let manifest: Record<string, unknown> & { dependencies?: Record<string, string> };
  let files: string[];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signals-client-pack-'));
    const packed = await run('pnpm', ['--filter', '@signals/client', 'pack', '--pack-destination', work], repoRoot);
    expect(packed.code, packed.output).toBe(0);
    const tgz = (await readdir(work)).filter((f) => f.endsWith('.tgz'));
    expect(tgz).toHaveLength(1);
    tarball = join(work, tgz[0]!);

    const listing = await run('tar', ['-tzf', tarball], work);
    expect(listing.code, listing.output).toBe(0);
    files = listing.output.split('\n').filter(Boolean).sort();
    const unpacked = join(work, 'unpacked');
    await run('mkdir', ['-p', unpacked], work);
    const extracted = await run('tar', ['-xzf', tarball, '-C', unpacked], work);
    expect(extracted.code, extracted.output).toBe(0);
    manifest = JSON.parse(await readFile(join(unpacked, 'package', 'package.json'), 'utf8'));
  }, 120_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ships the built files only', () => {
    expect(files).toEqual(['package/README.md', 'package/dist/index.d.ts', 'package/dist/index.js', 'package/package.json']);
  });

  it('has a manifest with dist entry points and no workspace: or catalog: references', () => {
    const text = JSON.stringify(manifest);
    expect(text).not.toMatch(/workspace:/);
    expect(text).not.toMatch(/catalog:/);
    expect(manifest.exports).toEqual({ '.': { types: './dist/index.d.ts', import: './dist/index.js', default: './dist/index.js' } });
    expect(manifest.main).toBe('./dist/index.js');
    expect(manifest.types).toBe('./dist/index.d.ts');
    expect(manifest.private).toBeUndefined();
  });

  it('depends at runtime on tRPC, superjson and the EventSource ponyfill only, never on @signals/*', async () => {
    const workspace = await readFile(join(repoRoot, 'pnpm-workspace.yaml'), 'utf8');
    const catalogVersion = (name: string) => new RegExp(`^\\s+'?${name.replace('/', '\\/')}'?:\\s*(\\S+)\\s*$`, 'm').exec(workspace)?.[1];
    expect(manifest.dependencies).toEqual({
      '@trpc/client': catalogVersion('@trpc/client'),
      '@trpc/server': catalogVersion('@trpc/server'),
      superjson: catalogVersion('superjson'),
      eventsource: catalogVersion('eventsource'),
    });
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies', 'bundledDependencies']) {
      const deps = manifest[field] as Record<string, string> | string[] | undefined;
      const names = Array.isArray(deps) ? deps : Object.keys(deps ?? {});
      expect(names.filter((n) => n.startsWith('@signals/')), field).toEqual([]);
    }
  });

  it('type-checks in a TypeScript project outside the workspace, with real types', async () => {
    const consumer = await mkdtemp(join(tmpdir(), 'signals-client-consumer-'));
    try {
      await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
      await writeFile(join(consumer, 'index.ts'), CONSUMER_SOURCE);
      for (const [name, config] of Object.entries(TSCONFIGS)) await writeFile(join(consumer, name), JSON.stringify(config, null, 2));

      const installed = await run('npm', ['install', tarball, TYPESCRIPT, '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock'], consumer, npmEnv());
      expect(installed.code, installed.output).toBe(0);
      // Nothing of the server side came along.
      const modules = await readdir(join(consumer, 'node_modules'));
      for (const absent of ['knex', 'pg', 'pino', 'objection', 'zod', 'express']) expect(modules).not.toContain(absent);
      expect(await readdir(join(consumer, 'node_modules', '@signals'))).toEqual(['client']);

      const tsc = join(consumer, 'node_modules', 'typescript', 'bin', 'tsc');
      for (const name of Object.keys(TSCONFIGS)) {
        const checked = await run(process.execPath, [tsc, '-p', name], consumer, npmEnv());
        expect(checked.code, `${name}:\n${checked.output}`).toBe(0);
      }

      // And the failure is real: a wrong input is reported, not swallowed by an `any`.
      await writeFile(join(consumer, 'index.ts'), CONSUMER_SOURCE.replaceAll('// @ts-expect-error', '//'));
      const broken = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], consumer, npmEnv());
      expect(broken.code).not.toBe(0);
      expect(broken.output).toMatch(/index\.ts\(\d+,\d+\): error TS\d+: .*'"hold"'/);
      expect(broken.output.match(/error TS/g)?.length).toBe(CONSUMER_SOURCE.match(/@ts-expect-error/g)?.length);
    } finally {
      await rm(consumer, { recursive: true, force: true });
    }
  }, 180_000);
});
