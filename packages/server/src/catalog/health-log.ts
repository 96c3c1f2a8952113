/**
 * Log lines an operator can alert on when health memory changes (SPEC §2.5): a circuit opening
 * (warn), closing again (info), and a provider answering 401/402/403/404, `provider_misconfigured`
 * ("also flagged to admins": warn, once per opening, not once per request). Each line carries an
 * `event` field (`circuit_opened`, `circuit_closed`, `provider_misconfigured`) to match on.
 *
 * Wraps one organization's view of health memory. Healthy answers pay nothing for it: their
 * success is compared with the state before it only while some target of the organization was
 * last seen unavailable, and only for such a target. Failures (rare, and slow anyway) read the
 * state before and after. Lines never carry a provider's error message: some echo part of the key.
 */
import {
  perTarget,
  type CircuitView,
  type FailureDetails,
  type HealthMemory,
  type TargetHealth,
  type TargetRef,
} from '@understudy/engine';
import type { Logger } from 'pino';

/** What this instance last said about one breaker: the opening it announced, and whether it closed. */
interface Announced {
  openedAt: number;
  closed: boolean;
}

/** A HealthMemory that logs the transitions of `inner` (one organization's view) on `log`. */
export function logHealthChanges(inner: HealthMemory, orgId: string, log: Logger): HealthMemory {
  // Targets last seen with a breaker not closed: only their successes can close one.
  const seenDown = perTarget((): { down: boolean } => ({ down: false }));
  let watching = 0;
  const watch = (t: TargetRef, h: TargetHealth): TargetHealth => {
    if (!h.available) {
      const s = seenDown(t);
      if (!s.down) {
        s.down = true;
        watching++;
      }
    }
    return h;
  };
  const unwatch = (t: TargetRef): void => {
    const s = seenDown(t);
    if (s.down) {
      s.down = false;
      watching--;
    }
  };
  // By breaker: with Redis, two failures recorded at once both see the breaker closed before and
  // open after, and a breaker opened on another instance is pushed here; each opening is told once.
  const announced = new Map<string, Announced>();
  const now = inner.checkNow?.bind(inner);
  const read = (t: TargetRef): TargetHealth | Promise<TargetHealth> => (now ? now(t) : inner.check(t));

  const fields = (t: TargetRef, v: CircuitView) => ({
    org: orgId,
    scope: v.key.scope,
    provider: t.providerId,
    model: t.modelId,
  });

  const opened = (t: TargetRef, before: CircuitView, after: CircuitView, f: FailureDetails): boolean => {
    if (after.state !== 'open' || after.openedAt === undefined || before.openedAt === after.openedAt)
      return false;
    const name = `${after.key.scope}:${after.key.id}`;
    if (announced.get(name)?.openedAt === after.openedAt) return false;
    announced.set(name, { openedAt: after.openedAt, closed: false });
    log.warn(
      {
        event: 'circuit_opened',
        ...fields(t, after),
        reason: after.reason ?? f.reason,
        ...(f.status !== undefined && { status: f.status }),
        ...(f.code !== undefined && { code: f.code }),
        ...(after.retryAt !== undefined && { retryInMs: Math.max(0, after.retryAt - after.updatedAt) }),
      },
      `circuit opened: ${after.key.scope} ${after.key.id} (${after.reason ?? f.reason}); its requests go to a backup until a probe succeeds`,
    );
    return true;
  };

  const closed = (t: TargetRef, before: CircuitView, after: CircuitView): void => {
    if (before.state === 'closed' || after.state !== 'closed') return;
    const name = `${after.key.scope}:${after.key.id}`;
    const openedAt = before.openedAt ?? 0;
    const last = announced.get(name);
    if (last?.closed && last.openedAt === openedAt) return;
    announced.set(name, { openedAt, closed: true });
    if (!log.isLevelEnabled('info')) return;
    log.info(
      {
        event: 'circuit_closed',
        ...fields(t, after),
        ...(before.openedAt !== undefined && { openForMs: Math.max(0, after.updatedAt - before.openedAt) }),
      },
      `circuit closed: ${after.key.scope} ${after.key.id} answers again`,
    );
  };

  const failed = async (t: TargetRef, f: FailureDetails): Promise<void> => {
    const before = await read(t);
    await inner.recordFailure(t, f);
    const after = watch(t, await read(t));
    const any = [opened(t, before.provider, after.provider, f), opened(t, before.model, after.model, f)];
    if (f.reason === 'provider_misconfigured' && any.some(Boolean)) {
      log.warn(
        {
          event: 'provider_misconfigured',
          org: orgId,
          provider: t.providerId,
          model: t.modelId,
          ...(f.status !== undefined && { status: f.status }),
          ...(f.code !== undefined && { code: f.code }),
        },
        `provider ${t.providerId} is misconfigured: it answered ${f.status ?? 'an error'} for model ${t.modelId}; check its key, billing or model name (flagged to admins in Provider status)`,
      );
    }
  };

  const succeeded = async (t: TargetRef, latencyMs: number): Promise<void> => {
    const before = await read(t);
    await inner.recordSuccess(t, latencyMs);
    const after = await read(t);
    if (after.available) unwatch(t);
    closed(t, before.provider, after.provider);
    closed(t, before.model, after.model);
  };

  const logged: HealthMemory = {
    check: async (t) => watch(t, await inner.check(t)),
    tryAcquireProbe: (t) => inner.tryAcquireProbe(t),
    releaseProbe: (t) => inner.releaseProbe(t),
    recordSuccess: (t, ms) =>
      watching === 0 || !seenDown(t).down ? inner.recordSuccess(t, ms) : succeeded(t, ms),
    recordFailure: failed,
    reset: (key) => inner.reset(key),
    snapshot: () => inner.snapshot(),
  };
  if (now) logged.checkNow = (t) => watch(t, now(t));
  return logged;
}
