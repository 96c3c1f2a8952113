import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'node:test';
import {
  DEFAULT_BREAKER_POLICY as P,
  freshBreaker,
  onFailure,
  onSuccess,
  probeDue,
  scopesFor,
  startProbe,
  endProbeUnused,
  viewOf,
  claimProbe,
  type BreakerState,
} from '../src/health/circuit.js';
import { systemClock, type Clock } from '../src/clock.js';
import { InMemoryHealth, keysOf, keyString } from '../src/health/memory.js';
import type { CircuitKey, CircuitView, TargetRef } from '../src/health/types.js';
import type { FailureDetails } from '../src/errors.js';

const down: FailureDetails = { reason: 'provider_error', message: 'HTTP 500', status: 500 };

describe('circuit breaker rules (SPEC §2.5)', () => {
  it('opens after 3 failures in a row, not before', () => {
    let s = freshBreaker(0);
    s = onFailure(s, down, 1, P);
    s = onFailure(s, down, 2, P);
    assert.equal(s.state, 'closed');
    s = onFailure(s, down, 3, P);
    assert.equal(s.state, 'open');
    assert.equal(s.retryAt, 3 + P.baseCooldownMs);
  });

  it('opens when half of at least 5 outcomes in 30 s failed', () => {
    let s = freshBreaker(0);
    s = onFailure(s, down, 1, P);
    s = onSuccess(s, 100, 2, P);
    s = onFailure(s, down, 3, P);
    s = onSuccess(s, 100, 4, P);
    assert.equal(s.state, 'closed');
    s = onFailure(s, down, 5, P); // 3 of 5 failed, never 3 in a row
    assert.equal(s.state, 'open');
  });

  it('forgets outcomes older than the window', () => {
    let s = freshBreaker(0);
    s = onFailure(s, down, 0, P);
    s = onSuccess(s, 100, 1, P);
    s = onFailure(s, down, 2, P);
    s = onSuccess(s, 100, 3, P);
    s = onFailure(s, down, 40_000, P); // the first four are out of the window
    assert.equal(s.state, 'closed');
  });

  it('opens at once, for that long, on a Retry-After longer than the quick-retry limit', () => {
    const s = onFailure(
      freshBreaker(0),
      { reason: 'rate_limited', message: '429', status: 429, retryAfterMs: 45_000 },
      10,
      P,
    );
    assert.equal(s.state, 'open');
    assert.equal(s.retryAt, 10 + 45_000);
    assert.equal(s.leftAloneUntil, 10 + 45_000, 'the provider asked to be left alone that long');
    assert.equal(onSuccess(s, 5, 20, P).leftAloneUntil, undefined, 'until it answers again');
    const short = onFailure(
      freshBreaker(0),
      { reason: 'rate_limited', message: '429', status: 429, retryAfterMs: 2_000 },
      10,
      P,
    );
    assert.equal(short.state, 'closed');
    assert.equal(short.leftAloneUntil, undefined, 'a short Retry-After asks for no leave');
  });

  it('cooldown doubles while probes fail, capped at 2 minutes; success closes and resets', () => {
    let s = freshBreaker(0);
    for (let i = 0; i < 3; i++) s = onFailure(s, down, i, P);
    const cooldowns: number[] = [s.cooldownMs ?? 0];
    let now = 0;
    for (let i = 0; i < 6; i++) {
      now = s.retryAt ?? 0;
      assert.equal(probeDue(s, now - 1), false);
      assert.equal(probeDue(s, now), true);
      s = startProbe(s, now, P);
      assert.equal(s.state, 'half_open');
      assert.equal(probeDue(s, now + 1), false, 'one probe at a time');
      s = onFailure(s, down, now + 5, P);
      cooldowns.push(s.cooldownMs ?? 0);
    }
    assert.deepEqual(cooldowns, [10_000, 20_000, 40_000, 80_000, 120_000, 120_000, 120_000]);
    s = startProbe(s, s.retryAt ?? 0, P);
    s = onSuccess(s, 200, (s.probeUntil ?? 0) - P.probeLeaseMs + 10, P);
    assert.equal(s.state, 'closed');
    assert.equal(s.consecutiveFailures, 0);
    assert.equal(s.cooldownMs, undefined);
  });

  it('a probe slot given back unused lets the next caller probe at once; a lost prober times out', () => {
    let s = freshBreaker(0);
    for (let i = 0; i < 3; i++) s = onFailure(s, down, i, P);
    const t = s.retryAt ?? 0;
    s = startProbe(s, t, P);
    assert.equal(probeDue(endProbeUnused(s, t + 1), t + 1), true);
    assert.equal(probeDue(s, t + P.probeLeaseMs), true, 'the lease ran out');
  });

  it('failures count against the provider when it is down as a whole, else the model', () => {
    assert.deepEqual(scopesFor({ reason: 'unreachable', message: '' }), ['provider', 'model']);
    assert.deepEqual(scopesFor({ reason: 'overloaded', message: '' }), ['provider', 'model']);
    assert.deepEqual(scopesFor({ reason: 'rate_limited', message: '' }), ['model']);
    assert.deepEqual(scopesFor({ reason: 'timeout', message: '', timeout: 'first_token' }), ['model']);
    assert.deepEqual(scopesFor({ reason: 'timeout', message: '', timeout: 'connect' }), [
      'provider',
      'model',
    ]);
    assert.deepEqual(scopesFor({ reason: 'provider_misconfigured', message: '', status: 404 }), ['model']);
    assert.deepEqual(scopesFor({ reason: 'provider_misconfigured', message: '', status: 401 }), [
      'provider',
      'model',
    ]);
    assert.deepEqual(scopesFor({ reason: 'context_too_long', message: '' }), []);
  });
});

