/**
 * What an operator can alert on (QA ops #12): log lines for fallbacks, circuits opening and
 * closing and a misconfigured provider (once per opening), with nothing added to a healthy
 * answer's path; and the metrics' names and labels (no `understudy_redis_up` without Redis, one
 * prefix on the process metrics, the web app's pages labelled as such).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  InMemoryHealth,
  type FailureDetails,
  type HealthMemory,
  type TargetHealth,
  type TargetRef,
} from '@understudy/engine';
import pino from 'pino';
import { randomBytes } from 'node:crypto';
import { logHealthChanges } from '../src/catalog/index.js';
import { RedisHealth, RedisLink } from '../src/cluster/index.js';
import { dropRedisPrefix, manualClock, redisOrSkip, REDIS_TEST_URL } from './cluster-support.js';
import {
  forEachBackend,
  postCompletion,
  rawPost,
  readSse,
  setupOwner,
  startTestServer,
  tempDir,
  waitFor,
  type LogCapture,
} from './helpers.js';

interface Line {
  level: number;
  msg: string;
  event?: string;
  [k: string]: unknown;
}

/** A pino logger at `level` whose lines land in the returned array. */
function capturingLogger(level = 'info'): { log: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  return { log: pino({ level }, stream), lines };
}

const A: TargetRef = { providerId: 'alpha', modelId: 'alpha-large' };
const B: TargetRef = { providerId: 'beta', modelId: 'beta-large' };
const overloaded: FailureDetails = { reason: 'overloaded', message: 'overloaded', status: 529 };
const unauthorized: FailureDetails = {
  reason: 'provider_misconfigured',
  message: 'Incorrect API key provided: sk-pro****cdef',
  status: 401,
  code: 'invalid_api_key',
};

/** Counts the inner store's reads, to show what the wrapper adds to an answer. */
function counting(inner: InMemoryHealth): { health: HealthMemory; reads: () => number } {
  let reads = 0;
  const health: HealthMemory = {
    check: (t) => {
      reads++;
      return inner.check(t);
    },
    checkNow: (t): TargetHealth => {
      reads++;
      return inner.checkNow(t);
    },
    tryAcquireProbe: (t) => inner.tryAcquireProbe(t),
    releaseProbe: (t) => inner.releaseProbe(t),
    recordSuccess: (t, ms) => inner.recordSuccess(t, ms),
    recordFailure: (t, f) => inner.recordFailure(t, f),
    reset: (k) => inner.reset(k),
    snapshot: () => inner.snapshot(),
  };
  return { health, reads: () => reads };
}

test('health log: a circuit opening (warn) and closing (info), once each, with nothing added to healthy answers', async () => {
  const clock = manualClock();
  const inner = new InMemoryHealth({ clock, policy: { baseCooldownMs: 1000 } });
  const { health: counted, reads } = counting(inner);
  const { log, lines } = capturingLogger();
  const h = logHealthChanges(counted, 'org1', log);

  // Healthy answers: the engine's own check, then the success, and not one read more.
  for (let i = 0; i < 5; i++) {
    assert.equal(h.checkNow!(B).available, true);
    await h.recordSuccess(B, 100);
  }
  assert.equal(reads(), 5, 'a healthy answer costs no extra health read');
  assert.equal(lines.length, 0);

  // Three failures in a row open both of alpha's breakers: one line per breaker, at warn.
  for (let i = 0; i < 3; i++) {
    h.checkNow!(A);
    await h.recordFailure(A, overloaded);
  }
  const opened = lines.filter((l) => l.event === 'circuit_opened');
  assert.deepEqual(
    opened.map((l) => [l.level, l.scope, l.org, l.provider, l.model, l.reason, l.status]),
    [
      [40, 'provider', 'org1', 'alpha', 'alpha-large', 'overloaded', 529],
      [40, 'model', 'org1', 'alpha', 'alpha-large', 'overloaded', 529],
    ],
  );
  assert.match(opened[0]!.msg, /^circuit opened: provider alpha \(overloaded\)/);
  // A request that started before it opened fails too: the same opening, no new line.
  await h.recordFailure(A, overloaded);
  assert.equal(lines.length, 2);

  // Beta keeps answering while alpha is down: still no extra read for its successes.
  const before = reads();
  h.checkNow!(B);
  await h.recordSuccess(B, 100);
  assert.equal(reads() - before, 1);

  // The cooldown passes, a probe fails (still the same opening: silent), then one succeeds.
  clock.advance(1001);
  assert.equal(h.checkNow!(A).probeDue, true);
  assert.equal(await h.tryAcquireProbe(A), true);
  await h.recordFailure(A, overloaded);
  assert.equal(lines.length, 2, 'a failed probe is not a new opening');
  clock.advance(2001);
  h.checkNow!(A);
  assert.equal(await h.tryAcquireProbe(A), true);
  await h.recordSuccess(A, 120);
  const closed = lines.filter((l) => l.event === 'circuit_closed');
  assert.deepEqual(
    closed.map((l) => [l.level, l.scope, l.provider, l.model]),
    [
      [30, 'provider', 'alpha', 'alpha-large'],
      [30, 'model', 'alpha', 'alpha-large'],
    ],
  );
  assert.equal(closed[0]!.openForMs, 3002);
  // Healthy again: its successes are back to no extra read, and say nothing.
  const after = reads();
  for (let i = 0; i < 3; i++) {
    h.checkNow!(A);
    await h.recordSuccess(A, 100);
  }
  assert.equal(reads() - after, 3);
  assert.equal(lines.length, 4);
});

