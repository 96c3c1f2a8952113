/**
 * SPEC §2.5 end to end: a flapping primary under concurrent traffic. While it is down answers come
 * from the backup, the open breaker lets one probe at a time through, the cooldown doubling is
 * capped, and traffic is back on the primary soon after recovery.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InMemoryHealth, type AnswerResult } from '@understudy/engine';
import { expectedAnswer } from '@understudy/simulator';
import { ask, catalog, consume, model, provider, settled, sleep, startEnv, type Env } from './harness.js';

interface Sample {
  startedAt: number;
  endedAt: number;
  result: AnswerResult;
  prompt: string;
}

describe('health memory with a flapping primary', () => {
  let env: Env;
  before(async () => {
    env = await startEnv();
  });
  after(async () => {
    await env.close();
  });

  for (const down of ['unavailable', 'overloaded'] as const) {
    it(`down (${down}) for 1.5 s under 3 concurrent loops`, async () => {
      env.sim.reset();
      const FLAP_MS = 1500;
      const BASE = 200;
      const MAX = 400;
      const health = new InMemoryHealth({ policy: { baseCooldownMs: BASE, maxCooldownMs: MAX } });
      const engine = env.engine(health);
      const cat = catalog(
        [provider(env, 'oa', 'openai'), provider(env, 'bk', 'openai-compatible')],
        [model('alpha', 'oa'), model('beta', 'bk')],
      );
      const flapAt = Date.now();
      env.sim.setFault({ provider: 'oa', fault: 'flap', down, durationMs: FLAP_MS });
      const flapEnd = flapAt + FLAP_MS;
      const stopAt = flapAt + 3200; // bounded traffic: ≤ 4 s
      const samples: Sample[] = [];
      let maxCooldown = 0;
      const loop = async (n: number) => {
        for (let i = 0; i < 400 && Date.now() < stopAt; i++) {
          const prompt = `Flap ${down} loop ${n} answer ${i}`;
          const startedAt = Date.now();
          const c = await consume(
            engine.answer({ catalog: cat, request: ask(prompt), takeover: 'restart' }),
            'streaming',
          );
          samples.push({ startedAt, endedAt: Date.now(), result: c.result, prompt });
          for (const v of await health.snapshot())
            if (v.cooldownMs !== undefined) maxCooldown = Math.max(maxCooldown, v.cooldownMs);
          await sleep(5);
        }
      };
      await Promise.all([loop(0), loop(1), loop(2)]);

      // Every answer completed with the whole text, from the primary or the backup.
      assert.ok(samples.length > 30, `enough traffic (${samples.length})`);
      for (const s of samples) {
        assert.equal(s.result.status, 'complete', JSON.stringify(s.result.error));
        assert.equal(s.result.text, expectedAnswer(s.prompt));
      }
      // While down: from the backup.
      const whileDown = samples.filter((s) => s.startedAt > flapAt + 50 && s.endedAt < flapEnd - 50);
      assert.ok(whileDown.length > 5);
      for (const s of whileDown)
        assert.equal(s.result.modelId, 'beta', 'answers come from the backup while down');
      // The breaker opened: later answers skipped the primary without a call.
      const skipped = samples.filter((s) => s.result.fallback?.skippedByHealth);
      assert.ok(skipped.length > 0, 'health memory spared the primary');
      const openAt = Math.min(...skipped.map((s) => s.startedAt));

      const primary = (await settled(env.sim, 'oa')).sort((a, b) => a.startedAt - b.startedAt);
      const firstOk = primary.find((a) => a.startedAt >= flapEnd && a.outcome === 'ok');
      assert.ok(firstOk?.endedAt !== undefined, 'the primary answered again after recovery');
      // Back on the primary within ~1 s of its recovery (the capped cooldown at most, plus margin).
      assert.ok(
        firstOk.startedAt - flapEnd < 1000,
        `first primary success ${firstOk.startedAt - flapEnd} ms after recovery`,
      );
      const closeAt = firstOk.endedAt;
      const later = samples.filter((s) => s.startedAt > closeAt + 20);
      assert.ok(later.length > 5, 'traffic after recovery');
      for (const s of later) assert.equal(s.result.modelId, 'alpha', 'traffic is back on the primary');

      // While the breaker was open, at most one primary attempt at a time (the probe).
      const probes = primary.filter((a) => a.startedAt >= openAt && a.startedAt < closeAt);
      assert.ok(probes.length >= 2, `probes ran (${probes.length})`);
      for (let i = 1; i < probes.length; i++) {
        const prev = probes[i - 1];
        const cur = probes[i];
        assert.ok(prev?.endedAt !== undefined && cur);
        assert.ok(cur.startedAt >= prev.endedAt, `probes overlap: ${JSON.stringify([prev, cur])}`);
        // Probes are spaced by the cooldown (≥ base), never closer.
        assert.ok(cur.startedAt - prev.startedAt >= BASE - 5, 'probes wait for the cooldown');
      }
      // Cooldown doubling happened and is capped.
      assert.equal(maxCooldown, MAX, `cooldown doubled up to the cap, never beyond (${maxCooldown})`);
      // A probe never costs more than an ordinary fallback: no quick retry of a probe.
      for (const s of samples) assert.ok(s.result.attempts.length <= 2, JSON.stringify(s.result.attempts));
    });
  }
});
