/**
 * Cancellation and sockets through the engine: 200 paced answers, each stopped mid-stream. Every
 * upstream request is closed (the simulator sees the client abort), nothing falls back, and the
 * heap does not grow without bound.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectedAnswer } from '@understudy/simulator';
import { ask, catalog, consume, model, PROTOCOLS, provider, sleep, startEnv, type Env } from './harness.js';

/** The primary's timeouts here: far past any stall of a busy test machine. */
const CALM = { connectMs: 10_000, firstTokenMs: 10_000, stallMs: 10_000 };

describe('200 answers cancelled mid-stream', () => {
  let env: Env;
  before(async () => {
    env = await startEnv();
  });
  after(async () => {
    await env.close();
  });

  it('closes every upstream request, no backup, bounded heap', async () => {
    const engine = env.engine();
    const cats = PROTOCOLS.map((p) =>
      catalog(
        [provider(env, p.provider, p.type), provider(env, 'bk', 'openai-compatible')],
        // Timeouts long enough that a loaded machine (the whole suite on 2 cores) cannot make a
        // primary look down: this test is about cancellation, and asserts that nothing falls back.
        [
          model('alpha', p.provider, { upstream: 'alpha+tokens=50+delay=10', timeouts: CALM }),
          model('beta', 'bk', { timeouts: CALM }),
        ],
      ),
    );

    /**
     * One answer, aborted at its first text (text deltas of one network read arrive merged, so a
     * count of events says nothing about how far the stream got); returns how much text was shown.
     */
    const one = async (i: number): Promise<string> => {
      const cat = cats[i % cats.length];
      assert.ok(cat);
      const ctl = new AbortController();
      const prompt = `Cancelled answer number ${i}`;
      const c = await consume(
        engine.answer({ catalog: cat, request: ask(prompt), takeover: 'restart', signal: ctl.signal }),
        'streaming',
        () => ctl.abort(),
      );
      assert.equal(c.result.status, 'cancelled', JSON.stringify(c.result.error));
      assert.equal(c.result.fallback, undefined);
      assert.ok(expectedAnswer(prompt, 50).startsWith(c.result.text));
      return c.result.text;
    };

    /** `count` answers, `width` at a time. */
    const batch = async (count: number, width: number, from: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: width }, async () => {
          while (next < count) await one(from + next++);
        }),
      );
    };

    const untilSettled = async () => {
      const deadline = Date.now() + 5000;
      while (env.sim.attempts().some((a) => a.endedAt === undefined) && Date.now() < deadline)
        await sleep(20);
    };

    // Warm-up: JIT, sockets, pools.
    await batch(40, 20, 0);
    await untilSettled();
    env.sim.clearAttempts();
    const heapBefore = process.memoryUsage().heapUsed;

    const t0 = Date.now();
    await batch(200, 20, 1000);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 20_000, `200 cancelled answers took ${elapsed} ms`);
    await untilSettled();

    const attempts = env.sim.attempts();
    assert.equal(attempts.length, 200, 'one upstream request per answer, no retry, no backup');
    assert.equal(env.sim.attempts({ provider: 'bk' }).length, 0, 'no backup attempt');
    const notAborted = attempts.filter((a) => !a.clientAborted);
    assert.equal(
      notAborted.length,
      0,
      `every attempt was closed by the client: ${JSON.stringify(notAborted[0])}`,
    );
    for (const a of attempts) assert.ok(a.tokensSent < 50, 'no answer ran to its end');
    for (const p of PROTOCOLS) assert.ok(env.sim.attempts({ provider: p.provider }).length >= 66);

    const growth = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(growth < 64 * 1024 * 1024, `heap grew by ${Math.round(growth / 1024 / 1024)} MiB`);
  });
});
