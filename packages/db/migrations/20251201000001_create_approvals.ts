import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // One decision per signal and subscriber: the unique constraint is what makes concurrent double
  // decisions store exactly one.
  await knex.schema.createTable('approvals', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('signal_id').notNullable().references('id').inTable('signals').onDelete('CASCADE');
    t.uuid('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('decision').notNullable();
    t.text('reason').nullable();
    // Who decided from where, for audit; null when the decision did not come over HTTP.
    t.text('ip').nullable();
    t.text('user_agent').nullable();
    t.timestamp('decided_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['signal_id', 'user_id'], { indexName: 'approvals_signal_id_user_id_unique' });
    t.check("decision in ('approved', 'rejected')", [], 'approvals_decision_check');
    t.check('reason is null or char_length(reason) between 1 and 500', [], 'approvals_reason_check');
    t.check('ip is null or char_length(ip) <= 64', [], 'approvals_ip_check');
    t.check('user_agent is null or char_length(user_agent) <= 512', [], 'approvals_user_agent_check');
  });
  // approvals.pending: "signals of my owners that I have not decided on" is an anti-join on
  // (user_id, signal_id); the open signals of an owner, newest first, come from a partial index.
  await knex.raw('create index approvals_user_id_signal_id_index on approvals (user_id, signal_id)');
  await knex.raw("create index signals_open_owner_id_created_at_id_index on signals (owner_id, created_at desc, id desc) where status = 'open'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists signals_open_owner_id_created_at_id_index');
  await knex.schema.dropTable('approvals');
}
