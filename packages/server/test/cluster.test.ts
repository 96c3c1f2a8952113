/**
 * Several instances (issue 5, SPEC §2.5 and §5): three real server processes on different ports
 * share one PostgreSQL database and one Redis (through a proxy the test can blackhole), with the
 * simulator as providers. What one instance learns spares the others (attempt log); one probe runs
 * across the cluster while the others fall back; settings changes (fallback setting, default model,
 * model list, provider keys, API keys) reach every instance within a second, pushed through Redis;
 * Redis going silent under traffic (probe claims included) costs no request more than 100 ms over
 * the same request with Redis healthy, and what was missed meanwhile is shared once it is back; a
 * conversation driven through several instances keeps every message, in order, once; a starting
 * instance does not reclaim another live instance's answer.
 */
// test-runner: alone (it asserts the SPEC's 100 ms bounds in wall-clock time)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startSimulator, type Simulator } from '@understudy/simulator';
import { migrations } from '../src/storage/index.js';
import {
  ask,
  apiKey,
  BlackholeProxy,
  dropRedisPrefix,
  redisReachable,
  REDIS_TEST_URL,
  startInstance,
  type Asked,
  type Instance,
} from './cluster-support.js';
import { Client, createPgBackend, PG_ADMIN_URL, readSse, tempDir, type Backend } from './helpers.js';
import { startRelay } from './relay.js';

