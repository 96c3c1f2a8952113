/**
 * A graceful stop past its grace period with OpenAI-API requests in flight: a stream gets an
 * in-band error before its connection closes, a non-streaming request a 503; both in OpenAI's
 * shape, so a client knows to retry. (Within the grace period they finish: start.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postCompletion, setupOwner, startTestServer, tempDir } from './helpers.js';

test('stop past the grace period: API clients are told, in-band when streaming', async () => {
  const tmp = tempDir();
  // About 6 s per answer against a 300 ms grace period.
  const server = await startTestServer({
    backend: { name: 'sqlite', dispose: () => Promise.resolve() },
    dataDir: tmp.dir,
    env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '100', UNDERSTUDY_SHUTDOWN_GRACE_MS: '300' },
  });
  let closed: Promise<void> | undefined;
  try {
    const owner = await setupOwner(server);
    const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'k' })).body.key;
    const complete = (stream: boolean) => postCompletion(server.url, key, stream, 'a long answer');
    const whole = complete(false);
    const res = await complete(true);
    assert.equal(res.status, 200, 'the stream began');
    const t0 = Date.now();
    closed = server.close();
    const text = await res.text();
    const data = text
      .split('\n\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6));
    assert.notEqual(data.at(-1), '[DONE]');
    const last = JSON.parse(data.at(-1)!) as { error?: { code: string; type: string } };
    assert.deepEqual(
      { code: last.error?.code, type: last.error?.type },
      { code: 'server_shutting_down', type: 'server_error' },
      'the last event is an in-band error',
    );
    assert.ok(Date.now() - t0 < 3000, 'cut after the grace period, not at the end of the answer');
    const cut = await whole;
    assert.equal(cut.status, 503);
    assert.equal(((await cut.json()) as { error: { code: string } }).error.code, 'server_shutting_down');
    await closed;
  } finally {
    await (closed ?? server.close());
    tmp.remove();
  }
});
