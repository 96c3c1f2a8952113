/**
 * Health memory seen through one organization: the engine works with the organization's own
 * model and provider ids (`gpt-4o`, `openai`), while the shared memory needs ids unique across the
 * deployment. This view prefixes every id with the organization's id and strips it on the way out.
 */
import type { CircuitKey, CircuitView, HealthMemory, TargetHealth, TargetRef } from '@understudy/engine';

/** Cached wrapped refs beyond this many providers are dropped and rebuilt on demand. */
const MAX_CACHED_PROVIDERS = 10_000;

/** A HealthMemory for one organization over the deployment-wide one. */
export function scopeHealth(inner: HealthMemory, orgId: string): HealthMemory {
  const prefix = `${orgId}/`;
  // The wrapped ref of each target, made once: an answer checks and records its targets several
  // times, and the inner memory looks them up by these strings (V8 keeps a string's hash, so the
  // same string objects hash once). Targets are the organization's models: a bounded set.
  const refs = new Map<string, Map<string, TargetRef>>();
  const wrap = (t: TargetRef): TargetRef => {
    let byModel = refs.get(t.providerId);
    if (!byModel) {
      if (refs.size >= MAX_CACHED_PROVIDERS) refs.clear();
      refs.set(t.providerId, (byModel = new Map()));
    }
    let ref = byModel.get(t.modelId);
    if (!ref)
      byModel.set(t.modelId, (ref = { providerId: prefix + t.providerId, modelId: prefix + t.modelId }));
    return ref;
  };
  const unwrapView = (v: CircuitView): CircuitView => ({
    ...v,
    key: { ...v.key, id: v.key.id.slice(prefix.length) },
  });
  const unwrap = (h: TargetHealth): TargetHealth => ({
    ...h,
    provider: unwrapView(h.provider),
    model: unwrapView(h.model),
  });
  const scoped: HealthMemory = {
    check: async (t) => unwrap(await inner.check(wrap(t))),
    tryAcquireProbe: (t) => inner.tryAcquireProbe(wrap(t)),
    releaseProbe: (t) => inner.releaseProbe(wrap(t)),
    recordSuccess: (t, ms) => inner.recordSuccess(wrap(t), ms),
    recordFailure: (t, f) => inner.recordFailure(wrap(t), f),
    reset: (key: CircuitKey) => inner.reset({ ...key, id: prefix + key.id }),
    snapshot: async () => (await inner.snapshot()).filter((v) => v.key.id.startsWith(prefix)).map(unwrapView),
  };
  // Synchronous only where the inner store is: the engine then checks health without an await.
  const now = inner.checkNow?.bind(inner);
  if (now) scoped.checkNow = (t) => unwrap(now(wrap(t)));
  return scoped;
}
