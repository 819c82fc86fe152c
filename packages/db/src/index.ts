export * from './models/index.js';
export { createKnex } from './connection.js';
export type { CreateKnexOptions } from './connection.js';
export { migrateLatest, migrateRollbackAll, migrationStatus, migrationsDirectory, TsMigrationSource } from './migrate.js';
export type { MigrationStatus } from './migrate.js';
export {
  resolveDatabaseUrl,
  ensureLocalPostgres,
  stopLocalPostgres,
  startThrowawayPostgres,
  dataDirectory,
  findRepoRoot,
  DEFAULT_EMBEDDED_PG_PORT,
} from './embedded.js';
export type { LocalPostgresOptions, ThrowawayPostgres, Log } from './embedded.js';
export type { Knex } from 'knex';
