/**
 * PostgreSQL lost at run time (through a loopback TCP proxy the test cuts and restores; the
 * machine's PostgreSQL is never touched): requests that need the database get 503 with retry-after
 * in their surface's error shape, not 500, and the heartbeat's failure is logged once when it starts
 * and once when it ends, not every beat.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { isDatabaseUnavailable } from '../src/storage/index.js';
import {
  createPgBackend,
  startTestServer,
  setupOwner,
  tempDir,
  waitFor,
  type LogCapture,
} from './helpers.js';

/**
 * A TCP proxy to PostgreSQL that can go down: its connections are cut and new ones closed at once
 * (it keeps its port: listening again on it can meet EADDRINUSE while the cut ones linger).
 */
class OutageProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private down_ = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** Listens on a free loopback port (then in `port`). */
  async start(): Promise<void> {
    const server = createServer((client) => {
      client.on('error', () => undefined);
      if (this.down_) return void client.destroy();
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Cuts every connection; new ones are closed at once. */
  down(): void {
    this.down_ = true;
    for (const s of this.sockets) s.destroy();
  }

  /** Passes connections on again. */
  up(): void {
    this.down_ = false;
  }

  /** Stops listening. */
  async close(): Promise<void> {
    this.down();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

test('PostgreSQL unavailable: 503 with retry-after, and the heartbeat failure logged once', async (t) => {
  const backend = await createPgBackend();
  if (!backend?.databaseUrl) return t.skip('PostgreSQL not reachable');
  const direct = new URL(backend.databaseUrl);
  const proxy = new OutageProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  await proxy.start();
  const viaProxy = new URL(backend.databaseUrl);
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  const tmp = tempDir();
  const capture: LogCapture = { lines: [] };
  const server = await startTestServer({
    backend: { ...backend, databaseUrl: viaProxy.toString() },
    dataDir: tmp.dir,
    capture,
    env: { UNDERSTUDY_HEARTBEAT_MS: '100', UNDERSTUDY_SECRET: 'db-outage-test' },
  });
  const heartbeatLines = (re: RegExp) =>
    capture.lines.filter((l) => re.test((JSON.parse(l) as { msg: string }).msg));
  try {
    const owner = await setupOwner(server);
    // Two keys: the second one is never used before the outage, so no cache answers for it.
    const keys: string[] = [];
    for (const name of ['a', 'b'])
      keys.push((await owner.post<{ key: string }>('/api/admin/api-keys', { name })).body.key);
    const models = (key: string) =>
      fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal((await models(keys[0] ?? '')).status, 200);

    proxy.down();
    // Seven beats or so.
    await new Promise((r) => setTimeout(r, 700));
    const v1 = await models(keys[1] ?? '');
    assert.equal(v1.status, 503);
    assert.match(v1.headers.get('retry-after') ?? '', /^\d+$/);
    const v1Body = (await v1.json()) as { error: { type: string; code: string; message: string } };
    assert.equal(v1Body.error.type, 'server_error', "OpenAI's error shape");
    assert.equal(v1Body.error.code, 'database_unavailable');
    const api = await owner.get<{ error: { code: string } }>('/api/conversations');
    assert.equal(api.status, 503);
    assert.match(api.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal(api.body.error.code, 'database_unavailable');
    assert.equal((await server.app.inject({ url: '/readyz' })).statusCode, 503);

    const failed = heartbeatLines(/^instance heartbeat failed/);
    assert.equal(failed.length, 1, `one line for the outage, not one per beat: ${failed.length}`);
    assert.doesNotMatch(failed[0] ?? '', /"stack"/, 'no stack trace');

    proxy.up();
    await waitFor(
      'the heartbeat to recover',
      async () => (heartbeatLines(/^instance heartbeat recovered/).length > 0 ? true : undefined),
      5000,
    );
    assert.match(heartbeatLines(/^instance heartbeat recovered/)[0] ?? '', /"failedBeats":\d+/);
    assert.equal(heartbeatLines(/^instance heartbeat failed/).length, 1);
    assert.equal((await models(keys[1] ?? '')).status, 200, 'served again');
  } finally {
    proxy.up();
    await server.close();
    await proxy.close();
    tmp.remove();
    await backend.dispose();
  }
});

test('isDatabaseUnavailable: unreachable or lost, not a refused query', () => {
  const coded = (message: string, code: string) => Object.assign(new Error(message), { code });
  for (const err of [
    coded('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
    new AggregateError([coded('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], ''),
    new Error('Connection terminated unexpectedly'),
    new Error('timeout exceeded when trying to connect'),
    coded('terminating connection due to administrator command', '57P01'),
    coded('connection failure', '08006'),
    coded('database is locked', 'SQLITE_BUSY'),
  ])
    assert.equal(isDatabaseUnavailable(err), true, err.message);
  for (const err of [
    coded('syntax error at or near "SELEC"', '42601'),
    coded('duplicate key value violates unique constraint', '23505'),
    new Error('something else'),
    'ECONNREFUSED',
  ])
    assert.equal(isDatabaseUnavailable(err), false, String(err));
});
