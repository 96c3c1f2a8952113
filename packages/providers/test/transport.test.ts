/** Transport behaviour: network failures, bounds, keep-alive reuse, Test connection. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { ChatRequest, ProviderType } from '@understudy/engine';
import { Agent } from 'undici';
import { Cancellation } from '@understudy/engine';
import { createProviderClient, testConnection } from '../src/index.js';
import { HIGH_WATER_BYTES, send } from '../src/http/index.js';
import {
  KEY,
  collect,
  fixtureBytes,
  model,
  provider,
  startServer,
  waitFor,
  type TestServer,
} from './helpers.js';

const request: ChatRequest = { messages: [{ role: 'user', content: 'Hi' }] };
const TEXT = fixtureBytes('openai', 'text.sse');

type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const routes = new Map<string, Route>();
let server: TestServer;
const agent = new Agent();
const client = createProviderClient({ dispatcher: agent });

before(async () => {
  server = await startServer((req, res) => {
    const name = req.url?.split('/')[1] ?? '';
    const route = routes.get(name);
    if (route) route(req, res);
    else res.writeHead(404).end();
  });
});
after(async () => {
  await agent.close();
  await server.close();
});

function target(route: string, type: ProviderType = 'openai') {
  return { provider: provider(type, `${server.origin}/${route}/v1`), model: model() };
}

function sse(res: http.ServerResponse, body: Uint8Array | string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end(body);
}

test('connection refused → unreachable, no open event', async () => {
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((r) => probe.close(() => r()));
  const r = await collect(
    client.stream(
      { provider: provider('openai', `http://127.0.0.1:${port}/v1`), model: model() },
      request,
      new AbortController().signal,
    ),
  );
  assert.deepEqual(r.events, []);
  assert.equal(r.error?.reason, 'unreachable');
  assert.equal(r.error?.code, 'ECONNREFUSED');
});

test('reset before any response → unreachable, flagged as eligible for the quick retry', async () => {
  routes.set('reset', (req) => req.socket.destroy());
  const r = await collect(client.stream(target('reset'), request, new AbortController().signal));
  assert.deepEqual(r.events, []);
  assert.equal(r.error?.reason, 'unreachable');
  assert.equal(r.error?.beforeResponse, true);
});

test('a stream cut mid-answer → the content so far, then interrupted', async () => {
  routes.set('cut', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"choices":[{"index":0,"delta":{"content":"héllo"}}]}\n\n', () => {
      setTimeout(() => req.socket.destroy(), 10);
    });
  });
  const r = await collect(client.stream(target('cut'), request, new AbortController().signal));
  assert.deepEqual(r.events, [{ type: 'open' }, { type: 'text', text: 'héllo' }]);
  assert.equal(r.error?.reason, 'interrupted');
  assert.equal(r.error?.inStream, true);
});

test('an endless line is a bounded error: interrupted, the socket closed, reading stopped', async () => {
  let written = 0;
  routes.set('endless', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\ndata: ');
    const piece = Buffer.alloc(16 * 1024, 0x61);
    const pump = (): void => {
      // Bounded: 64 MiB at most, far past the 64 KiB limit under test.
      while (!res.destroyed && written < 64 * 1024 * 1024) {
        written += piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
    };
    pump();
  });
  const small = createProviderClient({ dispatcher: agent, maxLineBytes: 64 * 1024 });
  const closed = server.nextClose();
  const r = await collect(small.stream(target('endless'), request, new AbortController().signal));
  assert.deepEqual(r.events, [{ type: 'open' }, { type: 'text', text: 'ok' }]);
  assert.equal(r.error?.reason, 'interrupted');
  assert.equal(r.error?.code, 'sse_line_too_long');
  assert.match(r.error?.message ?? '', /exceeds 65536 bytes/);
  await closed;
  assert.ok(written < 16 * 1024 * 1024, `server managed to write ${written} bytes`);
});

test('a non-streaming body over its bound is interrupted too', async () => {
  routes.set('bigjson', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ choices: [{ index: 0, message: { content: 'x'.repeat(200_000) } }] }));
  });
  const small = createProviderClient({ dispatcher: agent, maxBodyBytes: 100_000 });
  const r = await collect(small.stream(target('bigjson'), request, new AbortController().signal));
  assert.equal(r.error?.reason, 'interrupted');
});

test('healthy streams reuse one keep-alive socket, also when the body ends a little after [DONE]', async () => {
  routes.set('ok', (_req, res) => sse(res, TEXT));
  routes.set('late-end', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(TEXT);
    setTimeout(() => res.end(), 30);
  });
  const fresh = new Agent();
  const c = createProviderClient({ dispatcher: fresh });
  const first = server.requests.length;
  for (const route of ['ok', 'late-end', 'ok', 'late-end', 'ok']) {
    const r = await collect(c.stream(target(route), request, new AbortController().signal));
    assert.equal(r.events.at(-1)?.type, 'usage');
    assert.equal(r.error, undefined);
    // Let the drained socket return to the pool: it is free again once its body has ended.
    await waitFor(
      () => Object.values(fresh.stats).every((st) => 'free' in st && st.free === st.connected),
      2000,
      'the drain',
    );
  }
  const ports = new Set(server.requests.slice(first).map((r) => r.remotePort));
  assert.equal(ports.size, 1, 'all five requests travelled on one connection');
  await fresh.close();
});

test('after [DONE] the iterator ends at once even if the server never ends the body', async () => {
  let closed: Promise<void> | undefined;
  routes.set('never-ends', (req, res) => {
    closed = new Promise((resolve) => req.socket.once('close', () => resolve()));
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(TEXT);
  });
  const t0 = performance.now();
  const r = await collect(client.stream(target('never-ends'), request, new AbortController().signal));
  assert.equal(r.error, undefined);
  assert.deepEqual(r.events.at(-1), { type: 'usage', inputTokens: 12, outputTokens: 4 });
  assert.ok(performance.now() - t0 < 500);
  // The undrainable socket is given up after the 2 s drain grace instead of being stranded.
  assert.ok(closed);
  await closed;
  assert.ok(performance.now() - t0 < 3000);
});

test('a reader that stops reading stops the provider: the socket is paused, nothing piles up in memory', async () => {
  const TOTAL = 64 * 1024 * 1024;
  const CHUNK = 64 * 1024;
  let written = 0;
  routes.set('firehose', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const more = () => {
      while (written < TOTAL) {
        written += CHUNK;
        if (!res.write(Buffer.alloc(CHUNK, 97))) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  const res = await send(
    { method: 'GET', url: `${server.origin}/firehose`, headers: {} },
    new Cancellation(),
    agent,
    [],
  );
  const it = res.body[Symbol.asyncIterator]();
  let read = ((await it.next()).value as Uint8Array).byteLength;
  // The reader stalls. What the provider managed to write is what the kernel's socket buffers and
  // the body's queue hold, then it stops.
  await new Promise((r) => setTimeout(r, 300));
  const stalled = written;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(written, stalled, 'the provider is held back while nobody reads');
  assert.ok(stalled < TOTAL / 4, `the provider stopped early (${stalled} of ${TOTAL} bytes)`);
  assert.ok(
    res.body.queuedBytes < HIGH_WATER_BYTES + 512 * 1024,
    `the queue stays near its high-water mark (${res.body.queuedBytes} bytes)`,
  );
  // Reading again resumes the provider, and every byte arrives.
  for (let r = await it.next(); !r.done; r = await it.next()) read += r.value.byteLength;
  assert.equal(read, TOTAL);
  assert.equal(res.body.ended, true);
});

test('unknown provider type → provider_misconfigured', async () => {
  const r = await collect(
    client.stream(
      { provider: { ...provider('openai', server.origin), type: 'bedrock' as ProviderType }, model: model() },
      request,
      new AbortController().signal,
    ),
  );
  assert.equal(r.error?.reason, 'provider_misconfigured');
});

test('Azure requests reach the deployment path with api-key', async () => {
  routes.set('openai', (_req, res) => sse(res, TEXT));
  const r = await collect(
    client.stream(
      {
        provider: provider('azure-openai', server.origin, { apiVersion: '2024-06-01' }),
        model: model({ upstreamModel: 'prod-4o' }),
      },
      request,
      new AbortController().signal,
    ),
  );
  assert.equal(r.error, undefined);
  const last = server.requests.at(-1);
  assert.equal(last?.url, '/openai/deployments/prod-4o/chat/completions?api-version=2024-06-01');
  assert.equal(last?.headers['api-key'], KEY);
  assert.equal(last?.headers.authorization, undefined);
});

test('testConnection with a model: one real streamed request for 1 token', async () => {
  routes.set('tc-ok', (_req, res) => sse(res, TEXT));
  const result = await testConnection(target('tc-ok').provider, model(), undefined, { dispatcher: agent });
  assert.equal(result.ok, true);
  assert.ok(result.ok && result.latencyMs >= 0);
  const body = JSON.parse(server.requests.at(-1)?.body ?? '{}') as Record<string, unknown>;
  assert.equal(body.max_completion_tokens, 1);
  assert.equal(body.stream, true);
});

test('testConnection without a model lists models; failures come back classified, key-free', async () => {
  routes.set('tc-list', (req, res) => {
    assert.equal(req.method, 'GET');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}');
  });
  routes.set('tc-401', (_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}.`, code: 'invalid_api_key' } }),
    );
  });
  assert.equal(
    (await testConnection(target('tc-list').provider, undefined, undefined, { dispatcher: agent })).ok,
    true,
  );
  assert.equal(server.requests.at(-1)?.url, '/tc-list/v1/models');
  for (const m of [undefined, model()]) {
    const r = await testConnection(target('tc-401').provider, m, undefined, { dispatcher: agent });
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.error.reason === 'provider_misconfigured' && r.error.status === 401);
    assert.ok(!JSON.stringify(r).includes(KEY));
  }
});

test('testConnection times out, and honours the caller’s signal', async () => {
  routes.set('tc-silent', () => {});
  const slow = await testConnection(target('tc-silent').provider, model(), undefined, {
    dispatcher: agent,
    timeoutMs: 150,
  });
  assert.deepEqual(slow, { ok: false, error: { reason: 'timeout', message: 'no answer within 150 ms' } });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  const cancelled = await testConnection(target('tc-silent').provider, model(), ac.signal, {
    dispatcher: agent,
  });
  assert.ok(!cancelled.ok && cancelled.error.reason === 'cancelled');
});
