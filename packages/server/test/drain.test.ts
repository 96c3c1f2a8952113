/**
 * The drain of a stopping instance, in process: new work is refused with 503, but what only ends
 * work in flight (a member's Stop) still answers. (As a real process with signals: start.test.ts
 * and drain-process.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawPost, readSse, setupOwner, startTestServer, tempDir, type ErrorBody } from './helpers.js';

test('during the drain, a member still stops their answer in flight; new work gets 503', async () => {
  const tmp = tempDir();
  // About 10 s per answer (100 ms a chunk) against a 10 s grace period: still running at the Stop.
  const server = await startTestServer({
    backend: { name: 'sqlite', dispose: () => Promise.resolve() },
    dataDir: tmp.dir,
    env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '100', UNDERSTUDY_SHUTDOWN_GRACE_MS: '10000' },
  });
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
