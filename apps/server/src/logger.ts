// Structured logs. Owner-only data and credentials are redacted by path as a safety net; the
// first line of defence is that nothing logs request or response bodies at all.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'ownerOnly',
  '*.ownerOnly',
  '*.*.ownerOnly',
  'ownerOnlyPayload',
  '*.ownerOnlyPayload',
  '*.*.ownerOnlyPayload',
  'owner_only_payload',
  '*.owner_only_payload',
  'input',
  '*.input',
  'wrappedKey',
  '*.wrappedKey',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { service: 'signals' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** For the CLI: logs on stderr, so stdout carries only the command's result. */
export function stderrDestination(): DestinationStream {
  return pino.destination(2);
}
