// Key rotation end to end on real PostgreSQL: KEK rotation with rewrap, DEK rotation with
// re-encryption, and the start-up guard against removing a KEK still in use.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring } from '@signals/crypto';
import { createDeps } from '../deps.js';
import { createInnerContext } from '../context.js';
import { appRouter } from '../routers/_app.js';
import { createCallerFactory } from '../trpc.js';
import { createHarness, type Harness, type TestUser } from '../testing/harness.js';
import { assertKeyringCoversDataKeys } from '../vault/keyring-check.js';
import { keyStatus } from './key-status.js';
import { reencryptPayloads } from './reencrypt.js';
import { rewrapDataKeys } from './rewrap.js';
import { rotateOwnerKeys } from './rotate-owner.js';

const kek1 = Keyring.generateEntry('kek1');
const kek2 = Keyring.generateEntry('kek2');
const createCaller = createCallerFactory(appRouter);

let h: Harness;
let owners: TestUser[];
const published: { owner: TestUser; id: string; notes: string }[] = [];

/** A fresh set of services with another keyring, as after a restart with new configuration. */
function servicesWith(keyring: Keyring) {
  return createDeps({ knex: h.knex, keyring, log: h.deps.log });
}

async function readAll(keyring: Keyring) {
  const deps = servicesWith(keyring);
  for (const p of published) {
    const view = await createCaller(createInnerContext({ deps, user: p.owner })).signals.byId({ id: p.id });
    expect(view).toMatchObject({ ownerOnlyState: 'present', ownerOnly: { notes: p.notes } });
  }
}

beforeAll(async () => {
  h = await createHarness({ keyring: Keyring.parse(kek1) });
  owners = [await h.user('owner'), await h.user('owner'), await h.user('owner')];
  for (const owner of owners) {
    for (let i = 0; i < 5; i++) {
      const notes = `secret ${owner.id} #${i}`;
      const s = await h.caller(owner).signals.create({ instrument: 'XAUUSD', side: 'buy', entryPrice: '1', ownerOnly: { notes } });
      published.push({ owner, id: s.id, notes });
    }
  }
});
afterAll(() => h.close());

describe('key rotation', () => {
  it('rotates the KEK: add kek2 as primary, rewrap, remove kek1, and every payload still opens', async () => {
    const both = Keyring.parse(`${kek2},${kek1}`);
    expect((await rewrapDataKeys(h.knex, both, { dryRun: true })).pending).toBe(3);
    expect(await h.knex('owner_keys').where('kek_id', 'kek1').count({ n: '*' }).first()).toEqual({ n: '3' });

    const status = await keyStatus(h.knex, both);
    expect(status.keks.find((k) => k.kekId === 'kek1')).toMatchObject({ ownerKeys: 3, removable: false });

    // Removing kek1 before the rewrap is refused at start-up, naming the key and the count.
    await expect(assertKeyringCoversDataKeys(h.knex, Keyring.parse(kek2))).rejects.toThrow(/kek1 \(wraps 3 owner keys\)/);

    const result = await rewrapDataKeys(h.knex, both, { batchSize: 2 });
    expect(result).toMatchObject({ rewrapped: 3, primaryKekId: 'kek2' });
    expect((await keyStatus(h.knex, both)).keks.find((k) => k.kekId === 'kek1')).toMatchObject({ ownerKeys: 0, removable: true });

    const onlyNew = Keyring.parse(kek2);
    await assertKeyringCoversDataKeys(h.knex, onlyNew);
    await readAll(onlyNew);
  });

  it('rotates data keys: new writes use the new version, reencrypt moves the old payloads, all still open', async () => {
    const keyring = Keyring.parse(kek2);
    const deps = servicesWith(keyring);
    const rotated = await rotateOwnerKeys(h.knex, deps.ownerKeys, { all: true });
    expect(rotated.owners.map((o) => o.version)).toEqual([2, 2, 2]);

    const fresh = await createCaller(createInnerContext({ deps, user: owners[0]! })).signals.create({
      instrument: 'EURUSD', side: 'sell', entryPrice: '1.1', ownerOnly: { notes: 'after rotation' },
    });
    const stored = await h.knex('signals').where('id', fresh.id).first('owner_only_payload');
    expect(stored.owner_only_payload).toMatch(/^sv1\.2\./);
    published.push({ owner: owners[0]!, id: fresh.id, notes: 'after rotation' });

    expect((await keyStatus(h.knex, keyring)).payloads).toMatchObject({ onOlderKey: 15, onNewestKey: 1 });
    expect((await reencryptPayloads(deps, { dryRun: true })).pending).toBe(15);
    const result = await reencryptPayloads(deps, { batchSize: 4 });
    expect(result).toMatchObject({ reencrypted: 15, failed: [] });
    expect((await keyStatus(h.knex, keyring)).payloads).toMatchObject({ onOlderKey: 0, onNewestKey: 16 });
    expect((await reencryptPayloads(deps)).pending).toBe(0);
    await readAll(keyring);
  });
});
