/**
 * RedisHealth against the engine's InMemoryHealth as its model (SPEC §2.5, issue 5): generated
 * sequences of failures, successes, probe claims and releases, sent through two instances sharing
 * one Redis, on a shared virtual clock that the sequence moves forward. After every step both
 * instances' views of every target must equal the single in-process memory's that saw the same
 * steps, and every probe claim must get the same answer: sharing through Redis changes where the
 * breakers live, never what they decide. Two targets share a provider, so provider-wide and
 * model-only failures meet.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { test } from 'node:test';
import { InMemoryHealth, type FailureDetails, type TargetHealth, type TargetRef } from '@understudy/engine';
import fc from 'fast-check';
import pino from 'pino';
import { RedisHealth, RedisLink } from '../src/cluster/index.js';
import { dropRedisPrefix, manualClock, redisOrSkip, REDIS_TEST_URL } from './cluster-support.js';

const TARGETS: TargetRef[] = [
  { providerId: 'org/p', modelId: 'org/m0' },
  { providerId: 'org/p', modelId: 'org/m1' },
];

const failureArb = fc.constantFrom<FailureDetails>(
  { reason: 'provider_error', message: 'HTTP 500', status: 500 },
  { reason: 'overloaded', message: 'HTTP 529', status: 529 },
  { reason: 'unreachable', message: 'refused' },
  { reason: 'timeout', message: 'no headers', timeout: 'connect' },
  { reason: 'timeout', message: 'no first token', timeout: 'first_token' },
  { reason: 'rate_limited', message: 'HTTP 429', status: 429, retryAfterMs: 20_000 },
  { reason: 'rate_limited', message: 'HTTP 429', status: 429 },
  { reason: 'provider_misconfigured', message: 'HTTP 404', status: 404 },
  { reason: 'interrupted', message: 'stalled', timeout: 'stall' },
);

type Step =
  | { op: 'fail'; on: 0 | 1; t: 0 | 1; failure: FailureDetails }
  | { op: 'success'; on: 0 | 1; t: 0 | 1; latencyMs: number }
  | { op: 'probe'; on: 0 | 1; t: 0 | 1 }
  | { op: 'release'; on: 0 | 1; t: 0 | 1 }
  | { op: 'advance'; ms: number };

const on = fc.constantFrom(0 as const, 1 as const);
/** Mostly the first target, so that one target's breakers go through their whole cycle often. */
const tg = fc.oneof(
  { arbitrary: fc.constant(0 as const), weight: 3 },
  { arbitrary: fc.constant(1 as const), weight: 1 },
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('fail' as const), on, t: tg, failure: failureArb }), weight: 4 },
  {
    arbitrary: fc.record({
      op: fc.constant('success' as const),
      on,
      t: tg,
      latencyMs: fc.integer({ min: 1, max: 5_000 }),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant('probe' as const), on, t: tg }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('release' as const), on, t: tg }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 3_000 }), weight: 1 },
        // Past a cooldown (10 s, doubling to 2 min), or the 30 s window.
        { arbitrary: fc.integer({ min: 9_000, max: 130_000 }), weight: 2 },
      ),
    }),
    weight: 2,
  },
);

/**
 * A target's health without the breakers' `updatedAt`: a breaker never written reads as fresh "now"
 * in one store and as of the first call that looked at it in the other, and nothing decides on it.
 */
function decided(h: TargetHealth): unknown {
  const { updatedAt: _p, ...provider } = h.provider;
  const { updatedAt: _m, ...model } = h.model;
  return { ...h, provider, model };
}

async function until(f: () => boolean, ms = 3_000): Promise<boolean> {
  const t0 = performance.now();
  while (!f()) {
    if (performance.now() - t0 > ms) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}

test(
  'RedisHealth decides as one in-process memory would, seen from either instance',
  { timeout: 180_000 },
  async (t) => {
    if (!(await redisOrSkip(t))) return;
    const log = pino({ level: 'silent' });
    const numRuns = Number(process.env.PROPERTY_RUNS ?? 100);
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), async (steps) => {
        const prefix = `understudy-test:${randomBytes(5).toString('hex')}:`;
        const clock = manualClock();
        // Generous timeouts: this is about what is decided, not the 100 ms bound (cluster-health.test).
        const links = await Promise.all(
          ['a', 'b'].map((id) =>
            RedisLink.open({ url: REDIS_TEST_URL, prefix, timeoutMs: 2_000, instanceId: id, log }),
          ),
        );
        try {
          await Promise.all(links.map((l) => l.start()));
          const instances = links.map((l) => new RedisHealth(l, { clock }));
          const model = new InMemoryHealth({ clock });
          for (const [i, s] of steps.entries()) {
            const at = `step ${i + 1} (${JSON.stringify(s)})`;
            if (s.op === 'advance') clock.advance(s.ms);
            else {
              const h = instances[s.on]!;
              const target = TARGETS[s.t]!;
              if (s.op === 'fail') {
                await h.recordFailure(target, s.failure);
                await model.recordFailure(target, s.failure);
              } else if (s.op === 'success') {
                await h.recordSuccess(target, s.latencyMs);
                await model.recordSuccess(target, s.latencyMs);
              } else if (s.op === 'probe') {
                assert.equal(
                  await h.tryAcquireProbe(target),
                  await model.tryAcquireProbe(target),
                  `${at}: probe claim`,
                );
              } else {
                await h.releaseProbe(target);
                await model.releaseProbe(target);
              }
            }
            // Every instance converges on the model's view (the other one through the push).
            const agree = () =>
              instances.every((h) =>
                TARGETS.every((tg) =>
                  isDeepStrictEqual(decided(h.checkNow(tg)), decided(model.checkNow(tg))),
                ),
              );
            if (!(await until(agree))) {
              for (const [n, h] of instances.entries())
                for (const tg of TARGETS)
                  assert.deepEqual(
                    decided(h.checkNow(tg)),
                    decided(model.checkNow(tg)),
                    `${at}: instance ${n}, ${tg.modelId}`,
                  );
            }
            assert.ok(
              links.every((l) => l.up),
              `${at}: Redis stayed up (no local fallback)`,
            );
          }
        } finally {
          await Promise.all(links.map((l) => l.close()));
          await dropRedisPrefix(prefix);
        }
      }),
      { numRuns, includeErrorInReport: true },
    );
  },
);