const ADMIN = { email: 'admin@example.com', password: 'cluster-admin-password' };
const COOLDOWN_MS = 2500;
/** Models whose circuit the blackhole test opens (a 404 opens a model's circuit at once), by upstream. */
const PROBED: Record<string, string> = {
  f1: 'gpt-4.1-mini',
  f2: 'gpt-4.1-nano',
  f3: 'o4-mini',
  f4: 'o3-mini',
  f5: 'gpt-3.5-turbo',
};
const PK_KEY = 'sk-test-pk-original-0123456789';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  // Provider `pk` goes through a relay that records which key each request carried.
  const relay = await startRelay(sim.url);
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
        { id: 'pk', type: 'openai', baseUrl: `${relay.url}/p/pk/v1`, apiKey: PK_KEY, allowPrivate: true },
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
        ...Object.entries(PROBED).map(([id, upstream]) => ({
          id,
          provider: 'pa',
          upstream,
          tier: 3,
          contextWindow: 128000,
        })),
        // Far tiers: never anyone's preferred backup. `steady` answers in ~50 ms (2 ms a chunk), so
        // that traffic is surely in flight when Redis goes silent.
        { id: 'keyed', provider: 'pk', upstream: 'gpt-4o', tier: 90, contextWindow: 128000 },
        { id: 'steady', provider: 'pb', upstream: 'gpt-4o-mini+delay=2', tier: 95, contextWindow: 128000 },
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
  let listener: Redis | undefined;
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
    const ids = new Map<Instance, string>();
    for (const i of all) {
      const ready = (await (await fetch(`${i.url}/readyz`)).json()) as {
        redis: string;
        database: string;
        instance: string;
      };
      assert.equal(ready.database, 'postgres');
      assert.equal(ready.redis, 'ok', `${i.name} shares through Redis`);
      ids.set(i, ready.instance);
    }
    // What the instances announce to each other (listened to directly, not through the proxy).
    const heard: { from: string; type: string }[] = [];
    listener = new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: 1 });
    listener.on('error', () => undefined);
    listener.on('message', (_channel: string, text: string) => {
      const e = JSON.parse(text) as { from: string; m: { type: string } };
      heard.push({ from: e.from, type: e.m.type });
    });
    await listener.subscribe(`${prefix}events`);
    // Migrations and the bootstrap file ran once although three instances started together.
    const db = new pg.Client({ connectionString: backend.databaseUrl });
    await db.connect();
    try {
      const count = async (q: string) => Number((await db.query<{ n: string }>(q)).rows[0]!.n);
      assert.equal(await count('SELECT count(*) AS n FROM organizations'), 1);
      assert.equal(await count('SELECT count(*) AS n FROM providers'), 3);
      assert.equal(await count('SELECT count(*) AS n FROM users'), 1);
      assert.equal(await count('SELECT count(*) AS n FROM kysely_migration'), Object.keys(migrations).length);
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
        // The probe is slow, so that every other request arrives while it runs: 3 s, since on a
        // loaded 2-core machine one instance's part of the burst was seen to start after 1.5 s.
        sim.setFault({ provider: 'pa', model: 'gpt-4o', fault: 'slow_first_token', delayMs: 3000, times: 1 });
        const retryAt = Date.parse(modelState(await status(B), 'prim').retryAt!);
        await new Promise((r) => setTimeout(r, Math.max(0, retryAt - Date.now()) + 50));
        const before = attempts('gpt-4o');
        const burst = await Promise.all(
          all.flatMap((inst) =>
            [0, 1, 2].map(async () => ({ inst: inst.name, ...(await ask(inst.url, key, 'prim')) })),
          ),
        );
        assert.ok(
          burst.every((r) => r.status === 200),
          'no request of the burst failed',
        );
        const fresh = sim.attempts({ provider: 'pa', model: 'gpt-4o' }).slice(before);
        const probe = fresh.find((x) => x.fault === 'slow_first_token');
        assert.ok(probe?.endedAt !== undefined, 'the probe reached the primary and ended');
        assert.equal(fresh[0]!.seq, probe.seq, 'no primary attempt before the probe');
        assert.ok(probe.tokensSent > 0, 'the probe was answered');
        const probeEnd = probe.endedAt;
        // Requests arriving after the probe succeeded rightly go to the primary: only those that
        // started while the probe ran count, and there must be none besides the probe.
        const during = fresh.filter((x) => x.startedAt >= probe.startedAt && x.startedAt <= probeEnd);
        assert.equal(during.length, 1, 'exactly one primary attempt started while the probe was in flight');
        // The burst did overlap the probe: on every instance, requests were answered by the backup
        // while the probe was in flight (they saw the claim made by whichever instance probed).
        const overlapped = burst.filter(
          (r) => r.fallbackFrom === 'prim' && r.startedAt <= probeEnd && r.endedAt >= probe.startedAt,
        );
        for (const inst of all)
          assert.ok(
            overlapped.some((r) => r.inst === inst.name),
            `${inst.name} fell back while the probe was in flight`,
          );
        t.diagnostic(
          `burst of ${burst.length}: ${overlapped.length} fell back during the ${probeEnd - probe.startedAt} ms probe; ` +
            `${fresh.length} primary attempt(s): the probe and ${fresh.length - 1} after it closed the circuit`,
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

    /**
     * Polls `ok` on B and C (every 5 ms) from now; asserts both see the change within a second, and
     * that A announced it on the Redis channel. Before the change, both must still see the old
     * state: their catalogs are cached, so only the message can refresh them within the second (the
     * blackhole test shows the same change is not seen without it).
     */
    const announcedByA = () => heard.filter((e) => e.type === 'org' && e.from === ids.get(A)).length;
    const appliesOnBC = async (
      what: string,
      act: () => Promise<number>,
      want: number,
      ok: (inst: Instance) => Promise<boolean>,
    ) => {
      for (const inst of [B, C]) assert.equal(await ok(inst), false, `${what}: not yet on ${inst.name}`);
      const announced = announcedByA();
      assert.equal(await act(), want, what);
      const t0 = performance.now();
      const ms = await Promise.all(
        [B, C].map(async (inst) => {
          while (performance.now() - t0 < 1000) {
            if (await ok(inst)) return performance.now() - t0;
            await sleep(5);
          }
          return Infinity;
        }),
      );
      t.diagnostic(`${what}: applied on B after ${ms[0]!.toFixed(0)} ms, on C after ${ms[1]!.toFixed(0)} ms`);
      assert.ok(ms[0]! < 1000, `${what}: B within a second`);
      assert.ok(ms[1]! < 1000, `${what}: C within a second`);
      while (announcedByA() === announced && performance.now() - t0 < 1000) await sleep(5);
      assert.ok(announcedByA() > announced, `${what}: A announced it through Redis`);
    };

    await t.test('an Admin changes the fallback setting on A: B and C apply it within a second', async () => {
      const preview = async (inst: Instance) =>
        (await as(inst).get<{ fallback: { mode: string } }>('/api/admin/settings/backup-preview')).body
          .fallback.mode;
      for (const inst of [B, C]) assert.equal(await preview(inst), 'automatic'); // cached there
      await appliesOnBC(
        'fallback setting none',
        async () => (await admin.put('/api/admin/settings', { fallback: { mode: 'none' } })).status,
        200,
        async (inst) => (await preview(inst)) === 'none',
      );
      // B's and C's chat obey it: the rate-limited model has no backup any more.
      for (const inst of [B, C]) assert.notEqual((await ask(inst.url, key, 'prim2')).status, 200);
      await appliesOnBC(
        'fallback setting automatic',
        async () => (await admin.put('/api/admin/settings', { fallback: { mode: 'automatic' } })).status,
        200,
        async (inst) => (await preview(inst)) === 'automatic',
      );
    });

    await t.test(
      'default model, model list and provider key changed on A: B and C apply each within a second',
      async () => {
        const list = async (inst: Instance) =>
          (await as(inst).get<{ defaultModel: string | null; models: { id: string }[] }>('/api/models')).body;
        const listed = async (inst: Instance, id: string) =>
          (await list(inst)).models.some((m) => m.id === id);
        // Default model.
        await appliesOnBC(
          'default model prim2',
          async () => (await admin.put('/api/admin/settings', { defaultModel: 'prim2' })).status,
          200,
          async (inst) => (await list(inst)).defaultModel === 'prim2',
        );
        for (const inst of [B, C]) {
          // prim2 is still rate-limited (60 s): it answers through the backup, but it is the one asked.
          const r = await ask(inst.url, key, 'default');
          assert.equal(r.status, 200);
          assert.equal(r.fallbackFrom ?? r.model, 'prim2', `${inst.name} chats with the new default`);
        }
        await appliesOnBC(
          'default model back to prim',
          async () => (await admin.put('/api/admin/settings', { defaultModel: 'prim' })).status,
          200,
          async (inst) => (await list(inst)).defaultModel === 'prim',
        );
        // The model list: one model disabled, one added.
        await appliesOnBC(
          'model prim2 disabled',
          async () => (await admin.patch('/api/admin/models/prim2', { enabled: false })).status,
          200,
          async (inst) => !(await listed(inst, 'prim2')),
        );
        for (const inst of [B, C]) {
          const r = await ask(inst.url, key, 'prim2');
          assert.ok(
            r.status >= 400 && r.status < 500,
            `${inst.name} refuses the disabled model (${r.status})`,
          );
        }
        await appliesOnBC(
          'model fresh added',
          async () =>
            (
              await admin.post('/api/admin/models', {
                id: 'fresh',
                provider: 'pb',
                upstreamModel: 'gpt-4.1-mini',
                tier: 80,
              })
            ).status,
          201,
          async (inst) => listed(inst, 'fresh'),
        );
        for (const inst of [B, C]) {
          const r = await ask(inst.url, key, 'fresh');
          assert.equal(r.status, 200);
          assert.equal(r.model, 'fresh', `${inst.name} answers with the new model`);
        }
        // A provider key rotated: the next upstream request from B and C carries the new key.
        const rotated = 'sk-test-pk-rotated-9876543210';
        let n = 0;
        const usedKey = async (inst: Instance) => {
          const marker = `key check ${++n} via ${inst.name}`;
          const r = await ask(inst.url, key, 'keyed', marker);
          assert.equal(r.status, 200);
          assert.equal(r.model, 'keyed');
          return relay.seen.find((x) => x.body.includes(marker))?.key;
        };
        for (const inst of [B, C]) assert.equal(await usedKey(inst), PK_KEY);
        await appliesOnBC(
          'provider key rotated',
          async () => (await admin.put('/api/admin/providers/pk/key', { apiKey: rotated })).status,
          200,
          async (inst) => (await usedKey(inst)) === rotated,
        );
      },
    );

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
      'Redis blackholed during traffic: no request fails or waits 100 ms more; sharing resumes after',
      async () => {
        sim.clearFaults();
        // A and B carry the traffic; C stays idle (it makes no Redis call while Redis is silent, so
        // it never notices: what it missed must still reach it when Redis is back).
        const T = [A, B];
        const models = async (inst: Instance) =>
          (await as(inst).get<{ models: { id: string; label: string }[] }>('/api/models')).body.models;
        const labelOf = async (inst: Instance, id: string) =>
          (await models(inst)).find((m) => m.id === id)?.label;
        const waitFor = async (what: string, f: () => Promise<boolean>, ms: number) => {
          const t0 = performance.now();
          while (!(await f())) {
            assert.ok(performance.now() - t0 < ms, `${what} within ${ms} ms`);
            await sleep(10);
          }
          return performance.now() - t0;
        };

        // Circuits open and, after the cooldown, due for a probe: a 404 opens a model's circuit at
        // once. f1 to f4 are probed with Redis healthy (the baseline), f5 while Redis is silent.
        for (const [id, upstream] of Object.entries(PROBED)) {
          sim.setFault({ provider: 'pa', model: upstream, fault: 'not_found', times: 1 });
          const r = await ask(A.url, key, id);
          assert.equal(r.status, 200);
          assert.equal(r.fallbackFrom, id);
        }
        let due = 0;
        for (const inst of T)
          await waitFor(
            `${inst.name} sees the probed models' circuits open`,
            async () => {
              const s = await status(inst);
              const open = Object.keys(PROBED).map((id) => modelState(s, id));
              due = Math.max(due, ...open.map((h) => Date.parse(h.retryAt ?? '0')));
              return open.every((h) => h.state === 'open');
            },
            1000,
          );

        /**
         * Steady traffic on A and B (one request after another on each, `steady` answers in ~50 ms);
         * after `leadMs`, `atSwitch` runs and `fire` sends the probe-due requests; the traffic goes
         * on `afterMs` more.
         */
        type Sample = Asked & { inst: string };
        const phase = async (
          atSwitch: () => void,
          fire: () => Promise<Sample[]>,
          leadMs = 150,
          afterMs = 400,
        ) => {
          const traffic: Sample[] = [];
          let stop = false;
          const loops = T.map(async (inst) => {
            while (!stop) traffic.push({ inst: inst.name, ...(await ask(inst.url, key, 'steady')) });
          });
          await sleep(leadMs);
          const switchAt = Date.now();
          atSwitch();
          const probes = fire();
          await sleep(afterMs);
          stop = true;
          await Promise.all(loops);
          return { traffic, probes: await probes, switchAt };
        };
        /** Health memory calls an instance answered locally because Redis failed (its metric). */
        const localFallbacks = async (inst: Instance) => {
          const text = await (await fetch(`${inst.url}/metrics`)).text();
          return Number(/^understudy_redis_local_fallbacks (\d+)/m.exec(text)?.[1] ?? NaN);
        };
        const askAs = async (inst: Instance, model: string): Promise<Sample> => ({
          inst: inst.name,
          ...(await ask(inst.url, key, model)),
        });

        // Baseline, Redis healthy: the same traffic, and the same probe-due requests (one on A and
        // one on B at a time, twice).
        const nothing = async (): Promise<Sample[]> => [];
        await phase(() => undefined, nothing); // warm
        await sleep(Math.max(0, due - Date.now()) + 50);
        const fallbacksBefore = await Promise.all(T.map(localFallbacks));
        const healthy = await phase(
          () => undefined,
          async () => [
            ...(await Promise.all([askAs(A, 'f1'), askAs(B, 'f2')])),
            ...(await Promise.all([askAs(A, 'f3'), askAs(B, 'f4')])),
          ],
        );
        const fallbacksDuring = (await Promise.all(T.map(localFallbacks))).map(
          (n, i) => n - fallbacksBefore[i]!,
        );
        t.diagnostic(
          `baseline probes ${healthy.probes.map((r) => r.ms.toFixed(1)).join(' / ')} ms; local fallbacks during it: ${fallbacksDuring.join(', ')}`,
        );
        for (const r of healthy.probes) {
          assert.equal(r.status, 200);
          assert.equal(r.fallbackFrom, null, 'the probe found the primary recovered');
        }

        // Redis goes silent while requests are in flight on A and B; at that very moment each
        // sends a request whose primary circuit is open and due: its probe claim (tryAcquireProbe)
        // goes to the silent Redis, since neither instance can have noticed the silence yet.
        const f5Before = sim.attempts({ provider: 'pa', model: PROBED.f5 }).length;
        const silent = await phase(
          () => proxy.blackhole(),
          () => Promise.all(T.map((inst) => askAs(inst, 'f5'))),
        );
        for (const inst of T)
          assert.ok(
            silent.traffic.some(
              (r) => r.inst === inst.name && r.startedAt < silent.switchAt && r.endedAt > silent.switchAt,
            ),
            `requests were in flight on ${inst.name} when Redis went silent`,
          );
        // Each instance claimed the probe from its own memory (with Redis, one would have been refused).
        assert.equal(
          sim.attempts({ provider: 'pa', model: PROBED.f5 }).length - f5Before,
          T.length,
          'one probe per instance: each claimed it locally',
        );
        for (const r of silent.probes) {
          assert.equal(r.status, 200);
          assert.equal(r.model, 'f5');
        }

        // Per request: the extra latency over the same request with Redis healthy is at most 100 ms.
        // The baseline is the healthy median of the same kind (traffic, probe-due request).
        const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
        const base = {
          traffic: median(healthy.traffic.map((r) => r.ms)),
          probe: median(healthy.probes.map((r) => r.ms)),
        };
        const checked = [
          ...silent.traffic.map((r) => ({ ...r, kind: 'traffic' as const })),
          ...silent.probes.map((r) => ({ ...r, kind: 'probe' as const })),
        ];
        const failed = checked.filter((r) => r.status !== 200);
        assert.equal(failed.length, 0, `no request failed: ${failed.map((r) => r.status).join(', ')}`);
        const extra = checked.map((r) => ({ ...r, extra: r.ms - base[r.kind] }));
        const worst = (kind: string) => Math.max(...extra.filter((r) => r.kind === kind).map((r) => r.extra));
        t.diagnostic(
          `healthy median: traffic ${base.traffic.toFixed(1)} ms (${healthy.traffic.length} requests), ` +
            `probe-due ${base.probe.toFixed(1)} ms; Redis silent: ${silent.traffic.length} requests, ` +
            `worst extra ${worst('traffic').toFixed(1)} ms, probe-due ${silent.probes.map((r) => r.ms.toFixed(1)).join(' / ')} ms ` +
            `(extra ${worst('probe').toFixed(1)} ms)`,
        );
        // The test means something only if a probe claim did go to the silent Redis (and so waited
        // for it): the proxy holds what each connection sent during the silence, and a claim is the
        // f5 model's breaker (keyed by tenant/model) written half-open. Seen at the proxy, not
        // inferred from timings, which move with the machine's load.
        const claims = proxy
          .held()
          .filter((sent) => /cb:model:\S*\/f5\r\n/.test(sent) && sent.includes('"state":"half_open"'));
        t.diagnostic(`connections that sent a probe claim to the silent Redis: ${claims.length}`);
        assert.ok(claims.length >= 1, 'a probe claim went to the silent Redis');
        const over = extra.filter((r) => r.extra > 100);
        assert.equal(
          over.length,
          0,
          `requests that waited more than 100 ms extra: ${over.map((r) => `${r.kind} on ${r.inst} +${r.extra.toFixed(0)} ms`).join(', ')}`,
        );
        // Still ready (serving from their own memory), and saying that Redis is degraded.
        for (const inst of T) {
          const r = await fetch(`${inst.url}/readyz`);
          assert.equal(r.status, 200);
          assert.equal(((await r.json()) as { redis: string }).redis, 'degraded');
        }

        // A settings change on A while Redis is silent is not seen elsewhere: B's and C's catalogs
        // are refreshed by the message alone (no polling behind the one-second propagation).
        const renamedAt = performance.now();
        assert.equal(
          (await admin.patch('/api/admin/models/back', { label: 'Backup (renamed)' })).status,
          200,
        );
        // A learns alone that the primary is down, without delay; B and C cannot hear it.
        sim.setFault({ provider: 'pa', fault: 'unavailable' });
        for (let i = 0; i < 3; i++) {
          const r = await ask(A.url, key, 'prim');
          assert.equal(r.model, 'back');
          assert.ok(r.ms < 1000);
        }
        assert.equal(modelState(await status(A), 'prim').state, 'open');
        for (const inst of [B, C])
          assert.equal(
            modelState(await status(inst), 'prim').state,
            'closed',
            `${inst.name} could not hear it`,
          );
        while (performance.now() - renamedAt < 1200) {
          for (const inst of [B, C])
            assert.notEqual(await labelOf(inst, 'back'), 'Backup (renamed)', `${inst.name} has not heard it`);
          await sleep(50);
        }

        // Redis answers again: sharing resumes within a few seconds, on every instance.
        proxy.resume();
        const t0 = performance.now();
        const resumed = async (inst: Instance) => {
          const r = (await (await fetch(`${inst.url}/readyz`)).json()) as { redis: string };
          return r.redis === 'ok';
        };
        for (const inst of T)
          await waitFor(`${inst.name} shares through Redis again`, () => resumed(inst), 3000);
        const linked = performance.now() - t0;
        // The change made on A meanwhile reaches B (which noticed the silence) and C (which did not).
        for (const inst of [B, C])
          await waitFor(
            `${inst.name} applies the change made during the silence`,
            async () => (await labelOf(inst, 'back')) === 'Backup (renamed)',
            3000,
          );
        const settings = performance.now() - t0;
        // What A learnt alone is shared: B and C go straight to the backup, the primary untouched.
        for (const inst of [B, C])
          await waitFor(
            `${inst.name} learns the circuit A opened alone`,
            async () => modelState(await status(inst), 'prim').state === 'open',
            3000,
          );
        const circuits = performance.now() - t0;
        t.diagnostic(
          `after Redis came back: links up in ${linked.toFixed(0)} ms, missed settings applied in ${settings.toFixed(0)} ms, ` +
            `circuit shared in ${circuits.toFixed(0)} ms`,
        );
        const before = attempts('gpt-4o');
        for (const inst of [B, C]) {
          const r = await ask(inst.url, key, 'prim');
          assert.equal(r.model, 'back');
          assert.equal(r.fallbackFrom, 'prim');
        }
        assert.equal(attempts('gpt-4o'), before, 'B and C did not touch the primary');
        assert.equal(await resumed(C), true);
        sim.clearFaults();
      },
    );

    await t.test(
      'an instance killed mid-answer: another marks the answer interrupted; it can be retried',
      async () => {
        const mate = (await admin.post<{ id: string }>('/api/mates', { name: 'Kim', instructions: '' })).body
          .id;
        const conv = (await admin.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
        // Whichever model C asks first (the primary's circuit may still be open) is slow.
        sim.setFault({ fault: 'slow_first_token', delayMs: 40_000, times: 1 });
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
    listener?.disconnect();
    await relay.close();
    await sim.close();
    await proxy.close();
    await dropRedisPrefix(prefix).catch(() => undefined);
    await backend.dispose();
    tmp.remove();
  }
});
