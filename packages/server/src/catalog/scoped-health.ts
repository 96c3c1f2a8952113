/**
 * Health memory seen through one organization: the engine works with the organization's own
 * model and provider ids (`gpt-4o`, `openai`), while the shared memory needs ids unique across the
 * deployment. This view prefixes every id with the organization's id and strips it on the way out.
 */
import type { CircuitKey, CircuitView, HealthMemory, TargetHealth, TargetRef } from '@understudy/engine';

/** A HealthMemory for one organization over the deployment-wide one. */
export function scopeHealth(inner: HealthMemory, orgId: string): HealthMemory {
  const prefix = `${orgId}/`;
  const wrap = (t: TargetRef): TargetRef => ({
    providerId: prefix + t.providerId,
    modelId: prefix + t.modelId,
  });
  const unwrapView = (v: CircuitView): CircuitView => ({
    ...v,
    key: { ...v.key, id: v.key.id.slice(prefix.length) },
  });
  return {
    check: async (t): Promise<TargetHealth> => {
      const h = await inner.check(wrap(t));
      return { ...h, provider: unwrapView(h.provider), model: unwrapView(h.model) };
    },
    tryAcquireProbe: (t) => inner.tryAcquireProbe(wrap(t)),
    releaseProbe: (t) => inner.releaseProbe(wrap(t)),
    recordSuccess: (t, ms) => inner.recordSuccess(wrap(t), ms),
    recordFailure: (t, f) => inner.recordFailure(wrap(t), f),
    reset: (key: CircuitKey) => inner.reset({ ...key, id: prefix + key.id }),
    snapshot: async () => (await inner.snapshot()).filter((v) => v.key.id.startsWith(prefix)).map(unwrapView),
  };
}
