// `pnpm --filter @signals/db stop` (root: `pnpm db:stop`): stops this checkout's
// embedded PostgreSQL (pg_ctl stop -m fast). Its data under .data/ is kept.
import { stopLocalPostgres } from '../embedded.js';

try {
  await stopLocalPostgres();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
