/**
 * `npm start` as a real process: first-run setup printed in the log, and SIGTERM lets an answer in
 * flight finish and be saved before the process exits.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client, PASSWORD, rawPost, readSse, tempDir, waitFor } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

function start(dataDir: string): { child: ChildProcess; output: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      UNDERSTUDY_DATA_DIR: dataDir,
      UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '30',
      LOG_LEVEL: 'info',
      UNDERSTUDY_SHUTDOWN_GRACE_MS: '10000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output, exited };
}

test('npm start: first-run setup, graceful SIGTERM', async () => {
  const tmp = tempDir();
  let proc = start(tmp.dir);
  try {
    const url = await waitFor(
      'listening',
      async () => /Understudy is listening on (http:\/\/[^\s"]+)/.exec(proc.output.join(''))?.[1],
      20_000,
    );
    const token = /setup\?token=([A-Za-z0-9_-]+)/.exec(proc.output.join(''))?.[1];
    assert.ok(token, 'the setup link is printed');
    const owner = new Client(url.replace('localhost', '127.0.0.1'));
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
    const url2 = await waitFor(
      'listening again',
      async () => /Understudy is listening on (http:\/\/[^\s"]+)/.exec(proc.output.join(''))?.[1],
      20_000,
    );
    const again = new Client(url2.replace('localhost', '127.0.0.1'));
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
    proc.child.kill('SIGTERM');
    await proc.exited;
    tmp.remove();
  }
});
