// Builds the publishable @signals/client into dist/:
//
//   dist/index.js    ESM, bundled by esbuild from src/; the runtime dependencies (package.json
//                    "dependencies") stay imports, and nothing else may be pulled in.
//   dist/index.d.ts  one self-contained declaration file. The server's router types are inlined, so
//                    a consumer needs neither @signals/server nor its knex, pino, crypto or db types.
//
// How the declarations are made:
//   1. tsc emits declarations for src/index.ts and for the workspace packages it imports types from
//      (@signals/server), into a temporary folder. Type errors fail the build.
//   2. rollup + rollup-plugin-dts bundle them into one file, starting from the client's entry.
//      Before bundling, the tRPC root config of every router (`{ ctx; meta; errorShape; transformer }`)
//      gets `ctx: object`: the request context is the server's business (it holds the knex
//      connection, the vault, the logger) and is not part of what a client calls, so the types it
//      drags in are tree-shaken away instead of shipped. (See portableDeclarations.)
//   3. The result may import only the runtime dependencies. Anything else (knex, pino, zod,
//      @signals/*, a `/// <reference>`) fails the build instead of shipping broken types.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { rollup } from 'rollup';
import { dts } from 'rollup-plugin-dts';
import ts from 'typescript';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(pkgDir, '../..');
const srcDir = join(pkgDir, 'src');
const entry = join(srcDir, 'index.ts');
const distDir = join(pkgDir, 'dist');
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const runtimeDeps = Object.keys(pkg.dependencies ?? {});

/** True for a module specifier that names one of the runtime dependencies (or a subpath of one). */
export function isRuntimeDependency(specifier) {
  return runtimeDeps.some((dep) => specifier === dep || specifier.startsWith(`${dep}/`));
}

function fail(message) {
  console.error(`@signals/client build: ${message}`);
  process.exit(1);
}

function isInside(file, dir) {
  const rel = relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

// ---------------------------------------------------------------------------------------------
// 1. JavaScript
// ---------------------------------------------------------------------------------------------

async function buildJs() {
  const result = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: pkgDir,
    outfile: join(distDir, 'index.js'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    // Every package import stays an import (and must name a runtime dependency, checked below);
    // only our own relative imports are bundled.
    plugins: [{ name: 'packages-external', setup: (build) => build.onResolve({ filter: /^[^./]/ }, (args) => ({ path: args.path, external: true })) }],
    metafile: true,
    logLevel: 'warning',
    legalComments: 'inline',
  });
  // Only our own source may end up in the bundle, and it may import only the runtime dependencies:
  // a runtime import of @signals/server (or of any package not in "dependencies") fails the build.
  const foreign = Object.keys(result.metafile.inputs).filter((input) => !isInside(resolve(pkgDir, input), srcDir));
  if (foreign.length > 0) fail(`dist/index.js would contain code from outside src/: ${foreign.join(', ')}`);
  for (const output of Object.values(result.metafile.outputs)) {
    const bad = output.imports.filter((i) => !i.external || !isRuntimeDependency(i.path)).map((i) => i.path);
    if (bad.length > 0) fail(`dist/index.js would import ${bad.join(', ')}, which ${bad.length > 1 ? 'are' : 'is'} not in "dependencies" (types from the server must be \`import type\`)`);
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Declarations
// ---------------------------------------------------------------------------------------------

function formatDiagnostics(diagnostics) {
  return ts.formatDiagnosticsWithColorAndContext(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => repoRoot,
    getNewLine: () => '\n',
  });
}

/** The client's compiler options, from its tsconfig.json. */
function clientCompilerOptions() {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(pkgDir, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => fail(formatDiagnostics([d])),
  });
  if (!parsed) fail('cannot read tsconfig.json');
  if (parsed.errors.length > 0) fail(formatDiagnostics(parsed.errors));
  return parsed.options;
}