describe('InMemoryHealth', () => {
  it('a provider-wide failure makes every model of that provider unavailable', async () => {
    const h = new InMemoryHealth();
    for (let i = 0; i < 3; i++)
      await h.recordFailure(
        { providerId: 'p', modelId: 'm1' },
        { reason: 'unreachable', message: 'refused' },
      );
    const other = await h.check({ providerId: 'p', modelId: 'm2' });
    assert.equal(other.available, false);
    assert.equal(other.provider.reason, 'unreachable');
    assert.equal((await h.check({ providerId: 'q', modelId: 'm3' })).available, true);
  });

  it('only one caller gets the probe; reset forgets a breaker', async () => {
    const h = new InMemoryHealth({ policy: { baseCooldownMs: 0 } });
    const t = { providerId: 'p', modelId: 'm' };
    for (let i = 0; i < 3; i++) await h.recordFailure(t, { reason: 'overloaded', message: '529' });
    const claims = await Promise.all([h.tryAcquireProbe(t), h.tryAcquireProbe(t), h.tryAcquireProbe(t)]);
    assert.deepEqual(claims.filter(Boolean).length, 1);
    await h.reset({ scope: 'provider', id: 'p' });
    await h.reset({ scope: 'model', id: 'm' });
    assert.equal((await h.check(t)).available, true);
  });
});

