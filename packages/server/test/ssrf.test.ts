/**
 * SSRF at connect time (SPEC §6): a provider's name that re-resolves to a private address after it
 * was saved (DNS rebinding) is refused unless the provider, or the deployment, allows private
 * addresses; and the address classes the deny list must know (metadata hosts, non-global ranges).
 */
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { ModelConfig, ProviderConfig, ProviderEvent } from '@understudy/engine';
import { request } from 'undici';
import { newId, nowIso } from '../src/storage/index.js';
import {
  checkProviderUrl,
  classifyAddress,
  createProviderNetwork,
  guardedLookup,
  type Lookup,
} from '../src/security/index.js';
import { forEachBackend, setupOwner, startTestServer, tempDir } from './helpers.js';

/** What the test's names resolve to; changed between save and connect, as a rebinding DNS would. */
function switchableResolver(first: string): { resolve: Lookup; answer(address: string): void } {
  let address = first;
  const resolve = ((_host: string, _opts: object, cb: (e: Error | null, a: LookupAddress[]) => void) =>
    cb(null, [{ address, family: address.includes(':') ? 6 : 4 }])) as unknown as Lookup;
  return { resolve, answer: (a) => (address = a) };
}

/** A loopback "internal service" that answers like an OpenAI-compatible provider. */
async function internalService(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'internal-secret' }] }));
      return;
    }
    req.resume();
    res.setHeader('content-type', 'text/event-stream');
    res.end('data: {"choices":[{"delta":{"content":"internal-secret"}}]}\n\ndata: [DONE]\n\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Calls a guarded lookup the way `net.connect` does, resolving with the error or the address. */
function lookupOnce(lookup: ReturnType<typeof guardedLookup>, all: boolean): Promise<Error | string> {
  return new Promise((res) =>
    lookup('rebind.test', { all }, (e, a) =>
      res(e ?? (typeof a === 'string' ? a : (a as LookupAddress[]).map((x) => x.address).join(','))),
    ),
  );
}

test('SSRF: the connect-time lookup refuses private addresses unless the provider may reach them', async () => {
  const dns = switchableResolver('93.184.216.34');
  const strict = guardedLookup({ allowPrivate: false, resolve: dns.resolve });
  const open = guardedLookup({ allowPrivate: true, resolve: dns.resolve });
  assert.equal(await lookupOnce(strict, false), '93.184.216.34');
  for (const address of ['127.0.0.1', '10.1.2.3', '192.168.0.7', '::1', 'fd12::1', '198.18.0.1']) {
    dns.answer(address);
    for (const all of [false, true]) {
      const refused = await lookupOnce(strict, all);
      assert.ok(refused instanceof Error, `${address} must be refused`);
      assert.match(
        refused.message,
        new RegExp(`resolves to ${address.replace(/\./g, '\\.')}, a private address`),
      );
      assert.equal((refused as Error & { code?: string }).code, 'EADDRNOTAVAIL');
    }
    // The simulator's and an operator's Ollama rule: private addresses are theirs to reach.
    assert.equal(await lookupOnce(open, false), address);
  }
  // Metadata stays refused whatever the allowance.
  dns.answer('168.63.129.16');
  assert.match(String(await lookupOnce(open, false)), /forbidden address/);
});

/** The one model of the connect-time tests, on provider `p`. */
const model: ModelConfig = {
  id: 'm',
  providerId: 'p',
  upstreamModel: 'm',
  label: 'M',
  tier: 1,
  capabilities: [],
  tags: [],
  enabled: true,
};

/** The text `p` answers through `network`'s engine-path client (the test model, one short message). */
async function answerThrough(
  network: ReturnType<typeof createProviderNetwork>,
  p: ProviderConfig,
): Promise<string> {
  let text = '';
  const events: AsyncIterable<ProviderEvent> = network.client.stream(
    { provider: p, model },
    { messages: [{ role: 'user', content: 'Hi' }] },
    AbortSignal.timeout(5000),
  );
  for await (const ev of events) if (ev.type === 'text') text += ev.text;
  return text;
}

test('SSRF: provider connections choose their rule by the provider (engine path)', async () => {
  const { server, port } = await internalService();
  const dns = switchableResolver('93.184.216.34');
  const network = createProviderNetwork({ allowPrivate: false, resolve: dns.resolve });
  const provider = (allowPrivate: boolean): ProviderConfig => ({
    id: 'p',
    type: 'openai-compatible',
    label: 'P',
    baseUrl: `http://rebind.test:${port}/v1`,
    ...(allowPrivate && { allowPrivate }),
  });
  const answer = (p: ProviderConfig) => answerThrough(network, p);
  try {
    // Saved while it resolved publicly; now the name points at this machine.
    dns.answer('127.0.0.1');
    await assert.rejects(
      answer(provider(false)),
      /refused to connect to rebind\.test: it resolves to 127\.0\.0\.1/,
    );
    assert.equal(await answer(provider(true)), 'internal-secret');
    // A request of an allowed provider opened a pooled socket to that origin: another provider's
    // request must not ride on it.
    await assert.rejects(answer(provider(false)), /resolves to 127\.0\.0\.1, a private address/);
  } finally {
    await network.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
  // The deployment's allowance (UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS) opens private addresses to every provider.
  const { server: again, port: port2 } = await internalService();
  const allowed = createProviderNetwork({ allowPrivate: true, resolve: dns.resolve });
  try {
    const res = await request(`http://rebind.test:${port2}/v1/models`, {
      dispatcher: allowed.dispatcherFor(provider(false)),
    });
    assert.match(await res.body.text(), /internal-secret/);
  } finally {
    await allowed.destroy();
    await new Promise<void>((r) => again.close(() => r()));
  }
});

test('SSRF: a provider saved as a literal private IP is refused at connect time once the allowance is off', async () => {
  const { server, port } = await internalService();
  const provider = (host: string, allowPrivate = false): ProviderConfig => ({
    id: 'p',
    type: 'openai-compatible',
    label: 'P',
    baseUrl: `http://${host}:${port}/v1`,
    ...(allowPrivate && { allowPrivate }),
  });
  // Saved while UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS was on; the server now runs without it.
  const strict = createProviderNetwork({ allowPrivate: false });
  const open = createProviderNetwork({ allowPrivate: true });
  try {
    await assert.rejects(
      answerThrough(strict, provider('127.0.0.1')),
      /refused to connect to 127\.0\.0\.1: it resolves to 127\.0\.0\.1, a private address this provider may not reach/,
    );
    // Test connection's path (a bare dispatcher) gives the same refusal, with the name path's code.
    await assert.rejects(
      request(`http://127.0.0.1:${port}/v1/models`, {
        dispatcher: strict.dispatcherFor(provider('127.0.0.1')),
      }),
      (err: Error & { code?: string }) =>
        /resolves to 127\.0\.0\.1, a private address/.test(err.message) && err.code === 'EADDRNOTAVAIL',
    );
    await assert.rejects(
      request(`http://[::1]:${port}/v1/models`, { dispatcher: strict.dispatcherFor(provider('[::1]')) }),
      /refused to connect to ::1: it resolves to ::1, a private address/,
    );
    // An operator-declared provider (allowPrivate) keeps its allowance; so does the deployment's.
    assert.equal(await answerThrough(strict, provider('127.0.0.1', true)), 'internal-secret');
    assert.equal(await answerThrough(open, provider('127.0.0.1')), 'internal-secret');
    // Metadata and link-local literals stay refused whatever the allowance.
    await assert.rejects(
      request('http://169.254.169.254/latest/meta-data/', {
        dispatcher: open.dispatcherFor(provider('x', true)),
      }),
      /refused to connect to 169\.254\.169\.254: it resolves to 169\.254\.169\.254, a forbidden address/,
    );
  } finally {
    await strict.destroy();
    await open.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('SSRF: Test connection refuses a provider whose name now resolves to loopback; the simulator still answers', async (t) => {
  await forEachBackend(t, async (_t, backend) => {
    const tmp = tempDir();
    const { server: internal, port } = await internalService();
    const dns = switchableResolver('93.184.216.34');
    const server = await startTestServer({
      backend,
      dataDir: tmp.dir,
      env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '0' },
      resolve: dns.resolve,
    });
    try {
      const owner = await setupOwner(server);
      const org = await server.ctx.db.selectFrom('organizations').select('id').executeTakeFirstOrThrow();
      // The row as the admin API saved it while rebind.test resolved to a public address (the
      // save-time check resolves through the system's DNS, which knows no such name).
      const now = nowIso();
      await server.ctx.db
        .insertInto('providers')
        .values({
          id: newId(),
          org_id: org.id,
          slug: 'rebound',
          type: 'openai-compatible',
          label: 'Rebound',
          base_url: `http://rebind.test:${port}/v1`,
          api_key_enc: null,
          api_version: null,
          headers_json: null,
          source: 'admin',
          allow_private: 0,
          created_at: now,
          updated_at: now,
        })
        .execute();
      server.ctx.catalogs.invalidate(org.id);
      dns.answer('127.0.0.1');
      const refused = await owner.post<{ ok: boolean; error?: { message: string } }>(
        '/api/admin/providers/rebound/test',
        {},
      );
      assert.equal(refused.status, 200);
      assert.equal(refused.body.ok, false, 'the internal service must not be reached');
      assert.match(
        refused.body.error?.message ?? '',
        /refused to connect to rebind\.test: it resolves to 127\.0\.0\.1, a private address/,
      );
      assert.doesNotMatch(JSON.stringify(refused.body), /internal-secret/);
      const sim = await owner.post<{ ok: boolean }>('/api/admin/providers/sim-a/test', {});
      assert.equal(sim.body.ok, true, JSON.stringify(sim.body));
    } finally {
      await server.close();
      await new Promise<void>((r) => internal.close(() => r()));
      tmp.remove();
    }
  });
});

test('SSRF: metadata hosts are forbidden and every non-global range is private', async () => {
  for (const ip of ['168.63.129.16', '192.0.0.192', '::ffff:168.63.129.16', '::ffff:192.0.0.192'])
    assert.equal(classifyAddress(ip), 'blocked', ip);
  for (const ip of [
    '198.18.0.1', // benchmarking 198.18.0.0/15
    '198.19.255.254',
    '192.0.2.1', // documentation
    '198.51.100.1',
    '203.0.113.1',
    '192.0.0.8', // IETF protocol assignments
    '192.88.99.1', // 6to4 relay anycast
    '255.255.255.255', // broadcast (inside the blocked 240/4 too)
    '2001:db8::1', // documentation
    '100::1', // discard-only 100::/64
    '2001:2::1', // benchmarking
    '2001:20::1', // ORCHIDv2
    '3fff::1', // documentation (RFC 9637)
    '5f00::1', // segment routing
    '4000::1', // outside 2000::/3, global unicast's only range
  ]) {
    const kind = classifyAddress(ip);
    assert.ok(kind !== 'public', `${ip} is ${kind}`);
  }
  for (const ip of ['198.18.0.1', '2001:db8::1', '100::1', '4000::1'])
    assert.equal(classifyAddress(ip), 'private', ip);
  for (const ip of ['8.8.8.8', '168.63.129.17', '198.20.0.1', '2606:4700::1111', '2a00:1450:4001::1'])
    assert.equal(classifyAddress(ip), 'public', ip);
  for (const url of ['http://168.63.129.16/', 'http://192.0.0.192/']) {
    const v = await checkProviderUrl(url, { allowPrivate: true });
    assert.equal(v.ok, false, url);
    assert.match(v.ok ? '' : v.message, /a forbidden address/, url);
  }
  for (const url of ['http://198.18.0.1/v1', 'http://[2001:db8::1]/v1', 'http://[100::1]/v1']) {
    assert.equal((await checkProviderUrl(url, { allowPrivate: false })).ok, false, url);
    assert.equal((await checkProviderUrl(url, { allowPrivate: true })).ok, true, url);
  }
});
