/**
 * The drain of a stopping instance, in process: new work is refused with 503, but what only ends
 * work in flight (a member's Stop) still answers, and so does following an answer this instance is
 * still writing. (As a real process with signals: start.test.ts and drain-process.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { rawPost, readSse, setupOwner, startTestServer, tempDir, type ErrorBody } from './helpers.js';

/** A SQLite server whose demo answers take about 10 s (100 ms a chunk), with this grace period. */
const slowServer = (dataDir: string, graceMs: number, env: Record<string, string> = {}) =>
  startTestServer({
    backend: { name: 'sqlite', dispose: () => Promise.resolve() },
    dataDir,
    env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '100', UNDERSTUDY_SHUTDOWN_GRACE_MS: String(graceMs), ...env },
  });

test('during the drain, a member still stops their answer in flight; new work gets 503', async () => {
  const tmp = tempDir();
  // About 10 s per answer against a 10 s grace period: still running at the Stop.
  const server = await slowServer(tmp.dir, 10_000);
  let closed: Promise<void> | undefined;
  try {
    const owner = await setupOwner(server);
    const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
    const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
    const res = await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'a long answer' });
    const head = await readSse(res, { until: (e) => e.event === 'text' });
    const answerId = head[0]?.data.assistantMessageId as string;
    closed = server.close();
    const t0 = Date.now();

    const again = await owner.post<ErrorBody>(`/api/conversations/${conv}/messages`, { content: 'more' });
    assert.equal(again.status, 503, 'new work is refused');
    assert.equal(again.body.error.code, 'server_shutting_down');
    assert.equal(again.headers.get('retry-after'), '1');

    const stopped = await owner.post<{ status: string }>(
      `/api/conversations/${conv}/messages/${answerId}/stop`,
    );
    assert.equal(stopped.status, 200, "the member's Stop is not refused");
    assert.equal(stopped.body.status, 'cancelled');
    await closed;
    assert.ok(Date.now() - t0 < 5000, 'the stopped answer ended the drain, not the grace period');
  } finally {
    await (closed ?? server.close());
    tmp.remove();
  }
});

test('during the drain, a member still follows their answer in flight here and pages load; reads and new work get 503', async () => {
  const tmp = tempDir();
  // A built web app of one page and one asset.
  const web = join(tmp.dir, 'web');
  mkdirSync(join(web, 'assets'), { recursive: true });
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>Understudy</title>');
  writeFileSync(join(web, 'assets', 'app.js'), 'export {};');
  // About 10 s per answer against a 2 s grace period: the followed answer is cut by the grace period.
  const server = await slowServer(tmp.dir, 2000, { UNDERSTUDY_WEB_DIST: web });
  let closed: Promise<void> | undefined;
  try {
    const owner = await setupOwner(server);
    const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
    const newConv = async () =>
      (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
    const start = async (conv: string) => {
      const res = await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'a long answer' });
      const head = await readSse(res, { until: (e) => e.event === 'text' });
      return { res, id: head[0]?.data.assistantMessageId as string };
    };
    const follow = (conv: string, answer: string) =>
      fetch(`${server.url}/api/conversations/${conv}/messages/${answer}/events`, {
        headers: { cookie: owner.cookie! },
        signal: AbortSignal.timeout(30_000),
      });
    // A finished answer (stopped before the drain) and one still being written here.
    const done = await newConv();
    const finished = await start(done);
    await finished.res.body?.cancel();
    assert.equal((await owner.post(`/api/conversations/${done}/messages/${finished.id}/stop`)).status, 200);
    const conv = await newConv();
    const running = await start(conv);
    await running.res.body?.cancel(); // the page that sent it was reloaded
    closed = server.close();
    const t0 = Date.now();

    const followed = await follow(conv, running.id);
    assert.equal(followed.status, 200, 'following an answer this instance is writing is not refused');
    assert.equal(followed.headers.get('connection'), 'close', 'the follower does not keep its connection');
    // Not in flight here: reading it is no work this instance must do; another instance serves it.
    const stored = await follow(done, finished.id);
    assert.equal(stored.status, 503, 'a finished answer is read from another instance');
    assert.equal(((await stored.json()) as ErrorBody).error.code, 'server_shutting_down');
    assert.equal(stored.headers.get('retry-after'), '1');
    for (const [what, res] of [
      ['loading a conversation', await owner.get(`/api/conversations/${conv}`)],
      ['a retry', await owner.post(`/api/conversations/${done}/messages/${finished.id}/retry`)],
      ['a new conversation', await owner.post('/api/conversations', { mateId: mate })],
      ['deleting a conversation with an answer running', await owner.del(`/api/conversations/${conv}`)],
    ] as const)
      assert.equal(res.status, 503, `${what} is refused`);
    // A reload's page and assets are files, no work: served (a refusal would show the browser a
    // bare 503), while the app's own requests are refused and retried elsewhere.
    for (const [path, type] of [
      ['/', 'text/html'],
      ['/c/a-conversation', 'text/html'],
      ['/assets/app.js', 'text/javascript'],
    ] as const) {
      const page = await fetch(`${server.url}${path}`);
      assert.equal(page.status, 200, `${path} is served during the drain`);
      assert.match(page.headers.get('content-type') ?? '', new RegExp(type));
      assert.equal(page.headers.get('connection'), 'close', 'the page does not keep its connection');
      await page.text();
    }
    const api = await fetch(`${server.url}/api/no-such-route`);
    assert.equal(api.status, 503, 'an unknown API path is refused, not served a page');
    await api.text();

    // The follower gets the text so far and the end: cut by the grace period, saved as interrupted.
    const events = await readSse(followed, { timeoutMs: 10_000 });
    assert.deepEqual(events[0], { event: 'start', data: { assistantMessageId: running.id, resumed: true } });
    assert.ok(events.some((e) => e.event === 'text'));
    const last = events.at(-1);
    assert.equal(last?.event, 'error');
    assert.equal((last?.data.message as { status: string }).status, 'interrupted');
    await closed;
    assert.ok(
      Date.now() - t0 < 5000,
      `the follower did not hold the exit past the grace period (${Date.now() - t0} ms)`,
    );
  } finally {
    await (closed ?? server.close());
    tmp.remove();
  }
});
