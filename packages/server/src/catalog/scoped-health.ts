/**
 * Health memory seen through one organization: the engine works with the organization's own
 * model and provider ids (`gpt-4o`, `openai`), while the shared memory needs ids unique across the
 * deployment. This view prefixes every id with the organization's id and strips it on the way out.
 */
import {
  perTarget,
  type CircuitKey,
  type CircuitView,
  type HealthMemory,
  type TargetHealth,
  type TargetRef,
} from '@understudy/engine';

/** A HealthMemory for one organization over the deployment-wide one. */
export function scopeHealth(inner: HealthMemory, orgId: string): HealthMemory {
  const prefix = `${orgId}/`;
  // The wrapped ref of each target, made once: the inner memory then looks it up by the same strings.
  const wrap = perTarget((t): TargetRef => ({
    providerId: prefix + t.providerId,
    modelId: prefix + t.modelId,
  }));
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
