/** A value made once per target, for health stores and their wrappers on the answer path. */
import type { TargetRef } from './types.js';

/** Providers beyond this many are dropped and their values rebuilt on demand: a bound, not a tuning. */
const MAX_PROVIDERS = 10_000;

/**
 * Memoises `make` by provider id, then model id. Every answer checks and records its targets
 * several times; a lookup by the caller's own id strings (whose hashes V8 keeps) spares building
 * and hashing a key string per call. Targets are a catalog's models: a bounded set.
 */
export function perTarget<V>(make: (t: TargetRef) => V): (t: TargetRef) => V {
  const byProvider = new Map<string, Map<string, V>>();
  return (t) => {
    let byModel = byProvider.get(t.providerId);
    if (!byModel) {
      if (byProvider.size >= MAX_PROVIDERS) byProvider.clear();
      byProvider.set(t.providerId, (byModel = new Map()));
    }
    let v = byModel.get(t.modelId);
    if (v === undefined) byModel.set(t.modelId, (v = make(t)));
    return v;
  };
}
