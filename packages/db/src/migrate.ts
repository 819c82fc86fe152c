import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Knex } from 'knex';

/** `packages/db/migrations`, resolved from this module's location. */
export const migrationsDirectory = fileURLToPath(new URL('../migrations', import.meta.url));

/** Which files of the directory are migrations: the knexfile uses the same list. */
export const migrationLoadExtensions = ['.ts'];

interface MigrationFile {
  file: string;
}

/**
 * Lists and loads the TypeScript migrations of `migrationsDirectory` exactly as
 * knex's own FsMigrations does with `loadExtensions: ['.ts']` (same files, same
 * order, same names in `knex_migrations`), so the knex CLI and this API can be
 * used on the same database interchangeably.
 *
 * The one difference is the loader: knex imports files from inside node_modules
 * with Node's native `import()`, which cannot load `.ts` under Vitest. Importing
 * from this module instead goes through whatever runs our own TypeScript (tsx,
 * Vitest), so the migrations load in the server, the CLI and tests alike.
 */
export class TsMigrationSource implements Knex.MigrationSource<MigrationFile> {
  constructor(private readonly directory: string = migrationsDirectory) {}

  async getMigrations(): Promise<MigrationFile[]> {
    const files = await readdir(this.directory);
    return files
      .filter((file) => migrationLoadExtensions.includes(path.extname(file)))
      .sort()
      .map((file) => ({ file }));
  }

  getMigrationName(migration: MigrationFile): string {
    return migration.file;
  }

  async getMigration(migration: MigrationFile): Promise<Knex.Migration> {
    const url = pathToFileURL(path.join(this.directory, migration.file)).href;
    const mod = (await import(url)) as Partial<Knex.Migration>;
    if (typeof mod.up !== 'function' || typeof mod.down !== 'function') {
      throw new Error(`Migration ${migration.file} must export async functions up(knex) and down(knex)`);
    }
    return { up: mod.up, down: mod.down };
  }
}

const migratorConfig: Knex.MigratorConfig = {
  migrationSource: new TsMigrationSource(),
  tableName: 'knex_migrations',
};

export interface MigrationStatus {
  /** Migration file names already applied, oldest first. */
  completed: string[];
  /** Migration file names not applied yet, in the order they would run. */
  pendingFiles: string[];
  /** How many migrations are pending (`pendingFiles.length`). */
  pending: number;
}

/** Applies every pending migration (one batch). Returns the batch number and the files applied. */
export async function migrateLatest(knex: Knex): Promise<{ batch: number; applied: string[] }> {
  const [batch, applied] = (await knex.migrate.latest(migratorConfig)) as [number, string[]];
  return { batch, applied };
}

/** Rolls back every applied migration, all batches. Returns the files rolled back, newest first. */
export async function migrateRollbackAll(knex: Knex): Promise<{ rolledBack: string[] }> {
  const [, rolledBack] = (await knex.migrate.rollback(migratorConfig, true)) as [number, string[]];
  return { rolledBack };
}

/** Which migrations are applied and which are pending. */
export async function migrationStatus(knex: Knex): Promise<MigrationStatus> {
  const [completed, pending] = (await knex.migrate.list(migratorConfig)) as [
    Array<{ name: string }>,
    MigrationFile[],
  ];
  const pendingFiles = pending.map((m) => m.file);
  return { completed: completed.map((m) => m.name), pendingFiles, pending: pendingFiles.length };
}
