// superjson's serialize, fast for what the API returns. superjson walks every value generically
// (class registry, custom transformers, referential equalities) and was the largest per-item cost
// of list responses (docs/performance.md). Our outputs are plain objects and arrays of strings,
// finite numbers, booleans, null and Dates: for those this writes the same `{ json, meta }` value
// that superjson writes (meta.values' keys may come in another order), in one pass. Anything else — a Map, a class instance, undefined, NaN, -0, an
// object seen twice, a key superjson guards against — and the whole value goes to superjson itself,
// so what the client receives is always exactly superjson's format.
import superjson from 'superjson';

type SuperJSONResult = ReturnType<typeof superjson.serialize>;

/** Thrown inside the walk to hand the whole value to superjson. */
const NOT_PLAIN = Symbol('not plain');

const GUARDED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** superjson's path segment escaping (pathstringifier.escapeKey). */
function escapeKey(key: string): string {
  return key.includes('.') || key.includes('\\') ? key.replace(/\\/g, '\\\\').replace(/\./g, '\\.') : key;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

export function serializeOutput(value: unknown): SuperJSONResult {
  const dates: Record<string, ['Date']> = {};
  let dated = false;
  const seen = new Set<object>();

  // `path` is superjson's path of `v` (segments escaped, joined by dots); null at the top.
  const walk = (v: unknown, path: string | null): unknown => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        if (!Number.isFinite(v) || Object.is(v, -0)) throw NOT_PLAIN;
        return v;
      case 'object': {
        if (v === null) return null;
        if (seen.has(v)) throw NOT_PLAIN; // superjson would record a referential equality
        seen.add(v);
        if (v instanceof Date) {
          if (path === null || Number.isNaN(v.getTime())) throw NOT_PLAIN;
          dates[path] = ['Date'];
          dated = true;
          return v.toISOString();
        }
        const prefix = path === null ? '' : `${path}.`;
        if (Array.isArray(v)) {
          const out = new Array<unknown>(v.length);
          for (let i = 0; i < v.length; i++) {
            if (!(i in v)) throw NOT_PLAIN;
            out[i] = walk(v[i], prefix + i);
          }
          return out;
        }
        if (!isPlainObject(v)) throw NOT_PLAIN;
        const out: Record<string, unknown> = {};
        for (const key of Object.keys(v)) {
          if (GUARDED_KEYS.has(key)) throw NOT_PLAIN;
          out[key] = walk((v as Record<string, unknown>)[key], prefix + escapeKey(key));
        }
        return out;
      }
      default:
        throw NOT_PLAIN; // undefined, bigint, symbol, function
    }
  };

  try {
    const json = walk(value, null) as SuperJSONResult['json'];
    return dated ? { json, meta: { values: dates, v: 1 } as SuperJSONResult['meta'] } : { json };
  } catch (err) {
    if (err !== NOT_PLAIN) throw err;
    return superjson.serialize(value);
  }
}
