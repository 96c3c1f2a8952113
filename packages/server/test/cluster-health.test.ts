/**
 * RedisHealth in process (issue 5): two "instances" (two links to one Redis, one through a proxy
 * the test can blackhole). Concurrent writes are counted exactly once each (the engine's rules,
 * arbitrated by compare-and-set), one probe is granted across instances under a storm of claims,
 * every call returns within the 100 ms bound when Redis goes silent (the first ones, which wait for
 * it, included), and local knowledge gathered meanwhile is shared when Redis answers again.
 */
// test-runner: alone (it asserts the SPEC's 100 ms bounds in wall-clock time)
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { FailureDetails, TargetRef } from '@understudy/engine';
import pino from 'pino';
import { RedisHealth, RedisLink } from '../src/cluster/index.js';
import {
  BlackholeProxy,
  dropRedisPrefix,
  freePort,
  redisOrSkip,
  redisReachable,
  REDIS_TEST_URL,
} from './cluster-support.js';

const down: FailureDetails = { reason: 'provider_error', message: 'HTTP 500', status: 500 } as FailureDetails;
const target = (n: string): TargetRef => ({ providerId: `org/p-${n}`, modelId: `org/m-${n}` });

async function waitUntil(what: string, f: () => boolean | Promise<boolean>, ms = 2000): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    if (await f()) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('RedisHealth shares breakers exactly and degrades within its bound', { timeout: 60_000 }, async (t) => {
  if (!(await redisOrSkip(t))) return;
  const url = new URL(REDIS_TEST_URL);
  const proxy = new BlackholeProxy({ host: url.hostname, port: Number(url.port || 6379) });
  await proxy.start();
  const prefix = `understudy-test:${randomBytes(5).toString('hex')}:`;
  const log = pino({ level: 'silent' });
  const mk = async (id: string, redisUrl: string, timeoutMs = 100) => {
    const link = await RedisLink.open({
      url: redisUrl,
      prefix,
      timeoutMs,
      instanceId: id,
      log,
      recheckMs: 50,
    });
    return { link, health: new RedisHealth(link, { policy: { baseCooldownMs: 200 } }) };
  };
  const a = await mk('a', `redis://127.0.0.1:${proxy.port}`);
  const b = await mk('b', REDIS_TEST_URL);
  // Exactness under contention is about the compare-and-set, not the bound: generous timeouts so a
  // loaded test machine cannot turn a slow reply into a local fallback.
  const a2 = await mk('a2', REDIS_TEST_URL, 2000);
  const b2 = await mk('b2', REDIS_TEST_URL, 2000);
  try {
    await Promise.all([a.link.start(), b.link.start(), a2.link.start(), b2.link.start()]);
    assert.ok(a.link.up && b.link.up && a2.link.up && b2.link.up);

    await t.test('concurrent failures from two instances are each counted once', async () => {
      const x = target('x');
      await Promise.all([
        ...Array.from({ length: 5 }, () => a2.health.recordFailure(x, down)),
        ...Array.from({ length: 5 }, () => b2.health.recordFailure(x, down)),
      ]);
      await waitUntil('both agree', async () => {
        const [ha, hb] = [await a2.health.check(x), await b2.health.check(x)];
        return ha.model.consecutiveFailures === hb.model.consecutiveFailures;
      });
      const h = await b2.health.check(x);
      assert.equal(h.available, false);
      assert.equal(h.model.consecutiveFailures, 10, 'every failure counted once');
      assert.equal(a2.link.localFallbacks + b2.link.localFallbacks, 0);
    });

    await t.test('one probe across instances', async () => {
      const x = target('x');
      await waitUntil(
        'probe due',
        async () => (await a2.health.check(x)).probeDue && (await b2.health.check(x)).probeDue,
      );
      const claims = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a2 : b2).health.tryAcquireProbe(x)),
      );
      assert.equal(claims.filter(Boolean).length, 1);
      await a2.health.recordSuccess(x, 50);
      await waitUntil('closed on b', async () => (await b2.health.check(x)).available);
    });

    await t.test('Redis silent: every call answers locally within the bound', async () => {
      const y = target('y');
      const times: { call: string; ms: number }[] = [];
      const timed = async <T>(call: string, p: () => Promise<T>): Promise<T> => {
        const t0 = performance.now();
        const r = await p();
        times.push({ call, ms: performance.now() - t0 });
        return r;
      };
      /** Makes Redis silent while `a` still believes it answers: its next call goes to Redis. */
      const silence = () => {
        assert.equal(a.link.up, true, 'a still trusts Redis');
        proxy.blackhole();
      };
      /** Redis answers again: `a` shares again within a bound. */
      const answerAgain = async () => {
        proxy.resume();
        const ms = await waitUntil('a shares again', () => a.link.up, 2000);
        t.diagnostic(`link back ${ms.toFixed(0)} ms after Redis answered again`);
        assert.ok(ms < 2000, 'sharing resumes within 2 s of Redis answering');
      };

      // Writes: the first one goes to the silent Redis and waits for the bound, the others are
      // answered locally at once (the link is known down).
      silence();
      await timed('recordFailure (first, to the silent Redis)', () => a.health.recordFailure(y, down));
      assert.equal(a.link.up, false, 'the first call found Redis silent');
      assert.ok(times[0]!.ms >= a.link.waitMs - 2, 'the first call did wait for Redis');
      for (let i = 0; i < 2; i++) await timed('recordFailure', () => a.health.recordFailure(y, down));
      assert.equal((await timed('check', () => a.health.check(y))).available, false, 'opened locally');
      assert.equal((await b.health.check(y)).available, true, 'b could not hear it');
      await answerAgain();
      await waitUntil('b sees what a learnt alone', async () => !(await b.health.check(y)).available, 2000);

      // The probe claim, the one call a request waits for: first to the silent Redis, then local.
      await waitUntil('probe due on a', async () => (await a.health.check(y)).probeDue, 2000);
      silence();
      assert.equal(
        await timed('tryAcquireProbe (first, to the silent Redis)', () => a.health.tryAcquireProbe(y)),
        true,
        'probe claimed locally',
      );
      assert.equal(a.link.up, false, 'the claim found Redis silent');
      assert.ok(times.at(-1)!.ms >= a.link.waitMs - 2, 'the claim did wait for Redis');
      await timed('releaseProbe', () => a.health.releaseProbe(y));
      assert.equal(await timed('tryAcquireProbe', () => a.health.tryAcquireProbe(y)), true, 'released');
      await timed('recordSuccess', () => a.health.recordSuccess(y, 20));
      assert.equal((await a.health.check(y)).available, true, 'closed locally');

      t.diagnostic(
        `calls with Redis blackholed: ${times.map((x) => `${x.call} ${x.ms.toFixed(1)} ms`).join(', ')}`,
      );
      // SPEC §2.5: a call answers from local memory within 100 ms. The link waits 60 ms for Redis
      // (RedisLink.waitMs) and keeps the remaining 40 ms for the timer firing late and the local
      // answer: that is the scheduler margin, inside the bound, so the bound itself is asserted.
      for (const x of times)
        assert.ok(x.ms <= 100, `${x.call} answered within 100 ms (${x.ms.toFixed(1)} ms)`);

      await answerAgain();
      await waitUntil(
        'b sees the circuit a closed alone',
        async () => (await b.health.check(y)).available,
        2000,
      );
    });
  } finally {
    await Promise.all([a, b, a2, b2].map((x) => x.link.close()));
    await proxy.close();
    await dropRedisPrefix(prefix).catch(() => undefined);
  }
});

