/**
 * A body refused for its size is answered with a 413 the client can read, not a reset while it is
 * still uploading (fetch, the OpenAI SDK and curl reported EPIPE and retried the whole upload); past
 * sixteen times the limit the server stops reading and cuts the connection. Bodies of several MiB,
 * so that they cannot sit in the kernel's socket buffers while the server answers.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { setupOwner, startTestServer, tempDir } from './helpers.js';

const MiB = 1024 * 1024;

test('a too-large body gets a readable 413; past 16x the limit the connection is cut', async (t) => {
  const tmp = tempDir();
  const server = await startTestServer({
    backend: { name: 'sqlite', dispose: () => Promise.resolve() },
    dataDir: tmp.dir,
    env: { UNDERSTUDY_BODY_LIMIT_BYTES: String(MiB) },
  });
  try {
    const owner = await setupOwner(server);
    const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'k' })).body.key;
    const completion = (content: string) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: 'default', messages: [{ role: 'user', content }] }),
        signal: AbortSignal.timeout(20_000),
      });
    for (const size of [3 * MiB, 12 * MiB]) {
      const res = await completion('x'.repeat(size));
      assert.equal(res.status, 413, `${size / MiB} MiB to /v1`);
      const body = (await res.json()) as { error: { code: string; type: string } };
      assert.equal(body.error.code, 'request_too_large');
      assert.equal(body.error.type, 'invalid_request_error');
    }
    // The web API's error handler too.
    const mate = await fetch(`${server.url}/api/mates`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        cookie: owner.cookie ?? '',
        'x-csrf-token': owner.csrf ?? '',
      },
      body: JSON.stringify({ name: 'x'.repeat(12 * MiB) }),
      signal: AbortSignal.timeout(20_000),
    });
    assert.equal(mate.status, 413, '12 MiB to /api');
    assert.equal(((await mate.json()) as { error: { code: string } }).error.code, 'request_too_large');
    // On a plain socket: the whole 12 MiB is written without a reset, and the 413 read after it.
    // (fetch above may read the early 413 before the reset arrives; a socket shows the reset.)
    const whole = await uploadRaw(server.url, key, 12 * MiB);
    assert.equal(whole.error, undefined, 'no reset while uploading');
    assert.equal(whole.written, 12 * MiB);
    assert.match(whole.response, /^HTTP\/1\.1 413 [^]*"request_too_large"/);
    // The server still answers on the same keep-alive pool.
    assert.equal((await completion('Hello')).status, 200);

    // Past 16 MiB the server stops reading: a client still writing is cut off, not read from for
    // ever (it has the 413 already).
    const cut = await uploadRaw(server.url, key, 40 * MiB);
    t.diagnostic(`40 MiB: ${cut.error ?? 'no error'} after ${(cut.written / MiB).toFixed(1)} MiB written`);
    assert.match(cut.response, /^HTTP\/1\.1 413 /);
    assert.ok(cut.error === 'ECONNRESET' || cut.error === 'EPIPE', `cut off (${cut.error})`);
    assert.ok(cut.written < 40 * MiB, 'before the whole body was written');
  } finally {
    await server.close();
    tmp.remove();
  }
});

/**
 * Writes a /v1 request with a body of `size` bytes on a plain socket, as fast as the server reads
 * it; resolves with what the server answered, the bytes written and the socket error, if any.
 */
function uploadRaw(base: string, key: string, size: number) {
  const { port } = new URL(base);
  return new Promise<{ response: string; written: number; error?: string }>((resolve) => {
    const socket = connect(Number(port), '127.0.0.1');
    let response = '';
    let written = 0;
    let error: string | undefined;
    const chunk = Buffer.alloc(MiB, 'x');
    const done = setTimeout(() => socket.destroy(), 15_000);
    // The whole body written and the whole answer read: done (the connection stays open).
    const maybeDone = () => {
      if (written >= size && /\r\n\r\n[^]*\}\}$/.test(response)) socket.destroy();
    };
    socket.on('data', (d: Buffer) => {
      response += d.toString('utf8');
      maybeDone();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code));
    socket.on('close', () => {
      clearTimeout(done);
      resolve({ response, written, ...(error !== undefined && { error }) });
    });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key}\r\n` +
        `content-type: application/json\r\ncontent-length: ${size}\r\n\r\n`,
    );
    const pump = () => {
      while (written < size && !socket.destroyed) {
        written += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
      maybeDone();
    };
    pump();
  });
}
