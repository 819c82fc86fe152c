// Tampering with sealed owner-only payloads where they rest: every single-bit flip and every
// truncation of a sealed value (in the vault, all of them; over HTTP, a sample), and whole values
// swapped between rows, owners and key versions directly in the database. The owner's read must
// fail closed with the stable code OWNER_ONLY_UNREADABLE; other rows stay readable; no response
// ever carries another row's data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fernet, parseLegacyFernetKeys } from '@signals/crypto';
import { createDeps } from '../src/deps.js';
import { VaultError, type VaultErrorReason } from '../src/vault/owner-only-vault.js';
import { createHarness, type Harness, type TestUser } from '../src/testing/harness.js';
import { callTrpc, trpcData, trpcError, type RawResponse } from './support.js';

let h: Harness;
let url: string;
let alice: TestUser; // owner
let bob: TestUser; // another owner
let sam: TestUser; // subscribes to alice

interface Published {
  id: string;
  canary: string;
  owner: TestUser;
}
const rows: Record<'a1' | 'a2' | 'a3' | 'b1', Published> = {} as never;

const canaryFor = (name: string) => `CANARY-${name}-${crypto.randomUUID()}`;

async function publish(owner: TestUser, name: string): Promise<Published> {
  const canary = canaryFor(name);
  const created = await h.caller(owner).signals.create({
    instrument: 'XAUUSD',
    side: 'buy',
    entryPrice: '1923.50',
    // Long enough that the sealed value is ~200 characters.
    ownerOnly: { stopLoss: '1900.00', takeProfit: '1980.25', strategy: 'london-breakout', notes: `${canary} size down before NFP` },
  });
  return { id: created.id, canary, owner };
}

const stored = async (id: string): Promise<string> => (await h.knex('signals').where('id', id).first('owner_only_payload')).owner_only_payload as string;
const store = (id: string, value: string | null) => h.knex('signals').where('id', id).update({ owner_only_payload: value });
const byId = (who: TestUser, id: string) => callTrpc(url, 'signals.byId', { type: 'query', token: who.token, input: { id } });

/** Every response seen, with the canaries it may legitimately carry. */
const seen: { response: RawResponse; allowed: Set<string> }[] = [];
function record(response: RawResponse, ...allowed: string[]): RawResponse {
  seen.push({ response, allowed: new Set(allowed) });
  return response;
}

/** The owner's read failed closed: 500, the stable code, the reason, and nothing of any payload. */
function expectUnreadable(response: RawResponse, reasons: VaultErrorReason[]) {
  expect(response.status, response.text).toBe(500);
  const error = trpcError(response)!;
  expect(error.data.code).toBe('INTERNAL_SERVER_ERROR');
  expect(error.data.signalsCode).toBe('OWNER_ONLY_UNREADABLE');
  const reason = /could not be opened \(([A-Z_]+)\)/.exec(error.message)?.[1];
  expect(reasons, error.message).toContain(reason);
}

/** A read that works and shows exactly this row's payload. */
async function expectReadable(row: Published) {
  const response = record(await byId(row.owner, row.id), row.canary);
  expect(response.status, response.text).toBe(200);
  const view = trpcData<{ ownerOnly: { notes: string } | null; ownerOnlyState: string }>(response);
  expect(view.ownerOnlyState).toBe('present');
  expect(view.ownerOnly?.notes).toContain(row.canary);
}

beforeAll(async () => {
  h = await createHarness();
  url = (await h.serve()).url;
  alice = await h.user('owner', 'alice');
  bob = await h.user('owner', 'bob');
  sam = await h.user('subscriber', 'sam');
  await h.subscribe(alice, sam);
  rows.a1 = await publish(alice, 'a1');
  rows.a2 = await publish(alice, 'a2');
  rows.b1 = await publish(bob, 'b1');
  // a3 is sealed under alice's third data key: then single flips of its version digit ("3")
  // reach versions that exist ("1", "2"), not only missing ones.
  await h.deps.ownerKeys.rotate(alice.id);
  await h.deps.ownerKeys.rotate(alice.id);
  rows.a3 = await publish(alice, 'a3');
  expect(await stored(rows.a3.id)).toMatch(/^sv1\.3\./);
});
afterAll(async () => {
  // No response, of any test here, carried the payload of a row it was not about.
  const all = Object.values(rows);
  let checked = 0;
  for (const { response, allowed } of seen) {
    for (const row of all) if (!allowed.has(row.canary)) expect(response.text).not.toContain(row.canary);
    checked++;
  }
  console.log(`tamper: ${checked} HTTP responses checked for other rows' canaries`);
  await h?.close();
});

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Every single-bit flip of a sealed value: in the base64url parts each character's 6 bits (which
 * covers every bit of the nonce, ciphertext and tag, and the spare bits of the last character), in
 * the header ("sv1.<version>." and the dots) each character's 7 ASCII bits.
 */
