import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Outbox order without a lock. Writers used to serialise on one advisory lock so that ids became
  // visible in increasing order; that lock (and the NOTIFY in every write, which PostgreSQL also
  // serialises at commit) capped every signal write of the service. Now each event carries the id
  // of the transaction that wrote it, and a reader only takes events of transactions older than
  // the oldest one still running (`pg_snapshot_xmin`): that prefix, in (tx_id, id) order, can no
  // longer grow, so "everything after position P" stays a complete answer. Rows written before
  // this migration get its own transaction id: one group, in id order, before every later event.
  await knex.raw('alter table signal_events add column tx_id xid8 not null default pg_current_xact_id()');
  await knex.raw('create index signal_events_tx_id_id_index on signal_events (tx_id, id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index signal_events_tx_id_id_index');
  await knex.raw('alter table signal_events drop column tx_id');
}
