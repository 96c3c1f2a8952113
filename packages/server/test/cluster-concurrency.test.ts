/**
 * The concurrent chat actions of chat-concurrency (concurrency-support.ts), through two instances
 * that share one PostgreSQL database and one Redis: a member's tabs hit either instance, so a Stop,
 * a follow, a retry or a delete often reaches the instance that is not writing the answer (a Stop
 * relayed through Redis, a follow read from the database, a delete that asks the writer to stop).
 * The primary and the backup fail in generated ways. The same checks hold: no 5xx; every stream
 * ends once; when quiet, no answer running on either instance, no provider response open, and each
 * conversation a clean history. Skipped with a line where PostgreSQL or Redis is absent, required
 * in CI.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startSimulator, type Simulator } from '@understudy/simulator';
import fc from 'fast-check';
import type { RunningServer } from '../src/index.js';
import { dropRedisPrefix, redisOrSkip, REDIS_TEST_URL } from './cluster-support.js';
import {
  actionArb,
  checkActions,
  checkConversations,
  describe,
  Member,
  untilQuiet,
} from './concurrency-support.js';
import { faultArb } from './fault-scenarios.js';
import {
  Client,
  createPgBackend,
  PG_ADMIN_URL,
  rawPost,
  readSse,
  startTestServer,
  tempDir,
  searchOptions,
} from './helpers.js';

const ADMIN = { email: 'admin@acme.test', password: 'correct horse battery staple' };
/** The simulator's answer length (its default). */
const WORDS = 24;

interface Two {
  sim: Simulator;
  servers: [RunningServer, RunningServer];
  /** The member's session through A and through B. */
  viaA: Client;
  viaB: Client;
  /** The health-memory breakers of both providers and models. */
  breakers: { scope: 'provider' | 'model'; id: string }[];
}

/**
 * Runs `fn` with two instances A and B on one fresh PostgreSQL database and one Redis prefix, a
 * simulator (2 ms a chunk) for providers pa (primary `prim`) and pb (backup `back`), and the
 * Admin signed in; skips with a line where PostgreSQL or Redis is absent (required in CI).
 */
async function withTwoInstances(t: TestContext, fn: (two: Two) => Promise<void>): Promise<void> {
  if (!(await redisOrSkip(t))) return;
  const backend = await createPgBackend();
  if (!backend) return t.skip(`PostgreSQL not reachable at ${PG_ADMIN_URL}: skipped`);
  const sim = await startSimulator({ chunkDelayMs: 2 });
  const tmp = tempDir();
  const prefix = `understudy-test:${randomBytes(5).toString('hex')}:`;
  const file = join(tmp.dir, 'understudy.json');
  const provider = (id: string) => ({
    id,
    type: 'openai',
    baseUrl: `${sim.url}/p/${id}/v1`,
    apiKey: `sk-test-${id}-0123456789`,
    allowPrivate: true,
  });
  writeFileSync(
    file,
    JSON.stringify({
      organization: { name: 'Acme', defaultModel: 'prim', fallback: 'automatic' },
      admin: { ...ADMIN, name: 'Ada Admin' },
      providers: [provider('pa'), provider('pb')],
      models: [
        { id: 'prim', provider: 'pa', upstream: 'gpt-4o', tier: 3, contextWindow: 128000 },
        { id: 'back', provider: 'pb', upstream: 'gpt-4o-mini', tier: 3, contextWindow: 128000 },
      ],
    }),
  );
  const env = {
    REDIS_URL: REDIS_TEST_URL,
    UNDERSTUDY_REDIS_PREFIX: prefix,
    UNDERSTUDY_DEMO: 'off',
    UNDERSTUDY_CONFIG: file,
    // One secret for both: each decrypts the provider keys the other stored.
    UNDERSTUDY_SECRET: randomBytes(32).toString('hex'),
  };
  const servers: RunningServer[] = [];
  try {
    for (const name of ['A', 'B'])
      servers.push(await startTestServer({ backend, dataDir: join(tmp.dir, name), env }));
    const [A, B] = servers as [RunningServer, RunningServer];
    const viaA = new Client(A.url);
    assert.equal((await viaA.post('/api/auth/login', ADMIN)).status, 200);
    const viaB = Object.assign(new Client(B.url), { cookie: viaA.cookie, csrf: viaA.csrf });
    const orgId = (await viaA.get<{ organization: { id: string } }>('/api/auth/session')).body.organization
      .id;
    const breakers = [
      ...['pa', 'pb'].map((p) => ({ scope: 'provider' as const, id: `${orgId}/${p}` })),
      ...['prim', 'back'].map((m) => ({ scope: 'model' as const, id: `${orgId}/${m}` })),
    ];
    await fn({ sim, servers: [A, B], viaA, viaB, breakers });
  } finally {
    for (const s of servers) await s.close();
    await sim.close();
    await backend.dispose();
    tmp.remove();
    await dropRedisPrefix(prefix);
  }
}

test('the web chat under concurrent actions through two instances', { timeout: 300_000 }, async (t) => {
  await withTwoInstances(t, async ({ sim, servers, viaA, viaB, breakers }) => {
    const member = new Member([viaA, viaB]);
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        faultArb,
        faultArb,
        fc.array(actionArb(2), { minLength: 2, maxLength: 12 }),
        async (primary, backup, actions) => {
          sim.clearFaults();
          for (const s of servers) for (const key of breakers) await s.ctx.health.reset(key);
          if (primary) sim.setFault({ ...primary, provider: 'pa' });
          if (backup) sim.setFault({ ...backup, provider: 'pb' });
          const stage = await member.stage();
          const done = await member.actAll(actions, stage);
          const said = `${JSON.stringify({ primary, backup })} ${describe(done)}`;
          checkActions(done, seen, said);
          await untilQuiet(servers, sim);
          await checkConversations(member, done, stage, WORDS, said);
        },
      ),
      searchOptions(60, 150_000),
    );
    t.diagnostic(`actions: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
    // Outcomes a default run reaches with room to spare (a retry that runs is rarer here: not required).
    for (const outcome of ['send 409', 'stop 200', 'delete 204', 'deleteMate 204'])
      assert.ok((seen.get(outcome) ?? 0) > 0, `the search reached ${outcome}`);
  });
});

test('a follower on another instance is told when the conversation is deleted', async (t) => {
  await withTwoInstances(t, async ({ sim, viaA, viaB }) => {
    const mate = (await viaA.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
    const conv = (await viaA.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
    // A writes an answer that stalls after 3 words, long enough to follow it through B.
    sim.setFault({ provider: 'pa', fault: 'stall_after', after: 3 });
    const sent = await rawPost(viaA, `/api/conversations/${conv}/messages`, { content: 'Hello?' });
    const head = await readSse(sent, { until: (e) => e.event === 'text' });
    const id = String(head[0]!.data.assistantMessageId);
    const followed = fetch(`${viaB.base}/api/conversations/${conv}/messages/${id}/events`, {
      headers: { cookie: viaB.cookie ?? '' },
      signal: AbortSignal.timeout(20_000),
    }).then((r) => readSse(r, { timeoutMs: 15_000 }));
    // B reads it from the database (A writes it): delete the conversation once B has begun.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await viaA.del(`/api/conversations/${conv}`)).status, 204);
    const events = await followed;
    assert.equal(events[0]?.event, 'start', JSON.stringify(events));
    const end = events.at(-1);
    assert.equal(
      end?.event,
      'error',
      `the follower's stream ends with its final event: ${JSON.stringify(events)}`,
    );
    assert.equal((end.data.error as { reason: string }).reason, 'deleted');
  });
});
