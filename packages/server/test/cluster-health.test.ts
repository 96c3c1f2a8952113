/**
 * RedisHealth in process (issue 5): two "instances" (two links to one Redis, one through a proxy
 * the test can blackhole). Concurrent writes are counted exactly once each (the engine's rules,
 * arbitrated by compare-and-set), one probe is granted across instances under a storm of claims,
 * every call returns within the 100 ms bound when Redis goes silent, and local knowledge gathered
 * meanwhile is shared when Redis answers again.
 */
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
  if (!(await redisReachable())) {
    if (process.env.CI === 'true')
      throw new Error(`Redis not reachable at ${REDIS_TEST_URL} (required in CI)`);
    return t.skip(`Redis not reachable at ${REDIS_TEST_URL}: skipped`);
  }
  const url = new URL(REDIS_TEST_URL);
  const proxy = new BlackholeProxy({ host: url.hostname, port: Number(url.port || 6379) });
  await proxy.start();
  const prefix = `understudy-test:${randomBytes(5).toString('hex')}:`;
  const log = pino({ level: 'silent' });
  const mk = (id: string, redisUrl: string, timeoutMs = 100) => {
    const link = new RedisLink({ url: redisUrl, prefix, timeoutMs, instanceId: id, log, recheckMs: 50 });
    return { link, health: new RedisHealth(link, { policy: { baseCooldownMs: 200 } }) };
  };
  const a = mk('a', `redis://127.0.0.1:${proxy.port}`);
  const b = mk('b', REDIS_TEST_URL);
  // Exactness under contention is about the compare-and-set, not the bound: generous timeouts so a
  // loaded test machine cannot turn a slow reply into a local fallback.
  const a2 = mk('a2', REDIS_TEST_URL, 2000);
  const b2 = mk('b2', REDIS_TEST_URL, 2000);
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
      proxy.blackhole();
      const times: number[] = [];
      const timed = async <T>(p: () => Promise<T>): Promise<T> => {
        const t0 = performance.now();
        const r = await p();
        times.push(performance.now() - t0);
        return r;
      };
      for (let i = 0; i < 3; i++) await timed(() => a.health.recordFailure(y, down));
      assert.equal((await timed(() => a.health.check(y))).available, false, 'opened locally');
      await new Promise((r) => setTimeout(r, 250));
      assert.equal(await timed(() => a.health.tryAcquireProbe(y)), true, 'local probe claim');
      await timed(() => a.health.releaseProbe(y));
      t.diagnostic(`calls with Redis blackholed: max ${Math.max(...times).toFixed(1)} ms`);
      // The bound is 100 ms; the slack is for timers firing late on a loaded test machine.
      assert.ok(Math.max(...times) <= 160, `bounded: ${times.map((x) => x.toFixed(0)).join(', ')}`);
      assert.equal(a.link.up, false);
      assert.equal((await b.health.check(y)).available, true, 'b could not hear it');

      proxy.resume();
      const ms = await waitUntil('a shares again', () => a.link.up, 5000);
      t.diagnostic(`link back ${ms.toFixed(0)} ms after Redis answered again`);
      await waitUntil('b sees what a learnt alone', async () => !(await b.health.check(y)).available, 2000);
    });
  } finally {
    await Promise.all([a, b, a2, b2].map((x) => x.link.close()));
    await proxy.close();
    await dropRedisPrefix(prefix).catch(() => undefined);
  }
});

/** A private redis-server this test can stop and start (skipped when the binary is absent). */
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
    if (spawnSync('redis-server', ['--version']).status !== 0)
      return t.skip('redis-server not installed: skipped');
    const port = await freePort();
    let server = await privateRedis(port);
    const log = pino({ level: 'silent' });
    const mk = (id: string) => {
      const link = new RedisLink({
        url: `redis://127.0.0.1:${port}`,
        prefix: 'us:',
        timeoutMs: 100,
        instanceId: id,
        log,
        recheckMs: 50,
      });
      return { link, health: new RedisHealth(link) };
    };
    const a = mk('a');
    const b = mk('b');
    try {
      await Promise.all([a.link.start(), b.link.start()]);
      assert.ok(a.link.up && b.link.up);
      const z = target('z');
      server.kill('SIGKILL');
      await new Promise((r) => server.once('exit', r));
      const t0 = performance.now();
      for (let i = 0; i < 3; i++) await a.health.recordFailure(z, down);
      const ms = performance.now() - t0;
      t.diagnostic(`3 writes with Redis stopped: ${ms.toFixed(1)} ms in all`);
      assert.ok(ms < 150);
      assert.equal((await a.health.check(z)).available, false);
      server = await privateRedis(port);
      const back = await waitUntil('both links up', () => a.link.up && b.link.up, 10_000);
      t.diagnostic(`sharing resumed ${back.toFixed(0)} ms after Redis restarted (empty)`);
      await waitUntil('b learns what a knew alone', async () => !(await b.health.check(z)).available, 2000);
    } finally {
      await a.link.close();
      await b.link.close();
      server.kill('SIGKILL');
    }
  },
);