/**
 * The workspace packages whose types src/ imports: specifier -> source file (real path, outside
 * any node_modules). Test files are not part of the published entry and are ignored.
 */
function workspaceImports(options) {
  const found = new Map();
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: spec } of info.importedFiles) {
      const resolved = ts.resolveModuleName(spec, file, options, ts.sys).resolvedModule;
      if (!resolved) continue;
      const target = resolved.resolvedFileName;
      if (spec.startsWith('.')) {
        if (isInside(target, srcDir) && !target.endsWith('.d.ts')) visit(target);
      } else if (isInside(target, repoRoot) && !target.includes(`${sep}node_modules${sep}`) && !isInside(target, pkgDir)) {
        found.set(spec, target);
      }
    }
  };
  visit(entry);
  return found;
}

/** Emits the declarations of src/index.ts and of the workspace packages it imports into outDir. */
function emitDeclarations(outDir) {
  const base = clientCompilerOptions();
  const workspace = workspaceImports(base);
  const options = {
    ...base,
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    declarationMap: false,
    sourceMap: false,
    inlineSourceMap: false,
    composite: false,
    incremental: false,
    tsBuildInfoFile: undefined,
    rootDir: repoRoot,
    outDir,
  };
  // Workspace sources reached through node_modules symlinks count as "external libraries" and are
  // not emitted unless they are root files, so the workspace entries are listed as roots too.
  const program = ts.createProgram({ rootNames: [entry, ...workspace.values()], options });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  if (diagnostics.length > 0) fail(`type errors:\n${formatDiagnostics(diagnostics)}`);
  const emitted = program.emit();
  if (emitted.emitSkipped || emitted.diagnostics.length > 0) fail(`declaration emit failed:\n${formatDiagnostics(emitted.diagnostics)}`);
  const declarationOf = (file) => join(outDir, relative(repoRoot, file)).replace(/\.(m|c)?tsx?$/, '.d.$1ts');
  const aliases = new Map([...workspace].map(([spec, file]) => [spec, declarationOf(file)]));
  for (const [spec, file] of aliases) if (!existsSync(file)) fail(`no declarations were emitted for ${spec} (${file})`);
  return { entry: declarationOf(entry), aliases };
}

/**
 * Rewrites one emitted declaration file so that it is portable:
 *
 * - Type literals shaped like tRPC's root config (`{ ctx; meta; errorShape; transformer }`) get
 *   `ctx: object`. Nothing that a client calls depends on the context.
 * - Type literals with both an index signature and properties become an intersection of the two
 *   (`{ stopLoss?: string } & { [x: string]: Json }`). That is what zod's `.catchall()` means, but
 *   tsc prints it as one literal, which is an error (TS2411) in a declaration file whenever a
 *   property (say an optional one, `string | undefined`) does not fit the index type; consumers
 *   without `skipLibCheck` would see it.
 *
 * Returns the new text and how many contexts were erased.
 */
