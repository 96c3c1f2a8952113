/**
 * Security at the edge: whose X-Forwarded-* headers are believed (UNDERSTUDY_TRUST_PROXY), and
 * brute-force protection of sign-in and invitation links (on SQLite and PostgreSQL), and who may
 * read /metrics, and what every /api and /v1 response carries (also when the router refuses a URL).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AttemptThrottle, ACCOUNT_RULE } from '../src/auth/throttle.js';
import { parseTrustProxy } from '../src/config.js';
import { checkMetricsAccess, isLoopback } from '../src/metrics/access.js';
import {
  addMember,
  Client,
  forEachBackend,
  PASSWORD,
  rawPost,
  setupOwner,
  startTestServer,
  tempDir,
  type ErrorBody,
  type LogCapture,
} from './helpers.js';

const sqlite = { name: 'sqlite' as const, dispose: async () => {} };

/** The peer address the server logged for requests to `path`. */
function loggedAddresses(capture: LogCapture, path: string): string[] {
  const out: string[] = [];
  for (const line of capture.lines) {
    const entry = JSON.parse(line) as { req?: { url?: string; remoteAddress?: string } };
    if (entry.req?.url === path && entry.req.remoteAddress) out.push(entry.req.remoteAddress);
  }
  return out;
}

/** Signs in with forwarded headers; returns the Set-Cookie header. */
async function signIn(server: { url: string }, headers: Record<string, string>): Promise<string> {
  const r = await new Client(server.url).req(
    'POST',
    '/api/auth/login',
    { email: 'owner@example.com', password: PASSWORD },
    headers,
  );
  assert.equal(r.status, 200);
  return r.headers.get('set-cookie') ?? '';
}

const FORWARDED = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' };

test('UNDERSTUDY_TRUST_PROXY: values, and a typo stops the start', () => {
  assert.equal(parseTrustProxy(undefined), 'loopback');
  assert.equal(parseTrustProxy(' '), 'loopback');
  assert.equal(parseTrustProxy('true'), true);
  assert.equal(parseTrustProxy('false'), false);
  assert.equal(
    parseTrustProxy('10.0.0.5, 192.168.0.0/16 ,loopback,::1'),
    '10.0.0.5,192.168.0.0/16,loopback,::1',
  );
  assert.throws(() => parseTrustProxy('10.0.0.0/33'), /UNDERSTUDY_TRUST_PROXY.*"10\.0\.0\.0\/33"/);
  assert.throws(() => parseTrustProxy('nginx.internal'), /UNDERSTUDY_TRUST_PROXY/);
});

