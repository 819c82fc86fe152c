// Starting and stopping the HTTP server, shared by main.ts, the tests, the demo and the benchmarks.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppDeps } from './context.js';
import { createApp } from './http/app.js';

export interface RunningServer {
  url: string;
  server: Server;
  /** Stops accepting connections and waits for in-flight requests to finish. */
  close(): Promise<void>;
}

export async function listen(deps: AppDeps, opts: { port?: number; host?: string } = {}): Promise<RunningServer> {
  const app = createApp(deps);
  const host = opts.host ?? '127.0.0.1';
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(opts.port ?? 0, host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
