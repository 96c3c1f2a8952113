/**
 * Recorded wire fixtures served from a local server: exact events for every stream and body, and
 * exact reason/status/code/retry-after for every error response, with the key never echoed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ProviderEvent } from '@understudy/engine';
import { Agent } from 'undici';
import { createProviderClient } from '../src/index.js';
import {
  KEY,
  TYPE_OF,
  baseUrlFor,
  collect,
  errorFixtures,
  expected,
  fixtureBytes,
  jsonFixtures,
  model,
  outcome,
  provider,
  shape,
  startServer,
  streamFixtures,
  type Protocol,
  type TestServer,
} from './helpers.js';

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array | string;
}

const PATHS: Record<Protocol, string> = {
  openai: '/v1/chat/completions',
  anthropic: '/v1/messages',
  google: '/v1beta/models/test-model:streamGenerateContent?alt=sse',
};

let server: TestServer;
let reply: Reply = { status: 500, headers: {}, body: '' };
const agent = new Agent({ keepAliveTimeout: 10_000 });
const client = createProviderClient({ dispatcher: agent });

before(async () => {
  server = await startServer((_req, res) => {
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body);
  });
});
after(async () => {
  await agent.close();
  await server.close();
});

function run(protocol: Protocol) {
  return collect(
    client.stream(
      { provider: provider(TYPE_OF[protocol], baseUrlFor(protocol, server.origin)), model: model() },
      { messages: [{ role: 'user', content: 'Hi' }] },
      new AbortController().signal,
    ),
  );
}

for (const protocol of ['openai', 'anthropic', 'google'] as const) {
  describe(`${protocol} fixtures over HTTP`, () => {
    for (const name of streamFixtures(protocol)) {
      test(`stream ${name}`, async () => {
        reply = {
          status: 200,
          headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
          body: fixtureBytes(protocol, `${name}.sse`),
        };
        const r = await run(protocol);
        const want = expected(protocol, name);
        const open: ProviderEvent = { type: 'open' };
        assert.deepEqual(outcome(r), { ...want, events: [open, ...want.events] });
        assert.ok(!r.error?.message.includes(KEY));
        const last = server.requests.at(-1);
        assert.equal(last?.url, PATHS[protocol]);
      });
    }

    for (const name of jsonFixtures(protocol)) {
      test(`non-streaming JSON body ${name}`, async () => {
        reply = {
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: fixtureBytes(protocol, `${name}.json`),
        };
        const r = await run(protocol);
        const want = expected(protocol, name);
        assert.deepEqual(outcome(r), { ...want, events: [{ type: 'open' }, ...want.events] });
      });
    }

    for (const f of errorFixtures(protocol)) {
      test(`error response ${f.name}`, async () => {
        reply = {
          status: f.status,
          headers: { 'content-type': 'application/json', ...f.headers },
          body: f.body,
        };
        const r = await run(protocol);
        assert.deepEqual(r.events, [], 'no open event for an error status');
        assert.ok(r.error, 'throws a ProviderError');
        assert.deepEqual(shape(r.error), f.expect);
        assert.ok(!r.error.message.includes(KEY), `key leaked: ${r.error.message}`);
        assert.ok(!JSON.stringify(r.error.toDetails()).includes(KEY));
      });
    }
  });
}

test('every protocol has recorded in-stream rate-limit and overloaded error events (SPEC §2.1)', () => {
  for (const protocol of ['openai', 'anthropic', 'google'] as const) {
    const names = streamFixtures(protocol);
    for (const [name, reason] of [
      ['error-rate-limit', 'rate_limited'],
      ['error-overloaded', 'overloaded'],
    ] as const) {
      assert.ok(names.includes(name), `${protocol}/${name}.sse is recorded`);
      assert.equal(expected(protocol, name).error?.reason, reason, `${protocol}/${name}`);
      assert.equal(
        expected(protocol, name).error?.inStream,
        true,
        `${protocol}/${name} is an in-stream event`,
      );
    }
  }
});

test('an error body is read to its end, so the keep-alive socket is reused', async () => {
  const before = server.connections;
  reply = {
    status: 429,
    headers: { 'content-type': 'application/json', 'retry-after': '1' },
    body: '{"error":{"message":"slow down","type":"rate_limit_error"}}',
  };
  for (let i = 0; i < 3; i++) assert.equal((await run('anthropic')).error?.reason, 'rate_limited');
  assert.ok(server.connections - before <= 1, `opened ${server.connections - before} connections`);
});

test('an oversized error body is cut at 64 KiB and still classified', async () => {
  reply = { status: 500, headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(5 * 1024 * 1024) };
  const r = await run('openai');
  assert.equal(r.error?.reason, 'provider_error');
  assert.equal(r.error?.status, 500);
  assert.ok((r.error?.message.length ?? 0) < 2000);
});
