// Progress of long jobs: a bar on a terminal, plain lines otherwise (CI logs, pipes). Always on
// stderr, so a command's --json output on stdout stays one clean line.
import cliProgress from 'cli-progress';

export interface Progress {
  start(total: number): void;
  advance(by: number): void;
  stop(): void;
}

export type ProgressFactory = (label: string) => Progress;

export const silentProgress: ProgressFactory = () => ({ start() {}, advance() {}, stop() {} });

export function terminalProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`, stream, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    return { start: (total) => bar.start(total, 0), advance: (by) => bar.increment(by), stop: () => bar.stop() };
  }
  let total = 0;
  let done = 0;
  let lastLine = 0;
  return {
    start(t) {
      total = t;
      stream.write(`${label}: ${total} to do\n`);
    },
    advance(by) {
      done += by;
      // At most a line a second, and always the last one.
      if (Date.now() - lastLine >= 1000 || done >= total) {
        lastLine = Date.now();
        stream.write(`${label}: ${done}/${total}${total ? ` (${Math.floor((done / total) * 100)}%)` : ''}\n`);
      }
    },
    stop() {},
  };
}
