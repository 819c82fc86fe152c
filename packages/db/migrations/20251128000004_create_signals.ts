import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('signals', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    // ON DELETE NO ACTION: a user with signals cannot be deleted (disable them instead).
    t.uuid('owner_id').notNullable().references('id').inTable('users');
    t.text('instrument').notNullable();
    t.text('side').notNullable();
    // Unconstrained numeric: exact, any precision; pg returns it as a string.
    t.specificType('entry_price', 'numeric').notNullable();
    t.text('status').notNullable().defaultTo('open');
    t.jsonb('payload').notNullable().defaultTo(knex.raw("'{}'::jsonb"));
    // Sealed envelope text (see docs/); never plaintext.
    t.text('owner_only_payload').nullable();
    t.text('external_id').nullable();
    t.integer('version').notNullable().defaultTo(1);
    t.timestamp('expires_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['owner_id', 'external_id'], { indexName: 'signals_owner_id_external_id_unique' });
    t.check("side in ('buy', 'sell')", [], 'signals_side_check');
    t.check("status in ('open', 'closed', 'cancelled')", [], 'signals_status_check');
    t.check("jsonb_typeof(payload) = 'object'", [], 'signals_payload_check');
    t.check('version >= 1', [], 'signals_version_check');
  });
  // Keyset pagination, newest first: ORDER BY created_at DESC, id DESC.
  await knex.raw('create index signals_owner_id_created_at_id_index on signals (owner_id, created_at desc, id desc)');
  await knex.raw('create index signals_status_created_at_id_index on signals (status, created_at desc, id desc)');
  await knex.raw('create index signals_created_at_id_index on signals (created_at desc, id desc)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('signals');
}