function everyBitFlip(value: string): { at: number; bit: number; text: string }[] {
  const header = value.indexOf('.', 4) + 1;
  const out: { at: number; bit: number; text: string }[] = [];
  for (let at = 0; at < value.length; at++) {
    const ch = value[at]!;
    const sextet = B64.indexOf(ch);
    const inBase64 = at >= header && ch !== '.';
    const bits = inBase64 ? 6 : 7;
    for (let bit = 0; bit < bits; bit++) {
      const flipped = inBase64 ? B64[sextet ^ (1 << bit)]! : String.fromCharCode(ch.charCodeAt(0) ^ (1 << bit));
      out.push({ at, bit, text: value.slice(0, at) + flipped + value.slice(at + 1) });
    }
  }
  return out;
}

describe('tampering in the vault (exhaustive)', () => {
  async function openAs(row: Published, text: string, deps = h.deps) {
    return deps.vault.openFor(row.owner.id, { signalId: row.id, ownerId: row.owner.id, ownerOnlyPayload: text });
  }

  it('every single-bit flip of a sealed value fails closed with OWNER_ONLY_UNREADABLE', async () => {
    const reasons = new Map<string, number>();
    let flips = 0;
    // A flip in "sv1." makes the value look like a legacy Fernet token: it must fail with the legacy
    // keys configured too, not only for want of them.
    const withLegacy = createDeps({ knex: h.knex, keyring: h.keyring, log: h.deps.log, legacyFernet: parseLegacyFernetKeys(Fernet.generateKey()) });
    let legacyChecked = 0;
    for (const row of [rows.a1, rows.a3]) {
      const original = await stored(row.id);
      expect((await openAs(row, original)).state).toBe('present');
      for (const { at, bit, text } of everyBitFlip(original)) {
        flips++;
        let error: unknown;
        try {
          const opened = await openAs(row, text);
          throw new Error(`flip of bit ${bit} at ${at} opened (state ${opened.state})`);
        } catch (err) {
          error = err;
        }
        expect(error, `bit ${bit} at ${at}`).toBeInstanceOf(VaultError);
        const e = error as VaultError;
        expect(e.code).toBe('OWNER_ONLY_UNREADABLE');
        expect(e.message).not.toContain(row.canary);
        expect(e.message).not.toContain(text.slice(-40));
        reasons.set(e.reason, (reasons.get(e.reason) ?? 0) + 1);
        if (e.reason === 'LEGACY_KEYS_MISSING') {
          await expect(openAs(row, text, withLegacy)).rejects.toMatchObject({ code: 'OWNER_ONLY_UNREADABLE' });
          legacyChecked++;
        }
      }
      expect((await openAs(row, original)).state).toBe('present'); // the real value still opens
    }
    console.log(`tamper: ${flips} single-bit flips over 2 sealed values (${(await stored(rows.a1.id)).length} and ${(await stored(rows.a3.id)).length} chars), all refused: ${JSON.stringify(Object.fromEntries(reasons))}; the ${legacyChecked} that look legacy also refused with legacy keys configured`);
    expect(flips).toBeGreaterThan(1_500);
    expect(reasons.get('AUTH_FAILED')).toBeGreaterThan(1_000);
  });

  it('every truncation, and stray bytes appended, fail closed too', async () => {
    const original = await stored(rows.a1.id);
    const variants = [
      ...Array.from({ length: original.length }, (_, n) => original.slice(0, n)),
      ...['A', '.', '=', '==', ' ', '\n', '.A'].map((s) => original + s),
      ` ${original}`,
      original.toUpperCase(),
    ];
    const reasons = new Map<string, number>();
    for (const text of variants) {
      const error = await openAs(rows.a1, text).then(
        (opened) => new Error(`opened (${opened.state}): ${JSON.stringify(text.slice(0, 20))}…`),
        (err: unknown) => err,
      );
      expect(error, JSON.stringify(text)).toBeInstanceOf(VaultError);
      reasons.set((error as VaultError).reason, (reasons.get((error as VaultError).reason) ?? 0) + 1);
    }
    console.log(`tamper: ${variants.length} truncations and extensions, all refused: ${JSON.stringify(Object.fromEntries(reasons))}`);
  });
});