/** A private redis-server this test can stop and start (skipped when the binary is absent, except in CI). */
async function privateRedis(port: number): Promise<ChildProcess> {
  const p = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const t0 = Date.now();
  while (Date.now() - t0 < 5000 && !(await redisReachable(`redis://127.0.0.1:${port}`)))
    await new Promise((r) => setTimeout(r, 50));
  return p;
}

test(
  'Redis stopped and restarted: local memory at once, sharing resumes by itself',
  { timeout: 60_000 },
  async (t) => {
    if (spawnSync('redis-server', ['--version']).status !== 0) {
      if (process.env.CI === 'true') throw new Error('redis-server not installed (required in CI)');
      return t.skip('redis-server not installed: skipped');
    }
    const port = await freePort();
    let server = await privateRedis(port);
    const log = pino({ level: 'silent' });
    const mk = async (id: string) => {
      const link = await RedisLink.open({
        url: `redis://127.0.0.1:${port}`,
        prefix: 'us:',
        timeoutMs: 100,
        instanceId: id,
        log,
        recheckMs: 50,
      });
      return { link, health: new RedisHealth(link) };
    };
    const a = await mk('a');
    const b = await mk('b');
    try {
      await Promise.all([a.link.start(), b.link.start()]);
      assert.ok(a.link.up && b.link.up);
      const z = target('z');
      server.kill('SIGKILL');
      await new Promise((r) => server.once('exit', r));
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await a.health.recordFailure(z, down);
        times.push(performance.now() - t0);
      }
      t.diagnostic(`writes with Redis stopped: ${times.map((x) => x.toFixed(1)).join(', ')} ms`);
      assert.ok(
        times.every((x) => x <= 100),
        'each answered locally within 100 ms',
      );
      assert.equal((await a.health.check(z)).available, false);
      server = await privateRedis(port);
      // Measured from when Redis answers again (privateRedis waits for that).
      const back = await waitUntil('both links up', () => a.link.up && b.link.up, 10_000);
      t.diagnostic(`sharing resumed ${back.toFixed(0)} ms after Redis restarted (empty)`);
      assert.ok(back < 3000, `sharing resumes within 3 s of Redis answering again (${back.toFixed(0)} ms)`);
      const learnt = await waitUntil(
        'b learns what a knew alone',
        async () => !(await b.health.check(z)).available,
        2000,
      );
      assert.ok(learnt < 2000, 'b learns it within 2 s of the links being up');
    } finally {
      await a.link.close();
      await b.link.close();
      server.kill('SIGKILL');
    }
  },
);
