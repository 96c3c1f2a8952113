/**
 * The executor with health memory over time (SPEC §2.5), on a virtual clock: a primary that is
 * down for a while and then recovers, answers at generated moments, and a backup that is always
 * up. Whatever the outage's length, its kind and the answers' spacing:
 * - every answer completes (a probe never costs a member more than an ordinary fallback would);
 * - an answer that skips a known-down primary waits for nothing;
 * - during the outage the primary is not hammered: at most the calls that open its breakers, and
 *   then one probe per cooldown (10 s at the shortest);
 * - traffic is back on the primary within the longest cooldown (2 min) of its recovery.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Clock } from '../src/clock.js';
import type { FailureDetails } from '../src/errors.js';
import { createEngine } from '../src/executor/engine.js';
import { DEFAULT_BREAKER_POLICY } from '../src/health/circuit.js';
import { InMemoryHealth } from '../src/health/memory.js';
import type { AnswerResult } from '../src/types/result.js';
import { FakeClient, ask, catalog, healthy, type Step } from './fakes.js';

/** A clock that moves only when told to, or by the time the engine sleeps. No scenario here waits on a timer. */
function virtualClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000;
  return {
    now: () => now,
    advance(ms) {
      now += ms;
    },
    sleep(ms, signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      now += ms;
      return Promise.resolve();
    },
    timer: () => ({ reset() {}, cancel() {} }),
  };
}

/** Failures of a primary that is down, as the provider adapters report them (retried or not, SPEC §2.3). */
const outageArb = fc.constantFrom<FailureDetails>(
  { reason: 'overloaded', message: 'overloaded', status: 529 },
  { reason: 'provider_error', message: 'unavailable', status: 503 },
  { reason: 'provider_error', message: 'internal error', status: 500 },
  { reason: 'unreachable', message: 'connection refused', beforeResponse: true },
  { reason: 'rate_limited', message: 'slow down', status: 429, retryAfterMs: 1_000 },
  { reason: 'rate_limited', message: 'slow down', status: 429 },
);

const scenarioArb = fc.record({
  failure: outageArb,
  /** When the outage starts and how long it lasts, from the first answer (ms). */
  downAt: fc.integer({ min: 0, max: 60_000 }),
  downFor: fc.integer({ min: 1_000, max: 400_000 }),
  /** The time between one answer's start and the next one's: mostly a busy team, now and then a lull. */
  gaps: fc.array(
    fc.oneof(
      { arbitrary: fc.integer({ min: 0, max: 2_000 }), weight: 3 },
      { arbitrary: fc.integer({ min: 2_000, max: 30_000 }), weight: 1 },
    ),
    { minLength: 20, maxLength: 150 },
  ),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

/** The most probes an outage of `ms` can see: one as each cooldown ends, the cooldown doubling up to its cap. */
function probesWithin(ms: number): number {
  const { baseCooldownMs, maxCooldownMs } = DEFAULT_BREAKER_POLICY;
  let probes = 1;
  for (let t = 0, c = baseCooldownMs; t + c <= ms; t += c, c = Math.min(2 * c, maxCooldownMs)) probes++;
  return probes;
}

async function check(s: Scenario): Promise<void> {
  const clock = virtualClock();
  const t0 = clock.now();
  const down = (t: number) => t >= t0 + s.downAt && t < t0 + s.downAt + s.downFor;
  const upAgainAt = t0 + s.downAt + s.downFor;
  const answers: { at: number; result: AnswerResult }[] = [];
  /** Each call to the primary: when, and by which answer. */
  const primaryCalls: { at: number; answer: number }[] = [];
  const client = new FakeClient({
    a1: (): Step[] => {
      primaryCalls.push({ at: clock.now(), answer: answers.length });
      return down(clock.now()) ? [{ type: 'fail', failure: s.failure }] : healthy('From the primary.');
    },
    b1: healthy('From the backup.'),
  });
  const health = new InMemoryHealth({ clock });
  const engine = createEngine({ client, health, clock });
  for (const gap of s.gaps) {
    const at = clock.now();
    let result: AnswerResult | undefined;
    for await (const e of engine.answer({ catalog: catalog(), request: ask(), takeover: 'restart' }))
      if (e.type === 'done' || e.type === 'error') result = e.result;
    assert.ok(result);
    answers.push({ at, result });
    clock.advance(gap);
  }

  for (const [i, { at, result }] of answers.entries()) {
    const when = `answer at +${at - t0} ms`;
    assert.equal(result.status, 'complete', `${when}: every answer completes`);
    if (result.fallback?.skippedByHealth) {
      assert.equal(result.latencyMs, 0, `${when}: skipping a known-down primary costs no wait`);
      assert.ok(!primaryCalls.some((c) => c.answer === i), `${when}: the skipped primary was not called`);
    }
    if (at >= upAgainAt + DEFAULT_BREAKER_POLICY.maxCooldownMs) {
      assert.equal(result.modelId, 'a1', `${when}: back on the primary within 2 min of its recovery`);
      assert.equal(result.fallback, undefined);
    }
  }
  // Calls to the primary while it was down: two answers' worth open the breakers (a quick retry
  // doubles an answer's calls), then one probe per cooldown, the cooldown doubling from 10 s up to
  // 2 min while probes fail.
  const calledWhileDown = primaryCalls.filter((c) => down(c.at)).length;
  const bound = 2 * DEFAULT_BREAKER_POLICY.consecutiveThreshold + probesWithin(s.downFor);
  assert.ok(calledWhileDown <= bound, `primary called ${calledWhileDown} times while down, at most ${bound}`);
}

describe('health memory over an outage and a recovery (SPEC §2.5)', () => {
  it('answers complete, skips cost nothing, the primary is spared while down and used again once up', async () => {
    // PROPERTY_RUNS=5000 for a longer search than the suite's.
    const numRuns = Number(process.env.PROPERTY_RUNS ?? 300);
    await fc.assert(fc.asyncProperty(scenarioArb, check), { numRuns, includeErrorInReport: true });
  });
});
