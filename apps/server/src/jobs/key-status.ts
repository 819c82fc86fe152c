// `keys status`: what uses which key, so an operator can tell when an old KEK may be removed and
// whether re-encryption is finished.
import type { Knex } from 'knex';
import type { Keyring } from '@signals/crypto';

export interface KeyStatus {
  keks: { kekId: string; primary: boolean; configured: boolean; ownerKeys: number; removable: boolean }[];
  dataKeyVersions: { version: number; ownerKeys: number; destroyed: number; payloads: number }[];
  payloads: { total: number; onNewestKey: number; onOlderKey: number; legacyFernet: number; onDestroyedKey: number; shredded: number; unrecognised: number };
}

export async function keyStatus(knex: Knex, keyring: Keyring): Promise<KeyStatus> {
  const kekRows = (await knex('owner_keys')
    .whereNull('destroyed_at')
    .groupBy('kek_id')
    .select('kek_id as kekId')
    .count({ n: '*' })) as { kekId: string; n: string }[];
  const used = new Map(kekRows.map((r) => [r.kekId, Number(r.n)]));
  const kekIds = [...new Set([...keyring.ids, ...used.keys()])];
  const keks = kekIds.map((kekId) => {
    const ownerKeys = used.get(kekId) ?? 0;
    const primary = keyring.primary.id === kekId;
    return { kekId, primary, configured: keyring.get(kekId) !== undefined, ownerKeys, removable: !primary && ownerKeys === 0 };
  });

  const { rows: payloadRows } = (await knex.raw(`
    with p as (
      select s.owner_only_payload as v,
             case when s.owner_only_payload ~ '^sv1\\.[1-9][0-9]{0,8}\\.' then split_part(s.owner_only_payload, '.', 2)::int end as version,
             (select max(k.version) from owner_keys k where k.owner_id = s.owner_id and k.destroyed_at is null) as newest
      from signals s where s.owner_only_payload is not null
    )
    select version,
           case when version is not null then (case when newest is null then 'destroyed' when version >= newest then 'newest' else 'older' end)
                when v = 'shredded' then 'shredded'
                when v like 'gAAAAA%' then 'legacy'
                else 'unrecognised' end as kind,
           count(*)::int as n
    from p group by 1, 2`)) as { rows: { version: number | null; kind: string; n: number }[] };

  const versionRows = (await knex('owner_keys')
    .groupBy('version')
    .select('version')
    .count({ n: '*' })
    .select(knex.raw('count(destroyed_at)::int as destroyed'))
    .orderBy('version')) as { version: number; n: string; destroyed: number }[];
  const payloadsByVersion = new Map<number, number>();
  for (const r of payloadRows) if (r.version !== null) payloadsByVersion.set(r.version, (payloadsByVersion.get(r.version) ?? 0) + r.n);
  const dataKeyVersions = versionRows.map((r) => ({ version: r.version, ownerKeys: Number(r.n), destroyed: r.destroyed, payloads: payloadsByVersion.get(r.version) ?? 0 }));

  const sum = (kind: string) => payloadRows.filter((r) => r.kind === kind).reduce((a, r) => a + r.n, 0);
  const payloads = {
    total: payloadRows.reduce((a, r) => a + r.n, 0),
    onNewestKey: sum('newest'),
    onOlderKey: sum('older'),
    legacyFernet: sum('legacy'),
    onDestroyedKey: sum('destroyed'),
    shredded: sum('shredded'),
    unrecognised: sum('unrecognised'),
  };
  return { keks, dataKeyVersions, payloads };
}
