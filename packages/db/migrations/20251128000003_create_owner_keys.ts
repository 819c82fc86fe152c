import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // One data key (DEK) per owner and version, stored only wrapped by a KEK.
  // Crypto-shredding sets wrapped_key to null and destroyed_at together.
  await knex.schema.createTable('owner_keys', (t) => {
    t.uuid('owner_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.integer('version').notNullable();
    t.text('kek_id').notNullable();
    t.text('wrapped_key').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('destroyed_at', { useTz: true }).nullable();
    t.primary(['owner_id', 'version'], { constraintName: 'owner_keys_pkey' });
    t.index(['kek_id'], 'owner_keys_kek_id_index');
    t.check('version >= 1', [], 'owner_keys_version_check');
    t.check('(wrapped_key is null) = (destroyed_at is not null)', [], 'owner_keys_destroyed_check');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('owner_keys');
}