test('forwarded headers count only from a trusted proxy (loopback by default)', async (t) => {
  await t.test('default: a proxy on the same host forwards the client address and https', async () => {
    const tmp = tempDir();
    const capture: LogCapture = { lines: [] };
    const server = await startTestServer({ backend: sqlite, dataDir: tmp.dir, capture });
    try {
      await setupOwner(server);
      const cookie = await signIn(server, FORWARDED);
      assert.match(cookie, /; Secure/, 'X-Forwarded-Proto: https from the proxy makes the cookie Secure');
      assert.deepEqual(loggedAddresses(capture, '/api/auth/login'), ['203.0.113.7']);
    } finally {
      await server.close();
      tmp.remove();
    }
  });

  await t.test('a peer that is not a trusted proxy forges nothing', async () => {
    const tmp = tempDir();
    const capture: LogCapture = { lines: [] };
    const server = await startTestServer({
      backend: sqlite,
      dataDir: tmp.dir,
      capture,
      env: { UNDERSTUDY_TRUST_PROXY: '10.0.0.1' },
    });
    try {
      await setupOwner(server);
      const cookie = await signIn(server, FORWARDED);
      assert.doesNotMatch(cookie, /Secure/, 'a forged X-Forwarded-Proto does not count');
      assert.deepEqual(loggedAddresses(capture, '/api/auth/login'), ['127.0.0.1']);
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});

test('the attempt throttle: blocks after the limit, longer each time, forgets, stays bounded', () => {
  let now = 0;
  const t = new AttemptThrottle({ ...ACCOUNT_RULE, maxKeys: 3 }, () => now);
  for (let i = 1; i < 5; i++) assert.equal(t.fail('a'), 0, `failure ${i} does not block`);
  assert.equal(t.fail('a'), 60, 'the 5th failure blocks for a minute');
  now += 30_000;
  assert.equal(t.waitSeconds('a'), 30);
  now += 31_000;
  assert.equal(t.waitSeconds('a'), 0, 'the block is over');
  assert.equal(t.fail('a'), 120, 'one more failure blocks again, twice as long');
  now += 121_000;
  assert.equal(t.fail('a'), 240);
  let last = 240;
  for (const want of [480, 960, 1920, 3600, 3600]) {
    now += last * 1000 + 1000;
    assert.equal(t.fail('a'), want, 'doubling, an hour at most');
    last = want;
  }
  // 15 minutes after the block ended with no failure, the key starts afresh.
  now += 3_600_000 + 15 * 60_000;
  assert.equal(t.fail('a'), 0);
  // Failures spread beyond the window do not add up.
  for (let i = 0; i < 4; i++) t.fail('b');
  now += 15 * 60_000;
  for (let i = 0; i < 4; i++) assert.equal(t.fail('b'), 0);
  t.clear('b');
  assert.equal(t.waitSeconds('b'), 0);
  for (const k of ['c', 'd', 'e', 'f']) t.fail(k);
  assert.equal(t.size, 3, 'the least recently failed keys are forgotten past the bound');
});

test('sign-in and invitation throttling', async (t) => {
  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const capture: LogCapture = { lines: [] };
    const server = await startTestServer({ backend, dataDir: tmp.dir, capture });
    try {
      const owner = await setupOwner(server);
      await addMember(server, owner, 'ben@example.com', 'member');
      await addMember(server, owner, 'cleo@example.com', 'member');
      // The client is on loopback, a trusted proxy by default: X-Forwarded-For sets its address.
      const from = (address: string) => ({ 'x-forwarded-for': address });
      const login = (email: string, password: string, address = '192.0.2.1') =>
        new Client(server.url).req<ErrorBody>('POST', '/api/auth/login', { email, password }, from(address));

      await t.test(
        'the 6th wrong password gets 429, the right one waits too, others are unaffected',
        async () => {
          for (let i = 1; i <= 5; i++)
            assert.equal(
              (await login('owner@example.com', `wrong password ${i}`)).status,
              401,
              `attempt ${i}`,
            );
          const sixth = await login('OWNER@example.com ', 'wrong password 6');
          assert.equal(sixth.status, 429);
          assert.equal(sixth.body.error.code, 'too_many_attempts');
          assert.match(
            sixth.body.error.message,
            /too many failed sign-ins for this account; try again in 1 minute$/,
          );
          const retry = Number(sixth.headers.get('retry-after'));
          assert.ok(retry > 50 && retry <= 60, `retry-after ${retry}`);
          assert.equal(
            (await login('owner@example.com', PASSWORD)).status,
            429,
            'the right password waits too',
          );
          assert.equal(
            (await login('owner@example.com', PASSWORD, '192.0.2.2')).status,
            429,
            'from anywhere',
          );
          assert.equal((await login('ben@example.com', PASSWORD)).status, 200, 'another account signs in');

          const all = capture.lines.join('\n');
          assert.ok(!all.includes('wrong password'), 'no password in the log');
          const failed = capture.lines.filter((l) => l.includes('sign-in failed'));
          assert.equal(failed.length, 5);
          const line = JSON.parse(failed[0]!) as Record<string, unknown>;
          assert.equal(line.level, 40, 'a warning');
          assert.equal(line.email, 'owner@example.com');
          assert.equal(line.address, '192.0.2.1');
          const throttledLines = capture.lines.filter((l) => l.includes('sign-in throttled'));
          assert.equal(throttledLines.length, 3);
          assert.match(throttledLines[0]!, /"level":40.*"retryAfterSeconds":\d+/);
        },
      );

      await t.test('a successful sign-in clears the account count', async () => {
        for (let i = 0; i < 4; i++)
          assert.equal((await login('cleo@example.com', 'nope nope nope')).status, 401);
        assert.equal((await login('cleo@example.com', PASSWORD)).status, 200);
        for (let i = 0; i < 4; i++)
          assert.equal((await login('cleo@example.com', 'nope nope nope')).status, 401, `after: ${i + 1}`);
      });

      await t.test('a burst sent at once is counted as it goes', async () => {
        const statuses = await Promise.all(
          Array.from({ length: 8 }, () => login('nobody@example.com', 'guess guess', '192.0.2.3')),
        );
        assert.deepEqual(statuses.map((r) => r.status).sort(), [401, 401, 401, 401, 401, 429, 429, 429]);
      });

      await t.test('one address trying many accounts is stopped after 20 failures', async () => {
        for (let i = 0; i < 20; i++)
          assert.equal((await login(`user${i}@example.com`, 'guess guess', '198.51.100.9')).status, 401);
        const r = await login('user20@example.com', 'guess guess', '198.51.100.9');
        assert.equal(r.status, 429);
        assert.match(r.body.error.message, /from your address; try again in 1 minute/);
        assert.equal(
          (await login('owner@example.com', 'x', '198.51.100.10')).status,
          429,
          'the owner is still blocked',
        );
        assert.equal(
          (await login('cleo@example.com', PASSWORD, '198.51.100.10')).status,
          200,
          'another address',
        );
      });

      await t.test('guessing invitation links is throttled per address', async () => {
        const guesser = new Client(server.url);
        const addr = from('198.51.100.20');
        for (let i = 0; i < 20; i++)
          assert.equal(
            (await guesser.req('GET', `/api/invitations/inv_guess${i}`, undefined, addr)).status,
            404,
          );
        const blocked = await guesser.req<ErrorBody>('GET', '/api/invitations/inv_guess20', undefined, addr);
        assert.equal(blocked.status, 429);
        assert.ok(Number(blocked.headers.get('retry-after')) > 0);
        const inv = await owner.post<{ token: string }>('/api/admin/invitations', {
          email: 'dan@example.com',
          role: 'member',
        });
        const body = { token: inv.body.token, name: 'Dan', password: PASSWORD };
        assert.equal((await guesser.req('POST', '/api/invitations/accept', body, addr)).status, 429);
        assert.equal(
          (await new Client(server.url).req('POST', '/api/invitations/accept', body, from('198.51.100.21')))
            .status,
          201,
          'from another address the link works',
        );
        assert.ok(capture.lines.some((l) => l.includes('invitation throttled')));
      });
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});

test('/metrics: without a token only this machine, directly; with one, its bearer', async (t) => {
  await t.test('the rule', () => {
    for (const a of ['127.0.0.1', '127.8.9.1', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a);
    for (const a of ['10.1.2.3', '::ffff:10.1.2.3', '2001:db8::1', undefined, 'nonsense'])
      assert.ok(!isLoopback(a), String(a));
    const req = (remoteAddress: string, headers: Record<string, string> = {}) => ({
      socket: { remoteAddress },
      headers,
    });
    assert.doesNotThrow(() => checkMetricsAccess(req('127.0.0.1'), undefined));
    assert.throws(() => checkMetricsAccess(req('10.1.2.3'), undefined), /UNDERSTUDY_METRICS_TOKEN/);
    assert.throws(
      () => checkMetricsAccess(req('127.0.0.1', { forwarded: 'for=203.0.113.7' }), undefined),
      /only direct connections/,
    );
    assert.doesNotThrow(() => checkMetricsAccess(req('10.1.2.3', { authorization: 'Bearer t0k' }), 't0k'));
    assert.throws(() => checkMetricsAccess(req('127.0.0.1'), 't0k'), /Bearer/);
  });

  const scrape = (url: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/metrics`, { headers, signal: AbortSignal.timeout(10_000) });

  await t.test('no token: a direct loopback scrape works, a proxied one is refused', async () => {
    const tmp = tempDir();
    const server = await startTestServer({ backend: sqlite, dataDir: tmp.dir });
    try {
      const direct = await scrape(server.url);
      assert.equal(direct.status, 200);
      assert.match(await direct.text(), /understudy_http_requests_total/);
      for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
        const proxied = await scrape(server.url, { [header]: '203.0.113.7' });
        assert.equal(proxied.status, 403, header);
        const body = (await proxied.json()) as ErrorBody;
        assert.equal(body.error.code, 'forbidden');
        assert.match(body.error.message, /UNDERSTUDY_METRICS_TOKEN/);
      }
    } finally {
      await server.close();
      tmp.remove();
    }
  });

  await t.test('a token: its bearer is required, from anywhere', async () => {
    const tmp = tempDir();
    const token = 'metrics-token-0123456789';
    const server = await startTestServer({
      backend: sqlite,
      dataDir: tmp.dir,
      env: { UNDERSTUDY_METRICS_TOKEN: token },
    });
    try {
      assert.equal((await scrape(server.url)).status, 401, 'loopback without the bearer');
      assert.equal((await scrape(server.url, { authorization: 'Bearer wrong' })).status, 401);
      assert.equal((await scrape(server.url, { authorization: `Bearer ${token}` })).status, 200);
      const proxied = await scrape(server.url, {
        authorization: `Bearer ${token}`,
        'x-forwarded-for': '203.0.113.7',
      });
      assert.equal(proxied.status, 200, 'through a proxy with the bearer');
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});

test('/api and /v1 responses are no-store and nosniff; the router refuses URLs in our shapes', async () => {
  const tmp = tempDir();
  const server = await startTestServer({
    backend: sqlite,
    dataDir: tmp.dir,
    env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '0' },
  });
  try {
    const owner = await setupOwner(server);
    const created = await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'k' });
    const key = created.body.key;
    const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
    const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
    const bearer = { authorization: `Bearer ${key}` };
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
    const v1Post = (body: unknown) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...bearer, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(20_000),
      });
    const hi = [{ role: 'user', content: 'hi' }];

    const responses: [string, { status: number; headers: Headers }][] = [
      ['a new API key', created],
      ['the session (CSRF token)', await owner.get('/api/auth/session')],
      [
        'an invitation link',
        await owner.post('/api/admin/invitations', { email: 'x@example.com', role: 'member' }),
      ],
      ['401 from the guard', await new Client(server.url).get('/api/admin/members')],
      ['403 CSRF', await owner.req('POST', '/api/mates', { name: 'x' }, { 'x-csrf-token': 'wrong' })],
      ['400 bad JSON', await owner.req('POST', '/api/mates', '{"name":')],
      ['404 /api', await owner.get('/api/no-such-thing')],
      ['405 /api', await owner.get('/api/auth/login')],
      ['GET /api?x', await get('/api?x=1')],
      ['/v1 models', await get('/v1/models', bearer)],
      ['/v1 401', await get('/v1/models')],
      ['/v1 404', await get('/v1/no-such-thing', bearer)],
      ['/v1 answer', await v1Post({ model: 'default', messages: hi })],
    ];
    for (const [what, r] of responses) {
      assert.equal(r.headers.get('cache-control'), 'no-store', what);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', what);
    }
    const streams: [string, Response][] = [
      ['/v1 stream', await v1Post({ model: 'default', stream: true, messages: hi })],
      ['chat stream', await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'hi' })],
    ];
    for (const [what, r] of streams) {
      assert.equal(r.headers.get('content-type'), 'text/event-stream; charset=utf-8', what);
      assert.equal(r.headers.get('cache-control'), 'no-store, no-transform', what);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', what);
      await r.text();
    }
    // Not the API: health and the web app keep their own caching.
    assert.equal((await get('/healthz')).headers.get('cache-control'), null);

    type OpenAIBody = { error: { message: string; type: string; param: string | null; code: string | null } };
    const badV1 = await get('/v1/models/%E0%A4%A', bearer);
    assert.equal(badV1.status, 400);
    const badV1Body = (await badV1.json()) as OpenAIBody;
    assert.deepEqual(
      [badV1Body.error.type, badV1Body.error.code, badV1Body.error.param],
      ['invalid_request_error', 'bad_url', null],
    );
    assert.match(badV1Body.error.message, /URL is not valid/);
    const badApi = await get('/api/mates/%E0%A4%A');
    assert.equal(badApi.status, 400);
    assert.deepEqual(((await badApi.json()) as ErrorBody).error.code, 'bad_url');
    const longApi = await get(`/api/mates/${'a'.repeat(1001)}`);
    assert.equal(longApi.status, 414);
    const longBody = (await longApi.json()) as ErrorBody;
    assert.deepEqual(longBody.error.code, 'url_too_long');
    assert.match(longBody.error.message, /1000 characters/);
    for (const r of [badV1, badApi, longApi]) {
      assert.equal(r.headers.get('cache-control'), 'no-store');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    }
    assert.equal((await get('/healthz')).status, 200, 'the server still answers');
  } finally {
    await server.close();
    tmp.remove();
  }
});
