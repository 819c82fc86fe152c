// `pnpm start`: configuration, database (embedded when DATABASE_URL is unset), migrations, HTTP.
import { createKnex, migrateLatest, resolveDatabaseUrl } from '@signals/db';
import { loadConfig, ConfigError } from './config.js';
import { readOrCreateDevKeyring } from './dev-keyring.js';
import { createLogger } from './logger.js';
import { createDeps } from './deps.js';
import { listen } from './server.js';
import { knexLogger } from './knex-log.js';
import { logSlowQueries } from './slow-queries.js';
import { assertKeyringCoversDataKeys } from './vault/keyring-check.js';

const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const warnings: string[] = [];
  let config;
  try {
    config = loadConfig(process.env, () => readOrCreateDevKeyring((w) => warnings.push(w)));
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) console.error(`config: ${problem}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  for (const w of warnings) log.warn(w);

  const url = config.databaseUrl ?? (await resolveDatabaseUrl(process.env, (msg) => log.info(msg)));
  const { limits } = config;
  // Migrations on a connection of their own, without the statement timeout: building an index on
  // a large table may rightly take longer than any API query should.
  const migrator = createKnex(url, { applicationName: 'signals-migrate', connectTimeoutMs: limits.dbTimeoutMs, log: knexLogger(log) });
  try {
    await migrateLatest(migrator);
  } finally {
    await migrator.destroy();
  }
  const knex = createKnex(url, {
    applicationName: 'signals-server',
    connectTimeoutMs: limits.dbTimeoutMs,
    statementTimeoutMs: limits.statementTimeoutMs,
    log: knexLogger(log),
  });
  logSlowQueries(knex, log, limits.slowQueryMs);
  await assertKeyringCoversDataKeys(knex, config.keyring);

  const deps = createDeps({
    knex,
    keyring: config.keyring,
    legacyFernet: config.legacyFernet,
    log,
    requestTimeoutMs: limits.requestTimeoutMs,
  });
  const running = await listen(deps, {
    port: config.port,
    host: config.host,
    rateLimit: limits.rateLimit,
    corsOrigins: limits.corsOrigins,
    receiveTimeoutMs: limits.requestTimeoutMs,
  });
  log.info({ url: running.url }, `signals listening on ${running.url} (tRPC at ${running.url}/trpc)`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining in-flight requests');
    const force = setTimeout(() => {
      log.error('in-flight requests did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    await running.close();
    await deps.events.close();
    await knex.destroy();
    clearTimeout(force);
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(`signals failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
