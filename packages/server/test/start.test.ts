/**
 * `npm start` as a real process: first-run setup printed in the log, and SIGTERM lets an answer in
 * flight finish and be saved before the process exits, OpenAI-API requests (streaming or not) too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, PASSWORD, postCompletion, rawPost, readSse, tempDir } from './helpers.js';
import { listeningUrl, spawnServer, stopServer, type ServerProcess } from './process-support.js';

function start(dataDir: string, env: Record<string, string> = {}): ServerProcess {
  return spawnServer({
    UNDERSTUDY_DATA_DIR: dataDir,
    UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '30',
    UNDERSTUDY_SHUTDOWN_GRACE_MS: '10000',
    ...env,
  });
}

test('npm start: first-run setup, graceful SIGTERM', async () => {
  const tmp = tempDir();
  let proc = start(tmp.dir);
  try {
    const url = await listeningUrl(proc);
    const token = /setup\?token=([A-Za-z0-9_-]+)/.exec(proc.output.join(''))?.[1];
    assert.ok(token, 'the setup link is printed');
    const owner = new Client(url);
    assert.equal(
      (
        await owner.post('/api/setup', {
          token,
          organization: 'Acme',
          name: 'O',
          email: 'o@example.com',
          password: PASSWORD,
        })
      ).status,
      201,
    );
    const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
    const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
    const res = await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'a long answer' });
    const head = await readSse(res, { until: (e) => e.event === 'text' });
    assert.equal(head[0]?.event, 'start');
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0);
    assert.doesNotMatch(proc.output.join(''), new RegExp(PASSWORD));

    proc = start(tmp.dir);
    const again = new Client(await listeningUrl(proc));
    assert.equal(
      (await again.post('/api/auth/login', { email: 'o@example.com', password: PASSWORD })).status,
      200,
    );
    const msgs = (
      await again.get<{ messages: { status: string; content: string }[] }>(`/api/conversations/${conv}`)
    ).body.messages;
    assert.equal(msgs[1]?.status, 'complete', 'the answer in flight finished before exit');
    assert.ok((msgs[1]?.content.split(' ').length ?? 0) > 20);
  } finally {
    await stopServer(proc);
    tmp.remove();
  }
});

test('SIGTERM: OpenAI-API requests in flight finish within the grace period', async () => {
  const tmp = tempDir();
  // 60 chunks 35 ms apart: each answer needs about 2 s, well past the 1 s connections used to get.
  const proc = start(tmp.dir, { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '35' });
  try {
    const owner = new Client(await listeningUrl(proc));
    const token = /setup\?token=([A-Za-z0-9_-]+)/.exec(proc.output.join(''))?.[1];
    const setup = { token, organization: 'Acme', name: 'O', email: 'o@example.com', password: PASSWORD };
    assert.equal((await owner.post('/api/setup', setup)).status, 201);
    const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'k' })).body.key;
    const complete = (stream: boolean) => postCompletion(owner.base, key, stream, 'a long answer');
    const t0 = Date.now();
    const [streamed, whole] = [complete(true), complete(false)];
    const res = await streamed;
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 500 - (Date.now() - t0)));
    proc.child.kill('SIGTERM');
    const text = await res.text();
    const chunks = text
      .split('\n\n')
      .filter((l) => l.startsWith('data: {'))
      .map(
        (l) => JSON.parse(l.slice(6)) as { choices?: { delta?: { content?: string } }[]; error?: unknown },
      );
    assert.equal(
      chunks.find((c) => c.error),
      undefined,
      'no in-band error',
    );
    assert.ok(text.trimEnd().endsWith('data: [DONE]'), 'the stream ends with [DONE]');
    const content = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
    assert.ok(content.split(' ').length > 40, `the complete answer (${content.split(' ').length} words)`);
    assert.ok(Date.now() - t0 > 1500, 'the answer went on well after SIGTERM');
    const body = (await (await whole).json()) as { choices: { message: { content: string } }[] };
    assert.equal(body.choices[0]?.message.content, content, 'the non-streaming answer completed too');
    assert.equal(await proc.exited, 0);
  } finally {
    await stopServer(proc);
    tmp.remove();
  }
});
