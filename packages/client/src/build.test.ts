// The declaration rewrites and checks of scripts/build.mjs, on small inputs. (pack.test.ts runs the
// whole build and checks its result from a consumer's side.)
import { describe, expect, it } from 'vitest';
import { isRuntimeDependency, portableDeclarations, referencedModules } from '../scripts/build.mjs';

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

describe('portableDeclarations', () => {
  it("replaces the context of tRPC root configs with object, so the server's types drop out", () => {
    const input = `import type { Context } from './context.js';
export declare const appRouter: import("@trpc/server").TRPCBuiltRouter<{
    ctx: Context;
    meta: object;
    errorShape: { message: string };
    transformer: true;
}, { ping: import("@trpc/server").TRPCQueryProcedure<{ input: void; output: { ctx: string }; meta: object }> }>;
`;
    const { code, erased } = portableDeclarations(input);
    expect(erased).toBe(1);
    expect(squash(code)).toContain('ctx: object; meta: object;');
    expect(code).not.toMatch(/ctx: Context/);
    // An ordinary `ctx` field elsewhere is left alone.
    expect(squash(code)).toContain('output: { ctx: string; }');
  });

  it('splits literals mixing properties and an index signature into a valid intersection', () => {
    const input = 'export type OwnerOnly = { [x: string]: Json; stopLoss?: string | undefined; notes?: string | undefined };\n';
    const { code, erased } = portableDeclarations(input);
    expect(erased).toBe(0);
    expect(squash(code)).toBe('export type OwnerOnly = { stopLoss?: string | undefined; notes?: string | undefined; } & { [x: string]: Json; };');
  });

  it('leaves everything else byte for byte', () => {
    const input = 'export type A = { a: string; b: { c: number } };\nexport type B = { [k: string]: number };\n';
    expect(portableDeclarations(input)).toEqual({ code: input, erased: 0 });
  });
});

describe('referencedModules', () => {
  it('finds imports, re-exports, import types and reference directives', () => {
    const code = `/// <reference types="node" />
import { TRPCClient } from '@trpc/client';
import type { Knex } from 'knex';
export { TRPCClientError } from '@trpc/client';
export * from './local.js';
type L = import('pino').Logger;
declare module 'objection' {}
`;
    expect(referencedModules(code).sort()).toEqual(['./local.js', '/// <reference node>', '@trpc/client', 'knex', 'objection', 'pino'].sort());
  });

  it('accepts only the runtime dependencies and their subpaths', () => {
    expect(['@trpc/client', '@trpc/server', '@trpc/server/rpc', 'superjson'].every(isRuntimeDependency)).toBe(true);
    expect(['knex', 'pino', 'zod', '@signals/server', '@trpc/clientx', './x.js'].some(isRuntimeDependency)).toBe(false);
  });
});