test('health log: a provider answering 401 is logged once per opening, without its error message', async () => {
  const clock = manualClock();
  const { log, lines } = capturingLogger();
  const h = logHealthChanges(new InMemoryHealth({ clock }), 'org1', log);
  for (let i = 0; i < 4; i++) {
    h.checkNow!(A);
    await h.recordFailure(A, unauthorized);
  }
  const flagged = lines.filter((l) => l.event === 'provider_misconfigured');
  assert.equal(flagged.length, 1, JSON.stringify(lines));
  assert.equal(flagged[0]!.level, 40);
  assert.equal(flagged[0]!.status, 401);
  assert.equal(flagged[0]!.code, 'invalid_api_key');
  assert.equal(flagged[0]!.provider, 'alpha');
  assert.match(flagged[0]!.msg, /provider alpha is misconfigured: it answered 401/);
  assert.ok(!JSON.stringify(lines).includes('sk-pro'), 'a provider message may echo part of a key');
});

test('health log: failures recorded at once in a shared store announce one opening', async () => {
  // A store whose writes land later (as Redis's compare-and-set does): every failure recorded at
  // once sees the breaker closed before and open after.
  const inner = new InMemoryHealth();
  const slow: HealthMemory = {
    check: (t) => inner.check(t),
    tryAcquireProbe: (t) => inner.tryAcquireProbe(t),
    releaseProbe: (t) => inner.releaseProbe(t),
    recordSuccess: async (t, ms) => {
      await sleep(5);
      await inner.recordSuccess(t, ms);
    },
    recordFailure: async (t, f) => {
      await sleep(5);
      await inner.recordFailure(t, f);
    },
    reset: (k) => inner.reset(k),
    snapshot: () => inner.snapshot(),
  };
  const { log, lines } = capturingLogger();
  const h = logHealthChanges(slow, 'org1', log);
  await Promise.all([1, 2, 3, 4, 5].map(() => h.recordFailure(A, unauthorized)));
  assert.equal(lines.filter((l) => l.event === 'provider_misconfigured').length, 1, JSON.stringify(lines));
  assert.equal(lines.filter((l) => l.event === 'circuit_opened').length, 2);
  await h.check(A);
  await Promise.all([1, 2, 3].map(() => h.recordSuccess(A, 10)));
  assert.equal(lines.filter((l) => l.event === 'circuit_closed').length, 2, JSON.stringify(lines));
});

test('health log through Redis: the instance that sees a change tells it, the others stay quiet', async (t) => {
  if (!(await redisOrSkip(t))) return;
  const prefix = `understudy-test:${randomBytes(5).toString('hex')}:`;
  const instance = async (id: string) => {
    const link = await RedisLink.open({
      url: REDIS_TEST_URL,
      prefix,
      timeoutMs: 2000,
      instanceId: id,
      log: pino({ level: 'silent' }),
    });
    await link.start();
    const { log, lines } = capturingLogger();
    const health = new RedisHealth(link, { policy: { baseCooldownMs: 200 } });
    return { link, lines, h: logHealthChanges(health, 'org1', log) };
  };
  const a = await instance('a');
  const b = await instance('b');
  try {
    // Instance A meets the 401 on several requests at once: one opening, told once, by A.
    await Promise.all(Array.from({ length: 6 }, () => a.h.recordFailure(A, unauthorized)));
    assert.equal(
      a.lines.filter((l) => l.event === 'provider_misconfigured').length,
      1,
      JSON.stringify(a.lines),
    );
    assert.equal(a.lines.filter((l) => l.event === 'circuit_opened').length, 2);
    // B learns it by a push, then a request it started before fails the same way: nothing new.
    const pushed = Date.now();
    while ((await b.h.check(A)).available && Date.now() - pushed < 2000) await sleep(5);
    await b.h.recordFailure(A, unauthorized);
    assert.equal(b.lines.length, 0, JSON.stringify(b.lines));
    // B's probe succeeds: B tells the closing; A, which only hears of it, says nothing.
    await sleep(250);
    assert.equal((await b.h.check(A)).probeDue, true);
    assert.equal(await b.h.tryAcquireProbe(A), true);
    await b.h.recordSuccess(A, 50);
    assert.deepEqual(
      b.lines.map((l) => [l.event, l.scope]),
      [
        ['circuit_closed', 'provider'],
        ['circuit_closed', 'model'],
      ],
    );
    assert.equal(a.lines.length, 3);
  } finally {
    await a.link.close();
    await b.link.close();
    await dropRedisPrefix(prefix).catch(() => undefined);
  }
});

