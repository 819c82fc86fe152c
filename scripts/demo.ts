// `pnpm demo`: the README's walk-through, by itself, on a throwaway embedded PostgreSQL. It creates
// an owner, a subscriber, an admin and a stranger, publishes a signal through @signals/client, and
// prints what each of them sees and what the database stores.
import { Keyring } from '@signals/crypto';
import { createKnex, migrateLatest, startThrowawayPostgres } from '@signals/db';
import { addSubscription, createDeps, createLogger, createUser, listen } from '@signals/server';
import { createSignalsClient, isSignalsError } from '@signals/client';

const line = (title: string) => console.log(`\n── ${title} ${'─'.repeat(Math.max(0, 70 - title.length))}`);
const show = (value: unknown) => console.log(JSON.stringify(value, null, 2));

console.log('Starting a throwaway embedded PostgreSQL (a few seconds)…');
const pg = await startThrowawayPostgres();
const knex = createKnex(pg.url);
try {
  await migrateLatest(knex);
  const keyring = Keyring.parse(Keyring.generateEntry('demo1'));
  const server = await listen(createDeps({ knex, keyring, log: createLogger('warn') }));
  console.log(`Server on ${server.url} (tRPC at ${server.url}/trpc)`);

  const owner = await createUser(knex, { name: 'Olivia (owner)', role: 'owner' });
  const follower = await createUser(knex, { name: 'Sam (subscriber)', role: 'subscriber' });
  const admin = await createUser(knex, { name: 'Ada (admin)', role: 'admin' });
  const stranger = await createUser(knex, { name: 'Tom (not subscribed)', role: 'subscriber' });
  await addSubscription(knex, owner.user.id, follower.user.id);
  const as = (u: { token: string }) => createSignalsClient({ url: server.url, token: u.token });

  line('The owner publishes a signal');
  const signal = await as(owner).signals.create.mutate({
    instrument: 'XAUUSD',
    side: 'buy',
    entryPrice: '1923.50',
    payload: { confidence: 0.82, timeframe: 'H4' },
    ownerOnly: { stopLoss: '1905.00', takeProfit: '1968.00', strategy: 'london-breakout', notes: 'size down before NFP' },
    externalId: 'demo-1',
  });
  show(signal);

  line('The subscriber sees the public view (no owner-only field)');
  show(await as(follower).signals.byId.query({ id: signal.id }));

  line('The admin sees the public view too');
  show(await as(admin).signals.byId.query({ id: signal.id }));

  line('A subscriber of someone else is told it does not exist');
  try {
    await as(stranger).signals.byId.query({ id: signal.id });
  } catch (err) {
    console.log(isSignalsError(err, 'NOT_FOUND') ? `NOT_FOUND: ${(err as Error).message}` : err);
  }

  line('What the database stores (SELECT owner_only_payload FROM signals)');
  const row = await knex('signals').where('id', signal.id).first('owner_only_payload');
  console.log(row.owner_only_payload);
  const key = await knex('owner_keys').where('owner_id', owner.user.id).first('version', 'kek_id', 'wrapped_key');
  line("The owner's data key, wrapped by the master key (SELECT * FROM owner_keys)");
  show(key);

  await server.close();
} finally {
  await knex.destroy();
  await pg.stop();
}
console.log('\nDone: the throwaway database is gone.');
