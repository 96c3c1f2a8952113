/**
 * Security at the edge: whose X-Forwarded-* headers are believed (UNDERSTUDY_TRUST_PROXY).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrustProxy } from '../src/config.js';
import { Client, PASSWORD, setupOwner, startTestServer, tempDir, type LogCapture } from './helpers.js';

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
