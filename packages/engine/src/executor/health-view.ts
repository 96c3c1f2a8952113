/**
 * The executor's view of health memory: checks that never fail or block an answer (a broken store
 * counts as "nothing known"), synchronous when the store keeps a local view.
 */
import type { FailureDetails } from '../errors.js';
import type { HealthMemory, TargetHealth, TargetRef } from '../health/types.js';
import type { Catalog } from '../types/catalog.js';
import type { ModelTarget } from '../types/provider.js';

/** Health calls never fail or block an answer: a broken store counts as "nothing known". */
export async function safe<T>(p: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await p();
  } catch {
    return fallback;
  }
}

/** The health key of a target. */
export const refOf = (t: ModelTarget): TargetRef => ({ providerId: t.provider.id, modelId: t.model.id });

/** The failure to record when health memory says a target is down and no call is made. */
export function knownDown(h: TargetHealth, now: number): FailureDetails {
  const c = h.provider.state !== 'closed' ? h.provider : h.model;
  const reason = c.reason ?? 'unreachable';
  const message = `known to be unavailable${c.lastError ? ` (last error: ${c.lastError})` : ''}`;
  // When it is tried again: a client told so waits that long rather than retrying at once.
  const wait = c.retryAt === undefined ? undefined : c.retryAt - now;
  return wait !== undefined && wait > 0 ? { reason, message, retryAfterMs: wait } : { reason, message };
}

/**
 * True while the target's provider asked to be left alone (a long Retry-After): it is not asked
 * then, even as the only chance of an answer.
 */
export function askedToWait(h: TargetHealth, now: number): boolean {
  return Math.max(h.provider.leftAloneUntil ?? 0, h.model.leftAloneUntil ?? 0) > now;
}

/**
 * A target's health, or undefined when the store fails ("nothing known"). Synchronous when the
 * store keeps a local view: an await per check cost a busy server more than the check itself.
 */
export function checkOf(
  health: HealthMemory,
  ref: TargetRef,
): TargetHealth | undefined | Promise<TargetHealth | undefined> {
  if (!health.checkNow) return safe(() => health.check(ref), undefined);
  try {
    return health.checkNow(ref);
  } catch {
    return undefined;
  }
}

/** Health of every model the backup choice may consider; synchronous when the store allows it. */
export function healthOf(
  health: HealthMemory,
  catalog: Catalog,
  except: string,
): Map<string, TargetHealth> | Promise<Map<string, TargetHealth>> {
  const checks = catalog.models
    .filter((m) => m.enabled && m.id !== except)
    .map((m) => [m.id, checkOf(health, { providerId: m.providerId, modelId: m.id })] as const);
  /** The known ones, in catalog order (the choice's explanation lists them so). */
  const known = (hs: readonly (readonly [string, TargetHealth | undefined])[]) =>
    new Map(hs.filter((p): p is readonly [string, TargetHealth] => p[1] !== undefined));
  const now: [string, TargetHealth | undefined][] = [];
  for (const [id, h] of checks) {
    if (h instanceof Promise)
      return Promise.all(checks.map(async ([i, x]) => [i, await x] as const)).then(known);
    now.push([id, h]);
  }
  return known(now);
}
