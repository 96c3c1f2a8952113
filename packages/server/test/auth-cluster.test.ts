/**
 * Authentication across instances sharing one Redis: sign-in failures counted on every instance
 * add up (and a failing Redis falls back to each instance's own counts without refusing sign-in);
 * an API key the bootstrap file revokes at one instance's start is refused by the others at once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { RunningServer } from '../src/index.js';
import { BlackholeProxy, dropRedisPrefix, REDIS_TEST_URL, redisOrSkip } from './cluster-support.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createPgBackend,
  PG_ADMIN_URL,
  PASSWORD,
  startTestServer,
  tempDir,
  waitFor,
  type LogCapture,
} from './helpers.js';

/** One failed (or blocked) sign-in; the status. */
async function signIn(server: RunningServer, email: string, password = 'wrong password!'): Promise<number> {
  const res = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  await res.arrayBuffer();
  return res.status;
}

test('sign-in throttle across instances sharing Redis', { timeout: 60_000 }, async (t) => {
  if (!(await redisOrSkip(t))) return;
  const prefix = `understudy-test:${randomBytes(5).toString('hex')}:`;
  const url = new URL(REDIS_TEST_URL);
  const proxy = new BlackholeProxy({ host: url.hostname, port: Number(url.port || 6379) });
  await proxy.start();
  const dirs = [tempDir(), tempDir(), tempDir()];
  const capture: LogCapture = { lines: [] };
  const start = (i: number, redisUrl: string, withLog = false) =>
    startTestServer({
      backend: { name: 'sqlite', dispose: () => Promise.resolve() },
      dataDir: dirs[i]!.dir,
      env: { REDIS_URL: redisUrl, UNDERSTUDY_REDIS_PREFIX: prefix, UNDERSTUDY_DEMO: 'off' },
      ...(withLog && { capture }),
    });
  const servers: RunningServer[] = [];
  try {
    const A = await start(0, REDIS_TEST_URL);
    servers.push(A);
    const B = await start(1, REDIS_TEST_URL);
    servers.push(B);
    const C = await start(2, `redis://127.0.0.1:${proxy.port}`, true);
    servers.push(C);

    await t.test('failures on two instances add up: the account is blocked on both', async () => {
      const email = 'guess@example.com';
      // 5 failures block an account: 3 through A and 2 through B (a round-robin balancer).
      for (let i = 0; i < 3; i++) assert.equal(await signIn(A, email), 401);
      for (let i = 0; i < 2; i++) assert.equal(await signIn(B, email), 401);
      assert.equal(await signIn(A, email), 429, 'A counts the failures B saw');
      assert.equal(await signIn(B, email), 429, 'B counts the failures A saw');
      // Another account from the same address is not blocked (4 + 2 address failures < 20).
      assert.equal(await signIn(B, 'other@example.com'), 401);
    });

    await t.test('Redis failing mid-way: sign-in still answers, throttled by local counts', async () => {
      const email = 'partition@example.com';
      assert.equal(await signIn(C, email), 401, 'counted in Redis while it answers');
      proxy.blackhole();
      const t0 = performance.now();
      assert.equal(await signIn(C, email), 401, 'a silent Redis does not fail the sign-in');
      assert.ok(performance.now() - t0 < 2000, 'the Redis call is bounded');
      for (let i = 0; i < 3; i++) assert.equal(await signIn(C, email), 401);
      // 5 failures counted locally (the first one both in Redis and here).
      assert.equal(await signIn(C, email), 429, 'the local counts block the account');
      const warned = capture.lines.filter((l) => l.includes('sign-in throttle counts are this instance'));
      assert.equal(warned.length, 1, 'the fallback is logged once, not per attempt');
      proxy.resume();
      await waitFor('Redis back on C', async () => (C.ctx.cluster.link?.up ? true : undefined), 5000);
      assert.equal(await signIn(C, email), 429, 'still blocked once Redis is back');
    });
  } finally {
    for (const s of servers) await s.close();
    await proxy.close();
    for (const d of dirs) d.remove();
    await dropRedisPrefix(prefix);
  }
});

/** A bootstrap file declaring one organization, its admin and one API key named `ci`. */
const bootstrapFile = (key: string) => `organization:
  name: Acme Corp
admin:
  email: admin@acme.test
  password: ${PASSWORD}
apiKeys:
  - name: ci
    key: ${key}
`;

test(
  'an API key the bootstrap file revokes at one start is refused by the running instances at once',
  { timeout: 60_000 },
  async (t) => {
    if (!(await redisOrSkip(t))) return;
    // Several instances need one database: PostgreSQL.
    const backend = await createPgBackend();
    if (!backend) return t.skip(`PostgreSQL not reachable at ${PG_ADMIN_URL}: skipped`);
    const prefix = `understudy-test:${randomBytes(5).toString('hex')}:`;
    const tmp = tempDir();
    const file = join(tmp.dir, 'understudy.yaml');
    const oldKey = `us-old-${randomBytes(12).toString('hex')}`;
    const newKey = `us-new-${randomBytes(12).toString('hex')}`;
    const start = (name: string) =>
      startTestServer({
        backend,
        dataDir: join(tmp.dir, name),
        env: {
          REDIS_URL: REDIS_TEST_URL,
          UNDERSTUDY_REDIS_PREFIX: prefix,
          UNDERSTUDY_DEMO: 'off',
          UNDERSTUDY_CONFIG: file,
        },
      });
    const models = async (server: RunningServer, key: string) => {
      const res = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      await res.arrayBuffer();
      return res.status;
    };
    const servers: RunningServer[] = [];
    try {
      writeFileSync(file, bootstrapFile(oldKey));
      const A = await start('A');
      servers.push(A);
      const B = await start('B');
      servers.push(B);
      // Both hold the key in their caches now.
      for (const s of [A, B]) assert.equal(await models(s, oldKey), 200);
      // A new instance (a rolling deploy) starts with the key rotated in the file: its bootstrap revokes the old one.
      writeFileSync(file, bootstrapFile(newKey));
      const C = await start('C');
      servers.push(C);
      assert.equal(await models(C, oldKey), 401);
      assert.equal(await models(C, newKey), 200);
      const t0 = performance.now();
      for (const s of [A, B]) {
        // The cache would keep it for up to 10 s; the relayed revocation ends it within milliseconds.
        while (performance.now() - t0 < 1000 && (await models(s, oldKey)) !== 401)
          await new Promise((r) => setTimeout(r, 5));
        assert.equal(await models(s, oldKey), 401, 'the running instance refuses the revoked key');
        assert.equal(await models(s, newKey), 200);
      }
      t.diagnostic(`revocation applied on A and B after ${(performance.now() - t0).toFixed(0)} ms`);
    } finally {
      for (const s of servers) await s.close();
      await backend.dispose();
      tmp.remove();
      await dropRedisPrefix(prefix);
    }
  },
);
