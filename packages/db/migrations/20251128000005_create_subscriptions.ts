import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('subscriptions', (t) => {
    t.uuid('owner_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.uuid('subscriber_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['owner_id', 'subscriber_id'], { constraintName: 'subscriptions_pkey' });
    t.index(['subscriber_id'], 'subscriptions_subscriber_id_index');
    t.check('owner_id <> subscriber_id', [], 'subscriptions_not_self_check');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('subscriptions');
}