describe('tampering in the database, read over HTTP', () => {
  it('a sample of bit flips: the owner gets OWNER_ONLY_UNREADABLE, everyone else and every other row is unaffected', async () => {
    const original = await stored(rows.a1.id);
    const flips = everyBitFlip(original);
    // Every 12th flip: ~100 reads spread over header, nonce, ciphertext and tag.
    const sample = flips.filter((_, i) => i % 12 === 5);
    for (const flip of sample) {
      if (flip.text.includes('\u0000')) continue; // PostgreSQL text cannot hold it; the vault test covers it
      await store(rows.a1.id, flip.text);
      expectUnreadable(record(await byId(alice, rows.a1.id)), ['AUTH_FAILED', 'MALFORMED', 'KEY_MISSING', 'UNSUPPORTED_VERSION', 'LEGACY_KEYS_MISSING']);
    }
    // Meanwhile: the subscriber's public view needs no key and still works; the other rows open.
    const publicView = record(await byId(sam, rows.a1.id));
    expect(publicView.status).toBe(200);
    expect(trpcData<object>(publicView)).not.toHaveProperty('ownerOnly');
    await expectReadable(rows.a2);
    await expectReadable(rows.b1);
    await store(rows.a1.id, original);
    await expectReadable(rows.a1);
    console.log(`tamper: ${sample.length} bit-flipped values read over HTTP, all refused`);
  });

  it('values swapped between rows of one owner do not open in the other row', async () => {
    const [v1, v2] = [await stored(rows.a1.id), await stored(rows.a2.id)];
    await store(rows.a1.id, v2);
    await store(rows.a2.id, v1);
    expectUnreadable(record(await byId(alice, rows.a1.id)), ['AUTH_FAILED']);
    expectUnreadable(record(await byId(alice, rows.a2.id)), ['AUTH_FAILED']);
    // A list that includes them still answers: those two items say `unreadable` and carry nothing,
    // the others open as usual.
    const list = record(await callTrpc(url, 'signals.list', { type: 'query', token: alice.token, input: {} }), rows.a3.canary);
    expect(list.status, list.text).toBe(200);
    const { items } = trpcData<{ items: { id: string; ownerOnly: unknown; ownerOnlyState: string }[] }>(list);
    const swapped = items.filter((i) => i.id === rows.a1.id || i.id === rows.a2.id);
    expect(swapped.map((i) => [i.ownerOnlyState, i.ownerOnly])).toEqual([
      ['unreadable', null],
      ['unreadable', null],
    ]);
    expect(items.find((i) => i.id === rows.a3.id)?.ownerOnlyState).toBe('present');
    await expectReadable(rows.a3);
    await store(rows.a1.id, v1);
    await store(rows.a2.id, v2);
    await expectReadable(rows.a1);
    await expectReadable(rows.a2);
  });

  it("another owner's value, or a row moved to another owner, does not open", async () => {
    const [mine, theirs] = [await stored(rows.a1.id), await stored(rows.b1.id)];
    // Bob's sealed value in Alice's row (both under data key version 1).
    await store(rows.a1.id, theirs);
    expectUnreadable(record(await byId(alice, rows.a1.id)), ['AUTH_FAILED']);
    await store(rows.a1.id, mine);
    // Alice's row handed to Bob: Bob owns it now, but the value is bound to Alice.
    await h.knex('signals').where('id', rows.a1.id).update({ owner_id: bob.id });
    expectUnreadable(record(await byId(bob, rows.a1.id)), ['AUTH_FAILED']);
    const aliceNow = record(await byId(alice, rows.a1.id));
    expect(aliceNow.status).toBe(200); // owners see each other's public view
    expect(trpcData<object>(aliceNow)).not.toHaveProperty('ownerOnly');
    await expectReadable(rows.b1);
    await h.knex('signals').where('id', rows.a1.id).update({ owner_id: alice.id });
    await expectReadable(rows.a1);
  });

  it('a value relabelled to another key version, or wrapped keys swapped between versions or owners, does not open', async () => {
    const a3 = await stored(rows.a3.id); // sv1.3.…
    for (const version of ['1', '2', '4']) {
      await store(rows.a3.id, a3.replace(/^sv1\.3\./, `sv1.${version}.`));
      expectUnreadable(record(await byId(alice, rows.a3.id)), version === '4' ? ['KEY_MISSING'] : ['AUTH_FAILED']);
    }
    await store(rows.a3.id, a3);
    await expectReadable(rows.a3);

    const keys = async (owner: TestUser) =>
      Object.fromEntries(
        ((await h.knex('owner_keys').where('owner_id', owner.id).select('version', 'wrapped_key')) as { version: number; wrapped_key: string }[]).map((k) => [k.version, k.wrapped_key]),
      );
    const [aliceKeys, bobKeys] = [await keys(alice), await keys(bob)];
    const setKey = async (owner: TestUser, version: number, wrapped: string) => {
      await h.knex('owner_keys').where({ owner_id: owner.id, version }).update({ wrapped_key: wrapped });
      h.deps.ownerKeys.forget(owner.id); // as a replica would after its cache expires
    };
    // Alice's version 3 slot holds her version 1 key: a3 must not open with it.
    await setKey(alice, 3, aliceKeys[1]!);
    expectUnreadable(record(await byId(alice, rows.a3.id)), ['AUTH_FAILED', 'MALFORMED', 'UNKNOWN_KEY']);
    await expectReadable(rows.a1); // version 1 itself is intact
    await setKey(alice, 3, aliceKeys[3]!);
    // Alice's version 1 slot holds Bob's version 1 key.
    await setKey(alice, 1, bobKeys[1]!);
    expectUnreadable(record(await byId(alice, rows.a1.id)), ['AUTH_FAILED', 'MALFORMED', 'UNKNOWN_KEY']);
    await expectReadable(rows.b1);
    await expectReadable(rows.a3);
    await setKey(alice, 1, aliceKeys[1]!);
    await expectReadable(rows.a1);
  });
});
