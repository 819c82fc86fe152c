import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // The outbox of signal changes behind `signals.onChange`. Written in the same transaction as the
  // change itself, under a transaction-level advisory lock, so ids become visible in increasing
  // order: a reader that has seen id N never misses an id below N. The id is the SSE event id a
  // client resumes from. Only ids and the kind of change: never payload contents.
  await knex.schema.createTable('signal_events', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('signal_id').notNullable().references('id').inTable('signals').onDelete('CASCADE');
    // The signal's owner, copied so that "events I may see" needs no join.
    t.uuid('owner_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('kind').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.check("kind in ('created', 'updated', 'closed', 'cancelled')", [], 'signal_events_kind_check');
  });
  await knex.raw('create index signal_events_owner_id_id_index on signal_events (owner_id, id)');
  await knex.raw('create index signal_events_signal_id_index on signal_events (signal_id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('signal_events');
}
