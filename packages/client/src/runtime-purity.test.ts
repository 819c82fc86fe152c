// The client's runtime must not contain the server: @signals/server is a source of *types* only.
// Bundling src/index.ts with every dependency inlined shows exactly which files a consumer runs.
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';

const srcDir = dirname(fileURLToPath(import.meta.url));
const pkgDir = resolve(srcDir, '..');
const repoRoot = resolve(pkgDir, '../..');

/** Where no input of the client bundle may come from. */
const FORBIDDEN_DIRS = ['apps/server', 'packages/db', 'packages/crypto'].map((d) => join(repoRoot, d));
const FORBIDDEN_PACKAGES = ['knex', 'pg', 'objection', 'pino', '@signals/server', '@signals/db', '@signals/crypto'];

/** The npm package a file belongs to (after its last node_modules/), or null for workspace files. */
function packageOf(file: string): string | null {
  const marker = `${sep}node_modules${sep}`;
  const at = file.lastIndexOf(marker);
  if (at < 0) return null;
  const [first, second] = file.slice(at + marker.length).split(sep);
  return first?.startsWith('@') ? `${first}/${second}` : (first ?? null);
}

interface BundleReport {
  /** Absolute paths of every file that went into the bundle. */
  inputs: string[];
  /** Modules that could not be resolved and were left as imports. */
  unresolved: string[];
}

/**
 * Bundles an entry with all dependencies inlined. Modules that cannot be resolved at all (optional
 * drivers that knex would `require`, say) are kept external and reported, so a bad import shows up
 * in the report rather than as an opaque build error.
 */
async function bundle(entry: { file: string } | { contents: string }): Promise<BundleReport> {
  const unresolved = new Set<string>();
  const result = await esbuild.build({
    ...('file' in entry ? { entryPoints: [entry.file] } : { stdin: { contents: entry.contents, resolveDir: srcDir, loader: 'ts', sourcefile: 'probe.ts' } }),
    absWorkingDir: repoRoot,
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'silent',
    plugins: [
      {
        name: 'keep-unresolvable-external',
        setup(build) {
          build.onResolve({ filter: /.*/ }, async (args) => {
            if (args.pluginData === 'probe' || args.kind === 'entry-point') return undefined;
            const found = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'probe' });
            if (found.errors.length === 0) return undefined;
            unresolved.add(args.path);
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  return { inputs: Object.keys(result.metafile.inputs).map((i) => resolve(repoRoot, i.replace(/^[a-z-]+:/, ''))), unresolved: [...unresolved] };
}

/** Every input (or unresolved import) that must not be part of the client's runtime. */
function violations(report: BundleReport): string[] {
  const fromDirs = report.inputs.filter((file) => FORBIDDEN_DIRS.some((dir) => file === dir || file.startsWith(dir + sep)));
  const fromPackages = report.inputs.filter((file) => FORBIDDEN_PACKAGES.includes(packageOf(file) ?? ''));
  const unresolved = report.unresolved.filter((spec) => FORBIDDEN_PACKAGES.some((p) => spec === p || spec.startsWith(`${p}/`)));
  return [...new Set([...fromDirs, ...fromPackages, ...unresolved])].map((f) => (f.startsWith(sep) ? relative(repoRoot, f) : f));
}

describe('the client runtime', () => {
  it('contains nothing of the server, db or crypto packages, knex, pg, objection or pino', async () => {
    const report = await bundle({ file: join(srcDir, 'index.ts') });
    expect(report.inputs).toContain(join(srcDir, 'index.ts'));
    expect(violations(report)).toEqual([]);
    expect(report.unresolved).toEqual([]);
    // The whole runtime: our one source file plus tRPC and superjson (and what they bring).
    const ownFiles = report.inputs.filter((f) => packageOf(f) === null);
    expect(ownFiles.map((f) => relative(pkgDir, f))).toEqual([join('src', 'index.ts')]);
    const packages = new Set(report.inputs.map(packageOf).filter((p): p is string => p !== null));
    expect(packages).toContain('@trpc/client');
    expect(packages).toContain('superjson');
  });

  it('would be caught importing @signals/server at runtime (the check above can fail)', async () => {
    // The same check on an entry that does what must never happen: a value import of the server.
    const report = await bundle({
      contents: "import { appRouter } from '@signals/server';\nexport * from './index.js';\nexport const leaked = appRouter;\n",
    });
    const found = violations(report);
    expect(found.some((f) => f.startsWith(`apps${sep}server${sep}`))).toBe(true);
    expect(found.some((f) => f.startsWith(`packages${sep}crypto${sep}`))).toBe(true);
    expect(found.some((f) => f.includes(`${sep}node_modules${sep}pino${sep}`))).toBe(true);
  });
});