test('fallbacks, circuits and a misconfigured provider reach the log; metrics names and labels', async (t) => {
  await forEachBackend(t, async (_t, backend) => {
    const tmp = tempDir();
    const capture: LogCapture = { lines: [] };
    const server = await startTestServer({
      backend,
      dataDir: tmp.dir,
      capture,
      activityFlushMs: 20,
      env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '0', UNDERSTUDY_CIRCUIT_COOLDOWN_MS: '300' },
    });
    const parsed = () => capture.lines.map((l) => JSON.parse(l) as Line);
    const events = (name: string) => parsed().filter((l) => l.event === name);
    try {
      const owner = await setupOwner(server);
      const orgId = (await owner.get<{ organization: { id: string } }>('/api/auth/session')).body.organization
        .id;
      const apiKey = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'k' })).body.key;
      const secretWords = 'the-members-private-words';
      await owner.put('/api/admin/demo/providers/sim-a/outage', { fault: 'overloaded' });

      // A chat answer and three API answers fall back; the third failure opens sim-a's circuits.
      const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
      const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
      const sse = await readSse(
        await rawPost(owner, `/api/conversations/${conv}/messages`, { content: secretWords }),
      );
      assert.equal(sse.at(-1)?.event, 'done');
      for (let i = 0; i < 2; i++) {
        const r = await postCompletion(server.url, apiKey, false, secretWords);
        assert.equal(r.headers.get('x-understudy-fallback-reason'), 'overloaded');
        await r.text();
      }
      const fallbacks = await waitFor('the fallback lines', async () => {
        const f = events('fallback');
        return f.reduce((n, l) => n + Number(l.count), 0) >= 3 ? f : undefined;
      });
      const chat = fallbacks.find((l) => l.surface === 'chat');
      assert.ok(chat, JSON.stringify(fallbacks));
      assert.equal(chat.level, 30);
      assert.equal(chat.org, orgId);
      assert.equal(chat.model, 'sim-a-large');
      assert.equal(chat.provider, 'sim-a');
      assert.equal(chat.backupModel, 'sim-b-large');
      assert.equal(chat.backupProvider, 'sim-b');
      assert.equal(chat.reason, 'overloaded');
      assert.match(chat.msg, /^fallback: sim-a-large \(sim-a\) → sim-b-large \(sim-b\): overloaded/);
      assert.ok(fallbacks.some((l) => l.surface === 'api'));

      const opened = events('circuit_opened');
      assert.deepEqual(opened.map((l) => [l.scope, l.provider, l.reason]).sort(), [
        ['model', 'sim-a', 'overloaded'],
        ['provider', 'sim-a', 'overloaded'],
      ]);

      // The outage ends; after the cooldown one request probes sim-a and closes both circuits.
      await owner.put('/api/admin/demo/providers/sim-a/outage', { fault: 'none' });
      await sleep(350);
      const probe = await postCompletion(server.url, apiKey, false, secretWords);
      assert.equal(probe.headers.get('x-understudy-model'), 'sim-a-large');
      await probe.text();
      const closed = await waitFor('the closed lines', async () => {
        const c = events('circuit_closed');
        return c.length >= 2 ? c : undefined;
      });
      assert.deepEqual(closed.map((l) => l.scope).sort(), ['model', 'provider']);

      // Sim A answers 401 from now on: flagged once, however many requests meet it.
      server.demo!.simulator.setFault({
        provider: server.demo!.simName(orgId, 'sim-a'),
        fault: 'unauthorized',
      });
      for (let i = 0; i < 3; i++) await (await postCompletion(server.url, apiKey, false, secretWords)).text();
      const flagged = events('provider_misconfigured');
      assert.equal(flagged.length, 1, JSON.stringify(flagged));
      assert.equal(flagged[0]!.status, 401);
      assert.equal(flagged[0]!.provider, 'sim-a');

      assert.ok(!capture.lines.join('\n').includes(secretWords), 'no message content in the log');
      assert.ok(!capture.lines.join('\n').includes(apiKey));

      // Metrics: no Redis, so no understudy_redis_up; one prefix; the web app's pages as "web".
      await (await fetch(`${server.url}/setup`)).text();
      await (await fetch(`${server.url}/api/no-such-thing`)).text();
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.doesNotMatch(metrics, /understudy_redis_/);
      assert.match(metrics, /^understudy_process_cpu_user_seconds_total /m);
      assert.match(metrics, /^understudy_nodejs_heap_size_total_bytes /m);
      assert.doesNotMatch(metrics, /understudy_process_process_|understudy_process_nodejs_/);
      assert.match(metrics, /understudy_http_requests_total\{method="GET",route="web",status="200"\} 1/);
      assert.match(
        metrics,
        /understudy_http_requests_total\{method="GET",route="unmatched",status="404"\} 1/,
      );
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