describe('the outcome window, kept in one pass', () => {
  it('equals "those inside the window, the newest 50" for any history, in or out of order', () => {
    // Outcomes may be out of time order in a shared store (several instances' clocks).
    const outcome = fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.boolean());
    fc.assert(
      fc.property(
        fc.array(outcome, { maxLength: 120 }),
        fc.integer({ min: 0, max: 130_000 }),
        (history, now) => {
          const s = { ...freshBreaker(0), outcomes: history as [number, boolean][] };
          const from = now - P.windowMs;
          const expected = [...history, [now, true] as [number, boolean]]
            .filter(([t]) => t >= from)
            .slice(-50);
          assert.deepEqual(onSuccess(s, 10, now, P).outcomes, expected);
          const inWindow = history.filter(([t]) => t >= from);
          const v = viewOf({ scope: 'model', id: 'm' }, s, now, P);
          assert.equal(v.recentFailures, inWindow.filter(([, ok]) => !ok).length);
          assert.equal(v.recentSuccesses, inWindow.filter(([, ok]) => ok).length);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('InMemoryHealth, with its keys made once per target', () => {
  /** The plain reference: the same rules over a Map keyed by each call's freshly built key strings. */
  class Reference {
    readonly m = new Map<string, { key: CircuitKey; s: BreakerState }>();
    get(k: CircuitKey, now: number) {
      return this.m.get(keyString(k))?.s ?? freshBreaker(now);
    }
    put(k: CircuitKey, s: BreakerState) {
      this.m.set(keyString(k), { key: k, s });
    }
  }

  it('answers as a plain map of breakers would, over any sequence of calls', async () => {
    const target = fc.record({
      providerId: fc.constantFrom('p', 'q'),
      modelId: fc.constantFrom('m1', 'm2', 'm3'),
    });
    const failure = fc.constantFrom<FailureDetails>(
      { reason: 'unreachable', message: 'refused' },
      { reason: 'rate_limited', message: '429', status: 429 },
      { reason: 'provider_misconfigured', message: '404', status: 404 },
    );
    const op = fc.oneof(
      fc.record({ kind: fc.constant('success' as const), t: target, ms: fc.integer({ min: 1, max: 500 }) }),
      fc.record({ kind: fc.constant('failure' as const), t: target, f: failure }),
      fc.record({ kind: fc.constant('probe' as const), t: target }),
      fc.record({ kind: fc.constant('release' as const), t: target }),
      fc.record({
        kind: fc.constant('reset' as const),
        key: fc.oneof(
          fc.record({ scope: fc.constant('provider' as const), id: fc.constantFrom('p', 'q') }),
          fc.record({ scope: fc.constant('model' as const), id: fc.constantFrom('m1', 'm2', 'm3') }),
        ),
      }),
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 15_000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        let now = 1_000;
        const clock: Clock = { ...systemClock, now: () => now };
        const h = new InMemoryHealth({ clock });
        const ref = new Reference();
        const keys = (t: TargetRef) => keysOf({ ...t });
        for (const o of ops) {
          if (o.kind === 'wait') now += o.ms;
          else if (o.kind === 'success') {
            h.successNow({ ...o.t }, o.ms);
            for (const k of keys(o.t)) ref.put(k, onSuccess(ref.get(k, now), o.ms, now, P));
          } else if (o.kind === 'failure') {
            h.failureNow({ ...o.t }, o.f);
            for (const k of keys(o.t))
              if (scopesFor(o.f).includes(k.scope)) ref.put(k, onFailure(ref.get(k, now), o.f, now, P));
          } else if (o.kind === 'probe') {
            const next = claimProbe(
              keys(o.t).map((k) => ref.get(k, now)),
              now,
              P,
            );
            if (next) keys(o.t).forEach((k, i) => next[i] && ref.put(k, next[i]!));
            assert.equal(h.acquireProbeNow({ ...o.t }), next !== undefined);
          } else if (o.kind === 'release') {
            await h.releaseProbe({ ...o.t });
            for (const k of keys(o.t)) ref.put(k, endProbeUnused(ref.get(k, now), now));
          } else {
            await h.reset({ ...o.key });
            ref.m.delete(keyString(o.key));
          }
          for (const t of [
            { providerId: 'p', modelId: 'm1' },
            { providerId: 'q', modelId: 'm3' },
          ]) {
            const [pk, mk] = keys(t);
            const ps = ref.get(pk, now);
            const ms = ref.get(mk, now);
            const available = ps.state === 'closed' && ms.state === 'closed';
            const due = [ps, ms].every((s) => s.state === 'closed' || probeDue(s, now));
            assert.deepEqual(h.checkNow(t), {
              provider: viewOf(pk, ps, now, P),
              model: viewOf(mk, ms, now, P),
              available,
              probeDue: !available && due,
            });
          }
        }
        const byKey = (a: CircuitView, b: CircuitView) => keyString(a.key).localeCompare(keyString(b.key));
        const expected = [...ref.m.values()].map(({ key, s }) => viewOf(key, s, now, P)).sort(byKey);
        assert.deepEqual((await h.snapshot()).sort(byKey), expected);
      }),
      { numRuns: 300 },
    );
  });
});
