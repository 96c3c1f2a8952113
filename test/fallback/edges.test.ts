/**
 * Edges around the matrix: a slow reader is not a stalled provider, cancellation at every stage
 * (waiting for headers, during a Retry-After wait, while the backup streams), and a cancelled
 * probe gives its slot back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InMemoryHealth } from '@understudy/engine';
import { expectedAnswer } from '@understudy/simulator';
import {
  ask,
  catalog,
  consume,
  model,
  PROTOCOLS,
  provider,
  run,
  settled,
  sleep,
  suiteEnv,
  type Protocol,
} from './harness.js';

describe('edges of fallback', () => {
  const env = suiteEnv();

  const cat = (p: Protocol, upstream = 'alpha') =>
    catalog(
      [provider(env, p.provider, p.type), provider(env, 'bk', 'openai-compatible')],
      [
        model('alpha', p.provider, { upstream }),
        model('beta', 'bk', { upstream: 'beta+tokens=50+delay=10' }),
      ],
    );

  /** Cancels `ms` after the start; returns the result and when the abort happened. */
  async function cancelAfter(p: Protocol, ms: number, health?: InMemoryHealth, upstream?: string) {
    const ctl = new AbortController();
    let abortedAt = 0;
    const timer = setTimeout(() => {
      abortedAt = Date.now();
      ctl.abort();
    }, ms);
    const c = await consume(
      env.engine(health).answer({
        catalog: cat(p, upstream),
        request: ask('Cancel me'),
        takeover: 'restart',
        signal: ctl.signal,
      }),
      'streaming',
    );
    clearTimeout(timer);
    return { c, abortedAt, endedAt: Date.now() };
  }

  for (const p of PROTOCOLS) {
    it(`${p.name}: a slow reader (pauses longer than the stall timeout) is not a stall`, async () => {
      const prompt = `Slow reader ${p.name}`;
      const events = env
        .engine()
        .answer({ catalog: cat(p, 'alpha+tokens=3'), request: ask(prompt), takeover: 'restart' });
      let text = '';
      let final: string | undefined;
      for await (const e of events) {
        if (e.type === 'text') {
          text += e.text;
          await sleep(550); // > stallMs 400 and > firstTokenMs 400
        }
        if (e.type === 'done' || e.type === 'error') {
          assert.equal(e.result.status, 'complete', JSON.stringify(e.result.error));
          assert.equal(e.result.modelId, 'alpha');
          assert.equal(e.result.fallback, undefined);
          final = e.result.text;
        }
      }
      assert.equal(text, expectedAnswer(prompt, 3));
      assert.equal(final, text);
      assert.equal((await settled(env.sim, 'bk')).length, 0);
    });

    it(`${p.name}: cancelled while waiting for headers`, async () => {
      env.sim.setFault({ provider: p.provider, fault: 'no_response' });
      const { c, abortedAt, endedAt } = await cancelAfter(p, 150);
      assert.equal(c.result.status, 'cancelled');
      assert.ok(endedAt - abortedAt < 300, `ended ${endedAt - abortedAt} ms after the abort`);
      const [a] = await settled(env.sim, p.provider);
      assert.equal(a?.clientAborted, true);
      assert.equal((await settled(env.sim, 'bk')).length, 0, 'no backup');
    });

    it(`${p.name}: cancelled during a Retry-After wait, no retry is sent`, async () => {
      env.sim.setFault({ provider: p.provider, fault: 'rate_limit', retryAfter: 1 });
      const { c, abortedAt, endedAt } = await cancelAfter(p, 300);
      assert.equal(c.result.status, 'cancelled');
      assert.ok(endedAt - abortedAt < 300, `ended ${endedAt - abortedAt} ms after the abort`);
      await sleep(1000); // past the would-be retry
      assert.equal(env.sim.attempts({ provider: p.provider }).length, 1, 'no retry after the cancel');
      assert.equal(env.sim.attempts({ provider: 'bk' }).length, 0, 'no backup');
    });

    it(`${p.name}: cancelled while the backup streams`, async () => {
      env.sim.setFault({ provider: p.provider, fault: 'unavailable' });
      const ctl = new AbortController();
      let abortedAt = 0;
      const c = await consume(
        env.engine().answer({
          catalog: cat(p),
          request: ask('Cancel the backup'),
          takeover: 'restart',
          signal: ctl.signal,
        }),
        'streaming',
        () => {
          if (abortedAt === 0) {
            abortedAt = Date.now();
            ctl.abort();
          }
        },
      );
      assert.equal(c.result.status, 'cancelled');
      assert.equal(
        c.result.fallback?.backupModelId,
        'beta',
        'the record names the backup that was streaming',
      );
      assert.ok(c.fallbackAt >= 0);
      const b = await settled(env.sim, 'bk');
      assert.equal(b.length, 1);
      assert.equal(b[0]?.clientAborted, true);
      assert.ok(b[0]?.endedAt !== undefined && b[0].endedAt - abortedAt < 300);
    });
  }

  it('a 429 with Retry-After 3 s (the limit) is still retried, after exactly 3 s', async () => {
    const p = PROTOCOLS[0];
    env.sim.setFault({ provider: p.provider, fault: 'rate_limit', retryAfter: 3 });
    const c = await run(env.engine(), cat(p), ask('Boundary'), 'non-streaming');
    assert.equal(c.result.status, 'complete');
    assert.equal(c.result.modelId, 'beta');
    assert.equal(c.result.fallback?.reason, 'rate_limited');
    const tried = await settled(env.sim, p.provider);
    assert.equal(tried.length, 2);
    const gap = (tried[1]?.startedAt ?? 0) - (tried[0]?.startedAt ?? 0);
    assert.ok(gap >= 3000 && gap < 3500, `retried after ${gap} ms`);
  });

  it('a probe cancelled before any content gives its slot back', async () => {
    const p = PROTOCOLS[0];
    const health = new InMemoryHealth({ policy: { baseCooldownMs: 100 } });
    const ref = { providerId: p.provider, modelId: 'alpha' };
    for (let i = 0; i < 3; i++)
      await health.recordFailure(ref, { reason: 'provider_error', status: 500, message: 'down' });
    assert.equal((await health.check(ref)).available, false);
    await sleep(150);
    assert.equal((await health.check(ref)).probeDue, true);
    // The probe hangs before its first token and the member stops it.
    env.sim.setFault({ provider: p.provider, fault: 'no_first_token', times: 1 });
    const first = await cancelAfter(p, 150, health);
    assert.equal(first.c.result.status, 'cancelled');
    assert.equal(first.c.result.attempts[0]?.probe, true, 'that answer was the probe');
    // The next answer may probe at once (no 150 s lease left behind) and finds the primary healthy.
    const second = await run(env.engine(health), cat(p), ask('After the probe'), 'non-streaming');
    assert.equal(second.result.status, 'complete');
    assert.equal(second.result.modelId, 'alpha', 'the slot was released and the next probe succeeded');
    assert.equal(second.result.attempts[0]?.probe, true);
    assert.equal((await health.check(ref)).available, true);
  });
});
