// The knex CLI's configuration (`pnpm db:migrate`, `db:rollback`, `db:make`,
// `--filter @signals/db status`). Run under tsx, see package.json scripts.
// It resolves the same database as the service: DATABASE_URL when set, else the
// embedded PostgreSQL under .data/ (started if needed).
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import { resolveDatabaseUrl } from './src/embedded.js';
import { migrationLoadExtensions, migrationsDirectory } from './src/migrate.js';

export default async function knexConfig(): Promise<Knex.Config> {
  return {
    client: 'pg',
    connection: { connectionString: await resolveDatabaseUrl(), application_name: 'signals-knex-cli' },
    pool: { min: 0, max: 2 },
    migrations: {
      directory: migrationsDirectory, // ./migrations
      extension: 'ts',
      loadExtensions: migrationLoadExtensions,
      tableName: 'knex_migrations',
      // `pnpm db:make <name>` writes a TypeScript migration from this template.
      stub: fileURLToPath(new URL('./migration.stub', import.meta.url)),
    },
  };
}
