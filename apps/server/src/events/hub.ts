// Wakes the live feeds (`signals.onChange`) of this process when a signal changes on any replica.
//
// The truth is the `signal_events` outbox; this only says "look again". A process that wrote to
// the outbox calls `announce()` after its commit: its own feeds wake at once, and the other
// replicas through a NOTIFY that one PostgreSQL connection per process LISTENs for. The NOTIFY is
// sent after the write, not inside it, and coalesced (one in flight, at most one per
// `NOTIFY_SPACING_MS`): PostgreSQL serialises the commits of notifying transactions on one global
// lock, which inside every write would cap the service's write rate. A feed that is waiting wakes
// on an announcement or a notification, or after `pollIntervalMs` at the latest, so a lost
// connection or a crash between commit and NOTIFY delays events but never loses them.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from '../logger.js';

export const SIGNAL_EVENTS_CHANNEL = 'signal_events';
/** At most one NOTIFY per this many ms per process: the extra latency for other replicas' feeds. */
const NOTIFY_SPACING_MS = 5;

/** The part of a node-postgres client this needs (knex gives us one outside its pool). */
interface ListenClient {
  query(sql: string): Promise<unknown>;
  on(event: 'notification', listener: (msg: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error' | 'end', listener: (err?: Error) => void): unknown;
  removeAllListeners(event?: string): unknown;
}

interface KnexClientInternals {
  acquireRawConnection(): Promise<ListenClient>;
  destroyRawConnection(connection: ListenClient): Promise<void>;
}

export type WakeReason = 'changed' | 'timeout' | 'aborted' | 'closed';

export interface SignalEventHubOptions {
  /** The longest a feed waits without looking at the outbox. Default 5 s. */
  pollIntervalMs?: number;
  /** Delay before listening again after the connection failed; doubles per failure up to 30 s. Default 1 s. */
  reconnectDelayMs?: number;
}

export class SignalEventHub {
  readonly #knex: Knex;
  readonly #log: Logger;
  readonly #pollIntervalMs: number;
  readonly #reconnectDelayMs: number;
  readonly #waiters = new Set<(reason: WakeReason) => void>();
  #generation = 0;
  #client: ListenClient | null = null;
  #starting: Promise<void> | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #failures = 0;
  #closed = false;
  /** Sent as the NOTIFY payload, so this process ignores its own echo (it woke its feeds already). */
  readonly #instanceId = randomUUID();
  #notifying: Promise<void> | null = null;
  #notifyAgain = false;

  constructor(knex: Knex, log: Logger, opts: SignalEventHubOptions = {}) {
    this.#knex = knex;
    this.#log = log;
    this.#pollIntervalMs = opts.pollIntervalMs ?? 5_000;
    this.#reconnectDelayMs = opts.reconnectDelayMs ?? 1_000;
  }

  /**
   * A counter that moves on every notification (and on every new LISTEN connection, which may have
   * missed some). Read it before looking at the outbox and pass it to `wait`, so a change that
   * lands in between is not slept through.
   */
  get generation(): number {
    return this.#generation;
  }

  /** Whether this process is listening right now (for tests and readiness). */
  get listening(): boolean {
    return this.#client !== null;
  }

  /** Starts listening if not yet; resolves once LISTEN is in place (or failed, then it retries). */
  async start(): Promise<void> {
    if (this.#closed || this.#client) return;
    this.#starting ??= this.#connect().finally(() => {
      this.#starting = null;
    });
    return this.#starting;
  }

  /**
   * Says that this process committed a change to the outbox: wakes its feeds now and, through a
   * coalesced NOTIFY, those of other replicas. Never throws; a NOTIFY that fails is logged.
   */
  announce(): void {
    if (this.#closed) return;
    this.#wakeAll('changed');
    if (this.#notifying) {
      this.#notifyAgain = true;
      return;
    }
    this.#notifying = this.#notifyOthers().finally(() => {
      this.#notifying = null;
    });
  }

  async #notifyOthers(): Promise<void> {
    try {
      do {
        this.#notifyAgain = false;
        await this.#knex.raw('select pg_notify(?, ?)', [SIGNAL_EVENTS_CHANNEL, this.#instanceId]);
        if (this.#notifyAgain) await new Promise((resolve) => setTimeout(resolve, NOTIFY_SPACING_MS));
      } while (this.#notifyAgain && !this.#closed);
    } catch (err) {
      this.#log.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'signal events: NOTIFY failed; other replicas see the change when they poll');
    }
  }

  /**
   * Waits until something may have changed since `generation`: an announcement or notification,
   * `timeoutMs` (default: the poll interval), the signal aborting or the hub closing, whichever
   * comes first.
   */
  wait(generation: number, signal?: AbortSignal, timeoutMs = this.#pollIntervalMs): Promise<WakeReason> {
    if (this.#closed) return Promise.resolve('closed');
    if (signal?.aborted) return Promise.resolve('aborted');
    void this.start();
    if (generation !== this.#generation) return Promise.resolve('changed');
    return new Promise((resolve) => {
      const done = (reason: WakeReason) => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve(reason);
      };
      const onAbort = () => done('aborted');
      const timer = setTimeout(() => done('timeout'), Math.min(timeoutMs, this.#pollIntervalMs));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(done);
    });
  }

  /** Stops listening and wakes every waiting feed with 'closed'. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#wakeAll('closed');
    await this.#notifying;
    await this.#starting?.catch(() => undefined);
    await this.#drop();
  }

  #wakeAll(reason: WakeReason): void {
    this.#generation += 1;
    for (const waiter of [...this.#waiters]) waiter(reason);
  }

  async #connect(): Promise<void> {
    const internals = this.#knex.client as unknown as KnexClientInternals;
    let client: ListenClient | null = null;
    try {
      client = await internals.acquireRawConnection();
      client.on('notification', (msg) => {
        if (msg.channel === SIGNAL_EVENTS_CHANNEL && msg.payload !== this.#instanceId) this.#wakeAll('changed');
      });
      const lost = (err?: Error) => {
        if (this.#client !== client) return;
        this.#log.warn({ err: err ? { name: err.name, message: err.message } : undefined }, 'signal events: LISTEN connection lost; feeds poll until it is back');
        this.#client = null;
        void internals.destroyRawConnection(client!).catch(() => undefined);
        this.#scheduleReconnect();
      };
      client.on('error', lost);
      client.on('end', lost);
      await client.query(`LISTEN ${SIGNAL_EVENTS_CHANNEL}`);
      if (this.#closed) {
        await internals.destroyRawConnection(client).catch(() => undefined);
        return;
      }
      this.#client = client;
      this.#failures = 0;
      // Whatever happened while nobody listened: every feed looks again.
      this.#wakeAll('changed');
    } catch (err) {
      if (client) await internals.destroyRawConnection(client).catch(() => undefined);
      if (!this.#closed) {
        this.#log.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'signal events: cannot LISTEN; feeds poll meanwhile');
        this.#scheduleReconnect();
      }
    }
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#retryTimer) return;
    const delay = Math.min(30_000, this.#reconnectDelayMs * 2 ** this.#failures);
    this.#failures += 1;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.start();
    }, delay);
    this.#retryTimer.unref();
  }

  async #drop(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    if (!client) return;
    const internals = this.#knex.client as unknown as KnexClientInternals;
    try {
      await client.query(`UNLISTEN ${SIGNAL_EVENTS_CHANNEL}`);
    } catch {
      // The connection may already be gone; ending it is all that matters.
    }
    await internals.destroyRawConnection(client).catch(() => undefined);
  }
}
