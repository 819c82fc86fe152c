// Starting and stopping the HTTP server, shared by main.ts, the tests, the demo and the benchmarks.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AppDeps } from './context.js';
import { createApp, type HttpOptions } from './http/app.js';

export interface RunningServer {
  url: string;
  server: Server;
  /** Stops accepting connections and waits for in-flight requests to finish. */
  close(): Promise<void>;
}

export interface ListenOptions extends HttpOptions {
  port?: number;
  host?: string;
  /**
   * Longest time to receive one whole request (headers and body) from a client, in ms: slow or
   * stalled clients cannot hold connections open. Default: Node's (300 s).
   */
  receiveTimeoutMs?: number;
}

export async function listen(deps: AppDeps, opts: ListenOptions = {}): Promise<RunningServer> {
  const app = createApp(deps, opts);
  const host = opts.host ?? '127.0.0.1';
  const receive = opts.receiveTimeoutMs;
  const server = createServer(
    receive === undefined
      ? {}
      : {
          requestTimeout: receive,
          headersTimeout: Math.min(60_000, receive),
          // How often Node looks for requests past those deadlines (default every 30 s).
          connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(receive / 4))),
        },
    app,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  // On close, in-flight requests finish; connections with none are closed at once (Node would keep
  // one that never sent a request open until a timeout); live feeds (SSE), which never finish by
  // themselves, are cut, and their clients reconnect (to another replica) with the last event id.
  let closing: Promise<void> | undefined;
  const inFlight = new Map<Socket, number>();
  const streams = new Set<ServerResponse>();
  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.on('close', () => inFlight.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    if (req.headers.accept?.includes('text/event-stream')) streams.add(res);
    res.on('close', () => {
      streams.delete(res);
      const left = (inFlight.get(socket) ?? 1) - 1;
      if (inFlight.has(socket)) inFlight.set(socket, left);
      if (closing && left === 0) socket.end(); // after its last response is flushed
    });
  });
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    server,
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
        for (const res of streams) res.destroy();
        for (const [socket, requests] of inFlight) if (requests === 0) socket.destroy();
      })),
  };
}
