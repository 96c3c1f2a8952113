/**
 * Several instances (issue 5, SPEC §2.5 and §5): three real server processes on different ports
 * share one PostgreSQL database and one Redis (through a proxy the test can blackhole), with the
 * simulator as providers. What one instance learns spares the others; one probe runs across the
 * cluster; settings changes reach every instance within a second; Redis going silent costs no
 * request more than 100 ms; a conversation driven through several instances keeps every message,
 * in order, once; a starting instance does not reclaim another live instance's answer.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { startSimulator, type Simulator } from '@understudy/simulator';
import {
  ask,
  apiKey,
  BlackholeProxy,
  dropRedisPrefix,
  redisReachable,
  REDIS_TEST_URL,
  startInstance,
  type Instance,
} from './cluster-support.js';
import { Client, createPgBackend, PG_ADMIN_URL, readSse, tempDir, type Backend } from './helpers.js';

const ADMIN = { email: 'admin@example.com', password: 'cluster-admin-password' };
const COOLDOWN_MS = 2500;

interface Status {
  providers: {
    id: string;
    health: { state: string };
    models: { id: string; health: { state: string; retryAt: string | null } }[];
  }[];
}

test('several instances share health memory, settings and conversations', { timeout: 180_000 }, async (t) => {
  const redisOk = await redisReachable();
  if (!redisOk) {
    if (process.env.CI === 'true')
      throw new Error(`Redis not reachable at ${REDIS_TEST_URL} (required in CI)`);
    return t.skip(`Redis not reachable at ${REDIS_TEST_URL}: cluster tests skipped`);
  }
  let backend: Backend | undefined;
  try {
    backend = await createPgBackend();
  } catch (err) {
    if (process.env.CI === 'true') throw err;
  }
  if (!backend) return t.skip(`PostgreSQL not reachable at ${PG_ADMIN_URL}: cluster tests skipped`);

  const redisUrl = new URL(REDIS_TEST_URL);
  const proxy = new BlackholeProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
  await proxy.start();
  const sim: Simulator = await startSimulator({ chunkDelayMs: 0 });
  const tmp = tempDir();
  const key = apiKey();
  const prefix = `understudy-test:${randomBytes(5).toString('hex')}:`;
  const file = join(tmp.dir, 'understudy.json');
  writeFileSync(
    file,
    JSON.stringify({
      organization: { name: 'Acme', defaultModel: 'prim', fallback: 'automatic' },
      admin: { email: ADMIN.email, name: 'Ada Admin', password: ADMIN.password },
      providers: [
        {
          id: 'pa',
          type: 'openai',
          baseUrl: `${sim.url}/p/pa/v1`,
          apiKey: 'sk-test-pa-0123456789',
          allowPrivate: true,
        },
        {
          id: 'pb',
          type: 'openai',
          baseUrl: `${sim.url}/p/pb/v1`,
          apiKey: 'sk-test-pb-0123456789',
          allowPrivate: true,
        },
      ],
      models: [
        {
          id: 'prim',
          provider: 'pa',
          upstream: 'gpt-4o',
          tier: 3,
          contextWindow: 128000,
          timeouts: { firstTokenMs: 60000 },
        },
        { id: 'prim2', provider: 'pa', upstream: 'gpt-4.1', tier: 3, contextWindow: 128000 },
        { id: 'back', provider: 'pb', upstream: 'gpt-4o-mini', tier: 3, contextWindow: 128000 },
      ],
      apiKeys: [{ name: 'cluster-test', key }],
    }),
  );
  const env = {
    DATABASE_URL: backend.databaseUrl!,
    REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
    UNDERSTUDY_REDIS_PREFIX: prefix,
    UNDERSTUDY_CONFIG: file,
    UNDERSTUDY_DEMO: 'off',
    UNDERSTUDY_SECRET: randomBytes(32).toString('hex'),
    UNDERSTUDY_CIRCUIT_COOLDOWN_MS: String(COOLDOWN_MS),
    UNDERSTUDY_SHUTDOWN_GRACE_MS: '2000',
    // Beats every 300 ms: an instance silent for 1.8 s is gone.
    UNDERSTUDY_HEARTBEAT_MS: '300',
    LOG_LEVEL: 'warn',
  };
  const instances: Instance[] = [];
  try {
    // Three instances starting at once: migrations and the bootstrap file run once, safely.
    const [a, b, c] = await Promise.all(
      ['A', 'B', 'C'].map((n) => startInstance(n, { ...env, UNDERSTUDY_DATA_DIR: join(tmp.dir, n) })),
    );
    instances.push(a!, b!, c!);
    const A = a!;
    const B = b!;
    const C = c!;
    const all = [A, B, C];
    for (const i of all) {
      const ready = (await (await fetch(`${i.url}/readyz`)).json()) as { redis: string; database: string };
      assert.equal(ready.database, 'postgres');
      assert.equal(ready.redis, 'ok', `${i.name} shares through Redis`);
    }
    // Migrations and the bootstrap file ran once although three instances started together.
    const db = new pg.Client({ connectionString: backend.databaseUrl });
    await db.connect();
    try {
      const count = async (q: string) => Number((await db.query<{ n: string }>(q)).rows[0]!.n);
      assert.equal(await count('SELECT count(*) AS n FROM organizations'), 1);
      assert.equal(await count('SELECT count(*) AS n FROM providers'), 2);
      assert.equal(await count('SELECT count(*) AS n FROM users'), 1);
      assert.equal(await count('SELECT count(*) AS n FROM kysely_migration'), 2);
      assert.equal(await count('SELECT count(*) AS n FROM instances'), 3);
    } finally {
      await db.end();
    }
    // An Admin session (sessions live in the database: the same cookie works on every instance).
    const admin = new Client(A.url);
    assert.equal((await admin.post('/api/auth/login', ADMIN)).status, 200);
    const as = (inst: Instance) =>
      Object.assign(new Client(inst.url), { cookie: admin.cookie, csrf: admin.csrf });
    const status = async (inst: Instance) => (await as(inst).get<Status>('/api/admin/provider-status')).body;
    const modelState = (s: Status, id: string) =>
      s.providers.flatMap((p) => p.models).find((m) => m.id === id)!.health;
    const attempts = (model: string) => sim.attempts({ provider: 'pa', model }).length;

    await t.test('a circuit opened through one instance is seen by the others at once', async () => {
      assert.equal((await ask(A.url, key, 'prim')).model, 'prim');
      sim.setFault({ provider: 'pa', fault: 'unavailable' });
      // Three failures in a row, counted together although they happen on different instances.
      for (const inst of [A, B, A]) {
        const r = await ask(inst.url, key, 'prim');
        assert.equal(r.status, 200);
        assert.equal(r.model, 'back');
        assert.equal(r.fallbackFrom, 'prim');
      }
      const t0 = performance.now();
      const seen = await Promise.all(
        [B, C].map(async (inst) => {
          while (performance.now() - t0 < 1000) {
            if (modelState(await status(inst), 'prim').state === 'open') return performance.now() - t0;
            await new Promise((r) => setTimeout(r, 5));
          }
          return Infinity;
        }),
      );
      t.diagnostic(
        `open circuit visible on B after ${seen[0]?.toFixed(0)} ms, on C after ${seen[1]?.toFixed(0)} ms`,
      );
      assert.ok(
        seen.every((ms) => ms < 1000),
        'seen within a second',
      );
      // B and C go straight to the backup: the primary is not touched.
      const before = attempts('gpt-4o');
      for (const inst of [B, C]) {
        const r = await ask(inst.url, key, 'prim');
        assert.equal(r.model, 'back');
        assert.equal(r.fallbackFrom, 'prim');
      }
      assert.equal(attempts('gpt-4o'), before, 'no request reached the primary');
    });

    await t.test(
      'the primary recovers: exactly one probe across the instances, then all return',
      async () => {
        sim.clearFaults();
        // The probe is slow, so that every other request arrives while it runs.
        sim.setFault({ provider: 'pa', model: 'gpt-4o', fault: 'slow_first_token', delayMs: 1500, times: 1 });
        const retryAt = Date.parse(modelState(await status(B), 'prim').retryAt!);
        await new Promise((r) => setTimeout(r, Math.max(0, retryAt - Date.now()) + 50));
        const before = attempts('gpt-4o');
        const burst = await Promise.all(
          all.flatMap((inst) => [0, 1, 2].map(() => ask(inst.url, key, 'prim'))),
        );
        assert.ok(burst.every((r) => r.status === 200));
        // Requests arriving after the probe succeeded rightly go to the primary: count those before.
        const fresh = sim.attempts({ provider: 'pa', model: 'gpt-4o' }).slice(before);
        const probe = fresh[0]!;
        assert.ok(probe.tokensSent > 0, 'the probe was answered');
        const during = fresh.filter((x) => x.startedAt <= (probe.endedAt ?? Infinity));
        assert.equal(during.length, 1, 'exactly one probe reached the primary');
        t.diagnostic(
          `burst of ${burst.length}: ${fresh.length} primary attempt(s), the probe and ${fresh.length - 1} after it closed the circuit`,
        );
        // The probe succeeded: every instance is back on the primary (at once, or within a second
        // should a loaded machine have pushed a write past the Redis bound and kept it local).
        for (const inst of all) {
          const t0 = performance.now();
          let r = await ask(inst.url, key, 'prim');
          while (r.model !== 'prim' && performance.now() - t0 < 1500) {
            await new Promise((res) => setTimeout(res, 50));
            r = await ask(inst.url, key, 'prim');
          }
          assert.equal(r.model, 'prim', `${inst.name} back on the primary`);
          assert.equal(r.fallbackFrom, null);
        }
      },
    );

    await t.test('a long Retry-After is honoured by every instance', async () => {
      sim.setFault({ provider: 'pa', model: 'gpt-4.1', fault: 'rate_limit', retryAfter: 60, times: 1 });
      const first = await ask(A.url, key, 'prim2');
      assert.equal(first.fallbackFrom, 'prim2');
      for (const inst of [B, C]) {
        const t0 = performance.now();
        while (modelState(await status(inst), 'prim2').state !== 'open' && performance.now() - t0 < 1000)
          await new Promise((r) => setTimeout(r, 5));
      }
      const before = attempts('gpt-4.1');
      for (const inst of [B, C]) {
        const r = await ask(inst.url, key, 'prim2');
        assert.equal(r.status, 200);
        assert.equal(r.fallbackFrom, 'prim2');
      }
      assert.equal(attempts('gpt-4.1'), before, 'the rate-limited model was left alone');
    });

    await t.test('an Admin changes the fallback setting on A: B applies it within a second', async () => {
      const preview = async (inst: Instance) =>
        (await as(inst).get<{ fallback: { mode: string } }>('/api/admin/settings/backup-preview')).body
          .fallback.mode;
      assert.equal(await preview(B), 'automatic'); // cached on B
      assert.equal((await admin.put('/api/admin/settings', { fallback: { mode: 'none' } })).status, 200);
      const t0 = performance.now();
      let ms = Infinity;
      while (performance.now() - t0 < 1000) {
        if ((await preview(B)) === 'none') {
          ms = performance.now() - t0;
          break;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      t.diagnostic(`fallback setting applied on B after ${ms.toFixed(0)} ms`);
      assert.ok(ms < 1000);
      // B's chat obeys it: the rate-limited model has no backup any more.
      const r = await ask(B.url, key, 'prim2');
      assert.notEqual(r.status, 200);
      assert.equal((await admin.put('/api/admin/settings', { fallback: { mode: 'automatic' } })).status, 200);
    });

    await t.test('an API key revoked on A is refused by B and C within a second', async () => {
      const made = await admin.post<{ id: string; key: string }>('/api/admin/api-keys', { name: 'short' });
      assert.equal(made.status, 201);
      const models = async (inst: Instance) => {
        const r = await fetch(`${inst.url}/v1/models`, {
          headers: { authorization: `Bearer ${made.body.key}` },
        });
        await r.arrayBuffer();
        return r.status;
      };
      // Used through B and C first, so both hold it in their key caches.
      for (const inst of [B, C]) assert.equal(await models(inst), 200, `${inst.name} accepts a new key`);
      assert.equal((await admin.del(`/api/admin/api-keys/${made.body.id}`)).status, 204);
      assert.equal(await models(A), 401, 'refused at once where it was revoked');
      const t0 = performance.now();
      for (const inst of [B, C]) {
        while (performance.now() - t0 < 1000 && (await models(inst)) !== 401)
          await new Promise((r) => setTimeout(r, 5));
        assert.equal(await models(inst), 401, `${inst.name} refuses the revoked key`);
      }
      t.diagnostic(`revocation applied on B and C after ${(performance.now() - t0).toFixed(0)} ms`);
    });

    await t.test('one conversation through A, B and C keeps every message, in order, once', async () => {
      const mate = (
        await admin.post<{ id: string }>('/api/mates', { name: 'Max', instructions: 'Be brief.' })
      ).body.id;
      const conv = (await admin.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
      const send = (inst: Instance, content: string) =>
        fetch(`${inst.url}/api/conversations/${conv}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', cookie: admin.cookie!, 'x-csrf-token': admin.csrf! },
          body: JSON.stringify({ content }),
          signal: AbortSignal.timeout(30_000),
        });
      const sent: string[] = [];
      for (const [i, inst] of [A, B, C, A, B].entries()) {
        const content = `message ${i + 1} via ${inst.name}`;
        const events = await readSse(await send(inst, content));
        assert.equal(events.at(-1)?.event, 'done', content);
        sent.push(content);
      }
      // Two sends at once through A and B: one is answered, the other refused (409), none lost twice.
      sim.setFault({ provider: 'pa', model: 'gpt-4o', fault: 'slow_first_token', delayMs: 500, times: 1 });
      const both = await Promise.all([send(A, 'racing via A'), send(B, 'racing via B')]);
      const statuses = both.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 409]);
      const winner = both.find((r) => r.status === 200)!;
      await both.find((r) => r.status === 409)!.text();
      await readSse(winner);
      sent.push(both[0]!.status === 200 ? 'racing via A' : 'racing via B');

      // An answer in flight on A: a new instance starting meanwhile does not reclaim it; C follows
      // it and B stops it (relayed to A through Redis).
      sim.setFault({ provider: 'pa', model: 'gpt-4o', fault: 'slow_first_token', delayMs: 40_000, times: 1 });
      const slow = send(A, 'slow via A');
      sent.push('slow via A');
      const head = await readSse(await slow, { until: (e) => e.event === 'start' });
      const inflight = head[0]!.data.assistantMessageId as string;
      const D = await startInstance('D', { ...env, UNDERSTUDY_DATA_DIR: join(tmp.dir, 'D') });
      instances.push(D);
      const mid = await as(C).get<{ messages: { id: string; status: string }[] }>(
        `/api/conversations/${conv}`,
      );
      assert.equal(mid.body.messages.find((m) => m.id === inflight)?.status, 'in_progress', 'not reclaimed');
      const followed = fetch(`${C.url}/api/conversations/${conv}/messages/${inflight}/events`, {
        headers: { cookie: admin.cookie! },
        signal: AbortSignal.timeout(30_000),
      }).then((r) => readSse(r, { timeoutMs: 25_000 }));
      const t0 = performance.now();
      const stopped = await as(B).post<{ status: string }>(
        `/api/conversations/${conv}/messages/${inflight}/stop`,
      );
      t.diagnostic(`Stop through B took effect on A in ${(performance.now() - t0).toFixed(0)} ms`);
      assert.equal(stopped.status, 200);
      assert.equal(stopped.body.status, 'cancelled');
      const events = await followed;
      assert.equal(events.at(-1)?.event, 'error', 'followed to the end through another instance');
      assert.equal((events.at(-1)?.data.message as { status: string }).status, 'cancelled');

      const msgs = (
        await as(B).get<{ messages: { role: string; content: string; status: string; id: string }[] }>(
          `/api/conversations/${conv}`,
        )
      ).body.messages;
      assert.equal(msgs.length, sent.length * 2);
      assert.deepEqual(
        msgs.filter((m) => m.role === 'user').map((m) => m.content),
        sent,
      );
      msgs.forEach((m, i) => assert.equal(m.role, i % 2 === 0 ? 'user' : 'assistant'));
      assert.deepEqual(
        msgs.map((m) => m.status),
        [...msgs.slice(0, -1).map(() => 'complete'), 'cancelled'],
      );
      assert.equal(new Set(msgs.map((m) => m.id)).size, msgs.length);
      await D.stop();
    });

    await t.test(
      'Redis blackholed during traffic: nothing fails or waits; sharing resumes after',
      async () => {
        sim.clearFaults();
        const round = async () => {
          const out: number[] = [];
          for (let i = 0; i < 3; i++)
            for (const inst of all) {
              const r = await ask(inst.url, key, 'back');
              assert.equal(r.status, 200);
              out.push(r.ms);
            }
          return out;
        };
        await round(); // warm
        const healthy = await round();
        proxy.blackhole();
        const silent = await round();
        const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
        // Compared with the same requests while Redis is healthy (jitter of a loaded machine included).
        const extraMedian = median(silent) - median(healthy);
        const extraMax = Math.max(...silent) - Math.max(...healthy);
        t.diagnostic(
          `latency healthy median ${median(healthy).toFixed(1)} ms max ${Math.max(...healthy).toFixed(1)} ms; ` +
            `Redis blackholed median ${median(silent).toFixed(1)} ms max ${Math.max(...silent).toFixed(1)} ms ` +
            `(extra: median ${extraMedian.toFixed(1)} ms, worst ${extraMax.toFixed(1)} ms)`,
        );
        assert.ok(extraMedian <= 100 && extraMax <= 100, 'no request waited more than 100 ms extra');
        // Still ready (serving from its own memory), and says Redis is degraded.
        for (const inst of all) {
          const r = await fetch(`${inst.url}/readyz`);
          assert.equal(r.status, 200);
          assert.equal(((await r.json()) as { redis: string }).redis, 'degraded');
        }
        // A learns alone that the primary is down, without delay.
        sim.setFault({ provider: 'pa', fault: 'unavailable' });
        for (let i = 0; i < 3; i++) {
          const r = await ask(A.url, key, 'prim');
          assert.equal(r.model, 'back');
          assert.ok(r.ms < 1000);
        }
        assert.equal(modelState(await status(A), 'prim').state, 'open');
        assert.equal(modelState(await status(B), 'prim').state, 'closed', 'B could not hear it');

        proxy.resume();
        const t0 = performance.now();
        for (const inst of all) {
          while (performance.now() - t0 < 5000) {
            const r = (await (await fetch(`${inst.url}/readyz`)).json()) as { redis: string };
            if (r.redis === 'ok') break;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
        const back = performance.now() - t0;
        t.diagnostic(`sharing resumed on every instance ${back.toFixed(0)} ms after Redis came back`);
        assert.ok(back < 5000);
        // What A learnt alone is shared now: B goes straight to the backup.
        assert.equal(modelState(await status(B), 'prim').state, 'open');
        const before = attempts('gpt-4o');
        const r = await ask(B.url, key, 'prim');
        assert.equal(r.model, 'back');
        assert.equal(attempts('gpt-4o'), before);
        sim.clearFaults();
      },
    );

    await t.test(
      'an instance killed mid-answer: another marks the answer interrupted; it can be retried',
      async () => {
        const mate = (await admin.post<{ id: string }>('/api/mates', { name: 'Kim', instructions: '' })).body
          .id;
        const conv = (await admin.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
        sim.setFault({
          provider: 'pa',
          model: 'gpt-4o',
          fault: 'slow_first_token',
          delayMs: 40_000,
          times: 1,
        });
        const res = await fetch(`${C.url}/api/conversations/${conv}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', cookie: admin.cookie!, 'x-csrf-token': admin.csrf! },
          body: JSON.stringify({ content: 'answer me, C' }),
        });
        const head = await readSse(res, { until: (e) => e.event === 'start' });
        const id = head[0]!.data.assistantMessageId as string;
        C.proc.kill('SIGKILL');
        const t0 = performance.now();
        let status = 'in_progress';
        while (status === 'in_progress' && performance.now() - t0 < 10_000) {
          await new Promise((r) => setTimeout(r, 100));
          const conversation = await as(A).get<{ messages: { id: string; status: string }[] }>(
            `/api/conversations/${conv}`,
          );
          status = conversation.body.messages.find((m) => m.id === id)?.status ?? 'missing';
        }
        t.diagnostic(
          `answer of the killed instance marked ${status} after ${(performance.now() - t0).toFixed(0)} ms`,
        );
        assert.equal(status, 'interrupted');
        sim.clearFaults();
        const retried = await readSse(
          await fetch(`${A.url}/api/conversations/${conv}/messages/${id}/retry`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              cookie: admin.cookie!,
              'x-csrf-token': admin.csrf!,
            },
            body: '{}',
          }),
        );
        assert.equal(retried.at(-1)?.event, 'done');
      },
    );
  } catch (err) {
    for (const i of instances) t.diagnostic(`--- ${i.name} ---\n${i.output.slice(-20).join('\n')}`);
    throw err;
  } finally {
    await Promise.all(instances.map((i) => i.stop()));
    await sim.close();
    await proxy.close();
    await dropRedisPrefix(prefix).catch(() => undefined);
    await backend.dispose();
    tmp.remove();
  }
});
