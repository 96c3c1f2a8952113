/**
 * Restarts on SQLite and PostgreSQL: stop the server, start it again on the same data, and
 * everything is there (sessions, API keys, encrypted provider keys, settings, conversations).
 * A graceful stop saves an answer in flight as interrupted; one left in progress by a crash is
 * marked interrupted at start.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';
import { openStorage, storageConfig } from '../src/storage/index.js';
import { Client, forEachBackend, rawPost, readSse, setupOwner, startTestServer, tempDir } from './helpers.js';

interface Msg {
  id: string;
  status: string;
  content: string;
}

test('restart keeps everything', async (t) => {
  await forEachBackend(t, async (_t, backend) => {
    const tmp = tempDir();
    const env = { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '5', UNDERSTUDY_SHUTDOWN_GRACE_MS: '300' };
    let server = await startTestServer({ backend, dataDir: tmp.dir, env });
    try {
      const before = await setupOwner(server);
      let owner = before;
      const orgId = (await owner.get<{ organization: { id: string } }>('/api/auth/session')).body.organization
        .id;
      const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'k' })).body.key;
      await owner.post('/api/admin/providers', {
        id: 'acme',
        type: 'openai',
        label: 'Acme',
        baseUrl: 'https://93.184.215.14/v1',
        apiKey: 'sk-acme-secret-0123456789',
      });
      await owner.put('/api/admin/settings', { fallback: { mode: 'specific', model: 'sim-b-small' } });
      const mate = (
        await owner.post<{ id: string }>('/api/mates', { name: 'Ada', instructions: 'Be brief.' })
      ).body.id;
      const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
      const first = await readSse(
        await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'First' }),
      );
      assert.equal(first.at(-1)?.event, 'done');

      // An answer still streaming when the server stops (past the grace period) is saved as interrupted.
      server.demo!.simulator.setFault({
        provider: server.demo!.simName(orgId, 'sim-a'),
        fault: 'stall_after',
        after: 3,
      });
      const res = await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'Second' });
      const head = await readSse(res, { until: (e) => e.event === 'text' });
      const inflight = head[0]!.data.assistantMessageId as string;
      await server.close();

      // A crash leaves a message in progress: simulate it directly in the database.
      const storage = await openStorage(storageConfig(tmp.dir, backend.databaseUrl));
      const saved = await storage.db
        .selectFrom('messages')
        .selectAll()
        .where('id', '=', inflight)
        .executeTakeFirstOrThrow();
      assert.equal(saved.status, 'interrupted');
      assert.ok(saved.content.length > 0, 'partial text kept');
      const crashed = {
        ...saved,
        id: `${saved.id}x`,
        seq: saved.seq + 1,
        status: 'in_progress' as const,
        content: 'half an ans',
      };
      await storage.db.insertInto('messages').values(crashed).execute();
      await storage.close();

      server = await startTestServer({ backend, dataDir: tmp.dir, env });
      // The old session cookie still works (same browser, the server's new port).
      owner = Object.assign(new Client(server.url), { cookie: before.cookie, csrf: before.csrf });
      const s = await owner.get<{ user: { email: string } }>('/api/auth/session');
      assert.equal(s.status, 200);
      assert.equal(s.body.user.email, 'owner@example.com');
      const msgs = (await owner.get<{ messages: Msg[] }>(`/api/conversations/${conv}`)).body.messages;
      assert.deepEqual(
        msgs.map((m) => m.status),
        ['complete', 'complete', 'complete', 'interrupted', 'interrupted'],
      );
      assert.equal(msgs.at(-1)?.content, 'half an ans');
      assert.deepEqual((await owner.get('/api/admin/settings')).body.fallback, {
        mode: 'specific',
        model: 'sim-b-small',
      });
      const providers = (
        await owner.get<{ providers: { id: string }[] }>('/api/admin/providers')
      ).body.providers.map((p) => p.id);
      assert.deepEqual(providers.sort(), ['acme', 'sim-a', 'sim-b']);
      const row = await server.ctx.db
        .selectFrom('providers')
        .selectAll()
        .where('slug', '=', 'acme')
        .executeTakeFirstOrThrow();
      assert.equal(server.ctx.box.open(row.api_key_enc!), 'sk-acme-secret-0123456789');
      // The API key works and the demo providers were re-provisioned without duplicates.
      const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0 });
      const models = (await client.models.list()).data.map((m) => m.id);
      assert.equal(models.filter((m) => m === 'sim-a-large').length, 1);
      // Retry the interrupted answer after the restart.
      const last = msgs.at(-1)!;
      const retried = await readSse(
        await rawPost(owner, `/api/conversations/${conv}/messages/${last.id}/retry`, {}),
      );
      assert.equal(retried.at(-1)?.event, 'done');
      // Setup cannot be run again.
      assert.equal(server.ctx.setupToken, undefined);
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});

test('fallback activity still buffered at a graceful stop is there after the restart', async (t) => {
  await forEachBackend(t, async (_t, backend) => {
    const tmp = tempDir();
    // Never written by the timer: only the stop can save these events.
    const start = () =>
      startTestServer({
        backend,
        dataDir: tmp.dir,
        env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '2' },
        activityFlushMs: 600_000,
      });
    let server = await start();
    try {
      const owner = await setupOwner(server);
      const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'k' })).body.key;
      await owner.put('/api/admin/demo/providers/sim-a/outage', { fault: 'overloaded' });
      const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0 });
      const r = await client.chat.completions.create({
        model: 'sim-a-large',
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.notEqual(r.model, 'sim-a-large', 'answered by a backup');
      const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
      const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
      const events = await readSse(
        await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'Hi' }),
      );
      assert.ok(events.some((e) => e.event === 'fallback'));
      assert.equal(server.ctx.fallbacks.pendingCount, 2, 'not written yet');
      await server.close();

      server = await start();
      const again = Object.assign(new Client(server.url), { cookie: owner.cookie, csrf: owner.csrf });
      const activity = await again.get<{ events: { surface: string; mate: { name: string } | null }[] }>(
        '/api/admin/fallback-activity',
      );
      assert.equal(activity.status, 200);
      assert.deepEqual(
        activity.body.events.map((e) => [e.surface, e.mate?.name ?? null]),
        [
          ['chat', 'Ada'],
          ['api', null],
        ],
      );
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
