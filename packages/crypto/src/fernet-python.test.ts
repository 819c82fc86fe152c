// Interoperability with Python's `cryptography` Fernet, the writer of the legacy tokens.
// fixtures/python-fernet.json is made by fixtures/make-fernet-fixtures.py.
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Fernet, MultiFernet } from './fernet.js';
import { expectCryptoError, readPackageJson } from '../test/helpers.js';

interface Fixtures {
  generator: string;
  keys: string[];
  tokens: Array<{ desc: string; key: string; token: string; plaintextB64: string; json: boolean; timestamp: number }>;
  rotation: { oldKey: string; newKey: string; original: string; rotated: string; plaintextB64: string; timestamp: number };
  deterministic: Array<{ key: string; timestamp: number; ivHex: string; plaintextB64: string; token: string }>;
  hmacVector: { key: string; signingKeyHex: string; encryptionKeyHex: string; messageHex: string; macHex: string };
}
const fixtures = readPackageJson<Fixtures>('fixtures/python-fernet.json');
const at = (seconds: number): Date => new Date(seconds * 1000);

describe('tokens made by Python cryptography', () => {
  it('has the fixtures', () => {
    expect(fixtures.generator).toMatch(/^cryptography \d+/);
    expect(fixtures.tokens.length).toBeGreaterThanOrEqual(9);
    expect(fixtures.tokens.some((t) => t.plaintextB64 === '')).toBe(true);
    expect(fixtures.tokens.filter((t) => t.json).length).toBeGreaterThanOrEqual(2);
  });

  it.each(fixtures.tokens)('decrypts "$desc"', (t) => {
    const f = new Fernet(t.key);
    const plain = f.decrypt(t.token, { ttlSeconds: 60, now: at(t.timestamp + 1) });
    expect(plain.toString('base64')).toBe(t.plaintextB64);
    expect(f.extractTimestamp(t.token)).toBe(t.timestamp);
    if (t.json) {
      // json.dumps(payload, sort_keys=True) text: parses to the same object.
      const decoded = Buffer.from(t.plaintextB64, 'base64').toString('utf8');
      expect(JSON.parse(plain.toString('utf8'))).toEqual(JSON.parse(decoded));
    }
    // And through a MultiFernet holding all the fixture keys, in any order.
    expect(new MultiFernet(fixtures.keys.map((k) => new Fernet(k))).decrypt(t.token).toString('base64')).toBe(t.plaintextB64);
  });

  it('reads a token rotated by Python MultiFernet.rotate, which kept the timestamp', () => {
    const { oldKey, newKey, original, rotated, plaintextB64, timestamp } = fixtures.rotation;
    const fresh = new Fernet(newKey);
    expect(fresh.decrypt(rotated).toString('base64')).toBe(plaintextB64);
    expect(fresh.extractTimestamp(rotated)).toBe(timestamp);
    expectCryptoError(() => new Fernet(oldKey).decrypt(rotated), 'AUTH_FAILED');
    // Our rotate of the same original gives the same result: timestamp kept, new key.
    const ours = new MultiFernet([fresh, new Fernet(oldKey)]).rotate(original);
    expect(fresh.extractTimestamp(ours)).toBe(timestamp);
    expect(fresh.decrypt(ours).toString('base64')).toBe(plaintextB64);
  });

  it('reproduces Python tokens byte for byte given the same time and IV', () => {
    for (const d of fixtures.deterministic) {
      const token = new Fernet(d.key).encryptAtTime(Buffer.from(d.plaintextB64, 'base64'), d.timestamp, Buffer.from(d.ivHex, 'hex'));
      expect(token).toBe(d.token);
    }
  });
});

// Python as the reader of our tokens: run it when python3 with cryptography is on this machine.
function pythonWithCryptography(): { ok: true } | { ok: false; reason: string } {
  const probe = spawnSync('python3', ['-c', 'import cryptography'], { encoding: 'utf8', timeout: 20_000 });
  if (probe.error) return { ok: false, reason: `python3 not runnable (${probe.error.message})` };
  if (probe.status !== 0) return { ok: false, reason: 'python3 has no cryptography module' };
  return { ok: true };
}

const PYTHON_DECRYPT = `
import base64, json, sys
from cryptography.fernet import Fernet
out = []
for item in json.load(sys.stdin):
    f = Fernet(item["key"].encode())
    token = item["token"].encode()
    out.append({"plaintextB64": base64.b64encode(f.decrypt(token)).decode(), "timestamp": f.extract_timestamp(token)})
json.dump(out, sys.stdout)
`;

describe('tokens we make, read by Python cryptography', () => {
  const key = Fernet.generateKey();
  const f = new Fernet(key);
  const older = new Fernet(Fernet.generateKey());
  const plaintexts = [
    Buffer.from('hello'),
    Buffer.alloc(0),
    Buffer.from('héllo wörld — 日本語 🚀'),
    Buffer.from(JSON.stringify({ stopLoss: '1923.10', takeProfit: '1987.45', nested: { a: [1, null, true] } })),
    Buffer.alloc(16, 0x41),
    Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  ];
  const cases = plaintexts.map((plain, i) => ({ key, token: f.encryptAtTime(plain, 1_700_000_000 + i), plain, timestamp: 1_700_000_000 + i }));
  cases.push({ key, token: new MultiFernet([f, older]).rotate(older.encryptAtTime('rotated', 1_600_000_000)), plain: Buffer.from('rotated'), timestamp: 1_600_000_000 });

  it('Python decrypts them to the same bytes and timestamps (or, without Python, they match Python-made vectors)', () => {
    const python = pythonWithCryptography();
    if (python.ok) {
      const run = spawnSync('python3', ['-c', PYTHON_DECRYPT], {
        input: JSON.stringify(cases.map(({ key: k, token }) => ({ key: k, token }))),
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(run.status, run.stderr).toBe(0);
      const results = JSON.parse(run.stdout) as Array<{ plaintextB64: string; timestamp: number }>;
      expect(results).toEqual(cases.map((c) => ({ plaintextB64: c.plain.toString('base64'), timestamp: c.timestamp })));
      return;
    }
    console.log(`Python interop: ${python.reason}; checking our tokens against Python-made vectors instead`);
    // 1. The key split and HMAC, computed by Python's hmac module.
    const v = fixtures.hmacVector;
    const raw = Buffer.from(v.key, 'base64url');
    expect(raw.subarray(0, 16).toString('hex')).toBe(v.signingKeyHex);
    expect(raw.subarray(16).toString('hex')).toBe(v.encryptionKeyHex);
    expect(createHmac('sha256', Buffer.from(v.signingKeyHex, 'hex')).update(Buffer.from(v.messageHex, 'hex')).digest('hex')).toBe(v.macHex);
    // 2. With Python's key, time and IV, our encryption is Python's token byte for byte.
    for (const d of fixtures.deterministic) {
      expect(new Fernet(d.key).encryptAtTime(Buffer.from(d.plaintextB64, 'base64'), d.timestamp, Buffer.from(d.ivHex, 'hex'))).toBe(d.token);
    }
    // 3. The tokens above carry an HMAC that Python's recipe (HMAC-SHA256 under the first 16
    //    key bytes, over everything before the MAC) verifies.
    for (const c of cases) {
      const bytes = Buffer.from(c.token, 'base64url');
      const mac = createHmac('sha256', Buffer.from(c.key, 'base64url').subarray(0, 16)).update(bytes.subarray(0, -32)).digest();
      expect(mac.equals(bytes.subarray(-32))).toBe(true);
      expect(bytes.readBigUInt64BE(1)).toBe(BigInt(c.timestamp));
    }
  });
});
