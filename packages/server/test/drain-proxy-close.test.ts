/**
 * The drain's refusal for a proxy that asks for it (`x-understudy-drain-refusal: close`, as
 * docs/nginx-understudy.conf sets): the connection closes with no response byte, which nginx resends
 * to another instance, a POST too. Clients without the header still get the 503 with Retry-After,
 * and /readyz answers 503 to everyone. (The whole path behind nginx: nginx-rolling-restart.test.ts.)
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { rawPost, readSse, setupOwner, startTestServer, tempDir } from './helpers.js';

/** Sends `request` on a new connection; what came back before the server closed it. */
function raw(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname);
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    // A reset (the body was never read) is a close too; what came before it is the answer.
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
    s.setTimeout(5000, () => reject(new Error(`no close within 5 s; got ${JSON.stringify(got)}`)));
    s.write(request);
  });
}

const post = (path: string, body: string, extra = '') =>
  `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
  `content-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nhost: x\r\n${extra}\r\n`;
const PROXY = 'x-understudy-drain-refusal: close\r\n';

test('a proxy that asks for it is refused during the drain by a closed connection; others get 503', async () => {
  const tmp = tempDir();
  const server = await startTestServer({
    backend: { name: 'sqlite', dispose: () => Promise.resolve() },
    dataDir: tmp.dir,
  });
  let closed: Promise<void> | undefined;
  try {
    const owner = await setupOwner(server);
    const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
    const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
    const sent = await readSse(
      await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'hi' }),
    );
    const answer = sent[0]?.data.assistantMessageId as string;
    closed = server.close({ minDrainMs: 3000 });

    const completion = JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
    const cookie = `cookie: ${owner.cookie}\r\n`;
    // Refused by the drain's hook (before auth) and by a route that follows work (a finished answer).
    const v1 = await raw(server.url, post('/v1/chat/completions', completion, PROXY));
    assert.equal(v1, '', 'a proxied POST gets no response: the proxy resends it');
    const events = await raw(
      server.url,
      get(`/api/conversations/${conv}/messages/${answer}/events`, cookie + PROXY),
    );
    assert.equal(events, '', 'a proxied follow of an answer not running here gets no response');

    const direct = await raw(server.url, post('/v1/chat/completions', completion));
    assert.match(direct, /^HTTP\/1\.1 503 /, 'a client without the header still gets the 503');
    assert.match(direct, /\r\nretry-after: 1\r\n/i);
    assert.match(direct, /server_shutting_down/);
    const ready = await raw(server.url, get('/readyz', PROXY));
    assert.match(ready, /^HTTP\/1\.1 503 /, '/readyz answers 503 through the proxy too');
    assert.match(ready, /shutting_down/);
  } finally {
    await (closed ?? server.close());
    tmp.remove();
  }
});
