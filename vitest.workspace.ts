// The Vitest projects, one per package. Vitest 4 no longer picks this file up by
// itself, so `pnpm test` passes it explicitly (`vitest run --config vitest.workspace.ts`).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = [
  { name: 'crypto', root: 'packages/crypto' },
  { name: 'db', root: 'packages/db' },
  { name: 'server', root: 'apps/server' },
  { name: 'client', root: 'packages/client' },
];

export default defineConfig({
  test: {
    // One PostgreSQL for the whole run (DATABASE_URL's server, or a throwaway embedded one);
    // every test file then makes its own database on it.
    globalSetup: [fileURLToPath(new URL('./packages/db/src/testing/global-setup.ts', import.meta.url))],
    projects: packages.map(({ name, root }) => ({
      test: { name, root, include: ['src/**/*.test.ts', 'test/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 120_000 },
    })),
  },
});