export function portableDeclarations(code, fileName = 'file.d.ts') {
  const source = ts.createSourceFile(fileName, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  let erased = 0;
  let split = 0;
  const memberName = (m) => (m.name && (ts.isIdentifier(m.name) || ts.isStringLiteral(m.name)) ? m.name.text : undefined);
  const transformer = (context) => {
    const f = context.factory;
    const visit = (node) => {
      if (!ts.isTypeLiteralNode(node)) return ts.visitEachChild(node, visit, context);
      let members = node.members.map((m) => ts.visitNode(m, visit));
      const names = new Set(members.map(memberName));
      if (['ctx', 'meta', 'errorShape', 'transformer'].every((n) => names.has(n))) {
        members = members.map((m) => {
          if (memberName(m) !== 'ctx' || !ts.isPropertySignature(m)) return m;
          erased += 1;
          return f.updatePropertySignature(m, m.modifiers, m.name, m.questionToken, f.createKeywordTypeNode(ts.SyntaxKind.ObjectKeyword));
        });
      }
      const indexes = members.filter((m) => ts.isIndexSignatureDeclaration(m));
      const others = members.filter((m) => !ts.isIndexSignatureDeclaration(m));
      if (indexes.length > 0 && others.length > 0) {
        split += 1;
        return f.createIntersectionTypeNode([f.createTypeLiteralNode(others), f.createTypeLiteralNode(indexes)]);
      }
      return f.updateTypeLiteralNode(node, f.createNodeArray(members));
    };
    return (file) => ts.visitNode(file, visit);
  };
  const result = ts.transform(source, [transformer]);
  const printed = ts.createPrinter({ newLine: ts.NewLineKind.LineFeed }).printFile(result.transformed[0]);
  result.dispose();
  return { code: erased + split > 0 ? printed : code, erased };
}

/** Every module a declaration file refers to: imports, re-exports, import types, references. */
export function referencedModules(code) {
  const source = ts.createSourceFile('index.d.ts', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const modules = new Set();
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      modules.add(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      modules.add(node.moduleReference.expression.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      modules.add(node.argument.literal.text);
    } else if (ts.isModuleDeclaration(node) && ts.isStringLiteral(node.name)) {
      modules.add(node.name.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  for (const ref of [...source.typeReferenceDirectives, ...source.referencedFiles, ...source.libReferenceDirectives]) {
    modules.add(`/// <reference ${ref.fileName}>`);
  }
  return [...modules];
}

async function buildDts() {
  const tmp = mkdtempSync(join(tmpdir(), 'signals-client-dts-'));
  try {
    const { entry: dtsEntry, aliases } = emitDeclarations(tmp);
    let erased = 0;
    const bundle = await rollup({
      input: dtsEntry,
      // rollup-plugin-dts's default of treating every bare import as external is replaced by ours:
      // workspace packages resolve to their emitted declarations, everything else is external
      // (and must be tree-shaken away unless it is a runtime dependency; checked below).
      external: () => false,
      plugins: [
        {
          name: 'signals-workspace-types',
          resolveId(source) {
            if (aliases.has(source)) return aliases.get(source);
            if (!source.startsWith('.') && !source.startsWith('/') && !source.startsWith('\0')) return { id: source, external: true };
            return null;
          },
          transform(code, id) {
            if (!id.startsWith(tmp)) return null;
            const result = portableDeclarations(code, id);
            erased += result.erased;
            return result.code === code ? null : { code: result.code, map: null };
          },
        },
        dts({ respectExternal: true, compilerOptions: { ...clientCompilerOptions(), declaration: true, noEmit: false } }),
      ],
      onwarn(warning, warn) {
        if (warning.code === 'UNUSED_EXTERNAL_IMPORT') return;
        warn(warning);
      },
    });
    const { output } = await bundle.generate({ format: 'es' });
    await bundle.close();
    const chunks = output.filter((o) => o.type === 'chunk');
    if (chunks.length !== 1) fail(`expected one declaration chunk, got ${chunks.length}`);
    const code = chunks[0].code;
    if (erased === 0) fail('found no tRPC router root config to erase `ctx` from: has the router type changed shape?');
    const foreign = referencedModules(code).filter((m) => !isRuntimeDependency(m));
    if (foreign.length > 0) {
      fail(`dist/index.d.ts would refer to ${foreign.join(', ')}; a consumer has only ${runtimeDeps.join(', ')}. ` + 'Keep server-only types out of what the router exposes.');
    }
    writeFileSync(join(distDir, 'index.d.ts'), code);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// Run only when executed (the helpers above are also imported by tests).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  rmSync(distDir, { recursive: true, force: true });
  mkdirSync(distDir, { recursive: true });
  await buildJs();
  await buildDts();
  console.log(`@signals/client: built dist/index.js and dist/index.d.ts in ${Date.now() - started} ms`);
}
