// Group commit for publishing. Creates that reach the database in the same turn of the event loop
// (the calls of one batched HTTP request, or requests that arrive together) are written as one
// multi-row insert with their events: one statement, one round trip, one commit, where each alone
// would pay all three. A lone create waits one `setImmediate` for company. When the statement fails
// on one row's data, every row is tried alone, so each caller gets its own answer; any other
// failure (database down, timeout) is every caller's answer.
import type { Knex } from 'knex';
import type { SignalEventHub } from '../events/hub.js';
import { SIGNAL_COLUMNS, signalsTable, type SignalRow } from './signal-rows.js';
import { writeSignalsWithEvents } from './signal-events.js';

/** A `signals` row to insert, in storage (snake_case) form, with its id chosen by the caller. */
export interface SignalInsert {
  id: string;
  owner_id: string;
  [column: string]: unknown;
}

/** At most this many rows per statement (9 parameters each, far below PostgreSQL's 65,535). */
const MAX_GROUP = 100;

interface Waiting {
  row: SignalInsert;
  resolve(row: SignalRow | undefined): void;
  reject(err: unknown): void;
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity constraint): the fault of one row. */
function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

export class SignalInserts {
  readonly #db: { knex: Knex; events: SignalEventHub };
  #waiting: Waiting[] = [];
  #scheduled = false;

  constructor(db: { knex: Knex; events: SignalEventHub }) {
    this.#db = db;
  }

  /**
   * Inserts a signal and records its `created` event. Idempotent on (owner_id, external_id): when
   * that signal exists, resolves undefined and writes nothing.
   */
  insert(row: SignalInsert): Promise<SignalRow | undefined> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ row, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (let i = 0; i < waiting.length; i += MAX_GROUP) void this.#write(waiting.slice(i, i + MAX_GROUP));
  }

  async #write(group: Waiting[]): Promise<void> {
    let written: SignalRow[];
    try {
      written = await this.#statement(group.map((w) => w.row));
    } catch (err) {
      if (group.length > 1 && isRowError(err)) {
        await Promise.all(group.map((w) => this.#write([w])));
      } else {
        for (const w of group) w.reject(err);
      }
      return;
    }
    const byId = new Map(written.map((row) => [row.id, row]));
    for (const w of group) w.resolve(byId.get(w.row.id));
  }

  #statement(rows: SignalInsert[]): Promise<SignalRow[]> {
    const insert = signalsTable(this.#db.knex)
      .insert(rows as never)
      // Idempotent publishing: the same externalId from the same owner yields the first signal.
      .onConflict(['owner_id', 'external_id'])
      .ignore()
      .returning(SIGNAL_COLUMNS);
    return writeSignalsWithEvents(this.#db, insert, 'created');
  }
}
