/**
 * `npm start` as a real process: first-run setup printed in the log, and SIGTERM lets an answer in
 * flight finish and be saved before the process exits, OpenAI-API requests (streaming or not) too.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { dropRedisPrefix, freePort, REDIS_TEST_URL, redisReachable } from './cluster-support.js';
import {
  Client,
  createPgBackend,
  PASSWORD,
  postCompletion,
  rawPost,
  readSse,
  tempDir,
  waitFor,
} from './helpers.js';
import { listeningUrl, setupToken, spawnServer, stopServer, type ServerProcess } from './process-support.js';

function start(
  dataDir: string,
  env: Record<string, string> = {},
  as: { uid?: number; gid?: number } = {},
): ServerProcess {
  return spawnServer(
    {
      UNDERSTUDY_DATA_DIR: dataDir,
      UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '30',
      UNDERSTUDY_SHUTDOWN_GRACE_MS: '10000',
      ...env,
    },
    as,
  );
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

/** A response read whole. */
interface FreshResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: { status?: string; error?: { code?: string; type?: string; message?: string } };
}

/**
 * A request on a connection of its own, as a load balancer's health check or a new client opens
 * one (fetch could reuse a keep-alive connection opened before the stop).
 */
function fresh(base: string, method: string, path: string, body?: unknown): Promise<FreshResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      { method, agent: false, headers: body === undefined ? {} : { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: JSON.parse(text) as FreshResponse['body'],
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** The JSON log lines of a server process. */
const logLines = (proc: ServerProcess) =>
  proc.output
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string });

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
    const text = res.text();
    // During the drain the instance still listens: a load balancer's check on a new connection
    // reads 503 (not a refused connection), and so does a new request, in its surface's shape.
    await waitFor('the drain to start', async () =>
      logLines(proc).some((l) => /^draining/.test(l.msg)) ? true : undefined,
    );
    const ready = await fresh(owner.base, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body, { status: 'shutting_down' });
    const v1 = await fresh(owner.base, 'POST', '/v1/chat/completions', { model: 'default', messages: [] });
    assert.equal(v1.status, 503);
    assert.equal(v1.body.error?.code, 'server_shutting_down');
    assert.equal(v1.body.error?.type, 'server_error', "OpenAI's error shape");
    const api = await fresh(owner.base, 'GET', '/api/conversations');
    assert.equal(api.status, 503);
    assert.equal(api.body.error?.code, 'server_shutting_down');
    for (const r of [ready, v1, api]) {
      assert.equal(r.headers.connection, 'close');
      assert.match(String(r.headers['retry-after']), /^\d+$/);
    }
    assert.equal((await fresh(owner.base, 'GET', '/healthz')).status, 200, 'the process still answers');
    assert.ok(Date.now() - t0 < 1500, 'all that while the answers were still being written');
    const chunks = (await text)
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
    assert.ok((await text).trimEnd().endsWith('data: [DONE]'), 'the stream ends with [DONE]');
    const content = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
    assert.ok(content.split(' ').length > 40, `the complete answer (${content.split(' ').length} words)`);
    assert.ok(Date.now() - t0 > 1500, 'the answer went on well after SIGTERM');
    const body = (await (await whole).json()) as { choices: { message: { content: string } }[] };
    assert.equal(body.choices[0]?.message.content, content, 'the non-streaming answer completed too');
    assert.equal(await proc.exited, 0);
    const lines = logLines(proc);
    const drained = lines.find((l) => /^drained/.test(l.msg));
    assert.deepEqual(drained?.api, { inFlight: 2, finished: 2, cut: 0 });
    assert.deepEqual(drained?.chat, { inFlight: 0, finished: 0, interrupted: 0 });
    assert.equal(lines.at(-1)?.msg, 'Understudy stopped', 'the last line says the process stopped');
  } finally {
    await stopServer(proc);
    tmp.remove();
  }
});

test('SIGTERM past the grace period: what was cut is logged, chat answers saved as interrupted', async () => {
  const tmp = tempDir();
  // Answers of about 3 s; 300 ms of grace.
  const proc = start(tmp.dir, { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '50', UNDERSTUDY_SHUTDOWN_GRACE_MS: '300' });
  try {
    const owner = new Client(await listeningUrl(proc));
    const setup = {
      token: setupToken(proc),
      organization: 'Acme',
      name: 'O',
      email: 'o@example.com',
      password: PASSWORD,
    };
    assert.equal((await owner.post('/api/setup', setup)).status, 201);
    const key = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'k' })).body.key;
    const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
    const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
    const chat = await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'a long answer' });
    await readSse(chat, { until: (e) => e.event === 'text' });
    const api = await postCompletion(owner.base, key, true, 'a long answer');
    assert.equal(api.status, 200);
    proc.child.kill('SIGTERM');
    const text = await api.text();
    assert.match(text, /"code":"server_shutting_down"/, 'the API client is told, in-band');
    assert.equal(await exitWithin(proc, 10_000), 0);
    const lines = logLines(proc);
    const draining = lines.find((l) => /^draining/.test(l.msg));
    assert.deepEqual(draining?.inFlight, { chat: 1, api: 1 });
    const drained = lines.find((l) => /^drained/.test(l.msg));
    assert.deepEqual(drained?.chat, { inFlight: 1, finished: 0, interrupted: 1 });
    assert.deepEqual(drained?.api, { inFlight: 1, finished: 0, cut: 1 });
    assert.match(drained?.msg ?? '', /0 of 2 answers finished/);
    assert.equal(lines.at(-1)?.msg, 'Understudy stopped');
  } finally {
    await stopServer(proc);
    tmp.remove();
  }
});

/** Resolves with the process's exit code, or 'still running' after `ms`. */
function exitWithin(proc: ServerProcess, ms: number): Promise<number | null | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    proc.exited.finally(() => clearTimeout(timer)),
    new Promise<'still running'>((r) => (timer = setTimeout(() => r('still running'), ms))),
  ]);
}

/** The process's output lines (stdout and stderr). */
const linesOf = (proc: ServerProcess) => proc.output.join('').split('\n').filter(Boolean);

test('a start that fails exits non-zero at once, with what it opened closed', async (t) => {
  // The port is taken, so the failure comes last: after the database, the instance's registration
  // and heartbeat, the demo simulator or Redis were opened (any of them kept the process alive).
  const taken = createNetServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = String((taken.address() as AddressInfo).port);
  const tmp = tempDir();
  const failsFast = async (env: Record<string, string>) => {
    const proc = start(tmp.dir, { PORT: port, ...env });
    try {
      const code = await exitWithin(proc, 20_000);
      assert.equal(code, 1, `exit code (output: ${proc.output.join('').slice(-2000)})`);
      const fatal = linesOf(proc).filter((l) => l.includes('could not start'));
      assert.equal(fatal.length, 1);
      const line = JSON.parse(fatal[0] ?? '{}') as { level: number; msg: string; err?: unknown };
      assert.equal(line.level, 60);
      assert.equal(
        line.msg,
        `Understudy could not start: port ${port} on 127.0.0.1 is already in use (another Understudy, or another server): stop that process, or set PORT to a free port`,
      );
      assert.equal(line.err, undefined, 'the stack only at debug level');
      assert.doesNotMatch(proc.output.join(''), /\n\s+at /, 'no stack trace');
    } finally {
      await stopServer(proc);
    }
  };
  try {
    await t.test('SQLite with the demo simulator', () => failsFast({ UNDERSTUDY_DEMO: 'on' }));
    await t.test('PostgreSQL, heartbeat and Redis', async (t) => {
      const backend = await createPgBackend();
      if (!backend) return t.skip('PostgreSQL not reachable');
      const prefix = `understudy-startfail-${process.pid}:`;
      try {
        await failsFast({
          DATABASE_URL: backend.databaseUrl ?? '',
          UNDERSTUDY_SECRET: 'start-failure-test',
          UNDERSTUDY_DEMO: 'off',
          UNDERSTUDY_HEARTBEAT_MS: '100',
          ...((await redisReachable()) && { REDIS_URL: REDIS_TEST_URL, UNDERSTUDY_REDIS_PREFIX: prefix }),
        });
        // Its peers must not see it as alive: it deregistered.
        const db = new pg.Client({ connectionString: backend.databaseUrl });
        await db.connect();
        const { rows } = await db.query<{ id: string }>('SELECT id FROM instances');
        await db.end();
        assert.deepEqual(rows, [], 'no instance left registered');
      } finally {
        await dropRedisPrefix(prefix).catch(() => undefined);
        await backend.dispose();
      }
    });
  } finally {
    await new Promise((r) => taken.close(r));
    tmp.remove();
  }
});

test('a port or host the server cannot listen on: a sentence naming the variable to change', async (t) => {
  const tmp = tempDir();
  /** The fatal line of a start with this environment, once it exited with code 1. */
  const fatal = async (
    env: Record<string, string>,
    as: { uid?: number; gid?: number } = {},
    dir = tmp.dir,
  ) => {
    const proc = start(dir, { UNDERSTUDY_DEMO: 'off', ...env }, as);
    try {
      assert.equal(await exitWithin(proc, 20_000), 1, proc.output.join('').slice(-2000));
      return /"msg":"Understudy could not start: ([^"]*)"/.exec(proc.output.join(''))?.[1];
    } finally {
      await stopServer(proc);
    }
  };
  try {
    await t.test('HOST not an address of this machine', async () => {
      // TEST-NET-2: never assigned to a machine.
      assert.equal(
        await fatal({ HOST: '198.51.100.7' }),
        'HOST 198.51.100.7 is not an address of this machine: set HOST to one of its addresses, 0.0.0.0 for every one, or 127.0.0.1 for this machine only',
      );
    });
    await t.test('HOST a name nothing resolves', async () => {
      assert.equal(
        await fatal({ HOST: 'understudy-host.invalid' }),
        'HOST understudy-host.invalid is not an address, nor a name this machine resolves: set HOST to one of its addresses, or 0.0.0.0 for every one',
      );
    });
    await t.test('a privileged port as another user than root', async (t) => {
      if (process.getuid?.() !== 0) return t.skip('needs root to run the server as nobody');
      // A folder of its own (the database the root runs above created is not nobody's).
      chmodSync(tmp.dir, 0o755);
      const dir = join(tmp.dir, 'nobody');
      mkdirSync(dir);
      chownSync(dir, 65534, 65534);
      assert.equal(
        await fatal({ PORT: '80' }, { uid: 65534, gid: 65534 }, dir),
        'this user may not listen on port 80 (ports below 1024 need privileges): set PORT to 1024 or above behind a reverse proxy (docs/deployment.md), or grant the service CAP_NET_BIND_SERVICE',
      );
    });
  } finally {
    tmp.remove();
  }
});

test('a bad environment value: one readable line on stderr, exit code 1', async () => {
  const tmp = tempDir();
  const proc = start(tmp.dir, { PORT: 'abc', UNDERSTUDY_SHUTDOWN_GRACE_MS: '20s', UNDERSTUDY_DEMO: 'maybe' });
  try {
    assert.equal(await exitWithin(proc, 20_000), 1);
    assert.deepEqual(linesOf(proc), [
      'Understudy could not start: PORT must be a port number from 0 to 65535, got "abc"; ' +
        'UNDERSTUDY_DEMO must be auto, on or off, got "maybe"; ' +
        'UNDERSTUDY_SHUTDOWN_GRACE_MS must be a whole number of milliseconds (0 or more, no unit), got "20s"',
    ]);
  } finally {
    await stopServer(proc);
    tmp.remove();
  }
});

test('fatal start errors say what to fix: PostgreSQL not reachable, data folder not writable', async (t) => {
  const tmp = tempDir();
  try {
    await t.test('DATABASE_URL on a closed port', async () => {
      const port = await freePort();
      const proc = start(tmp.dir, { DATABASE_URL: `postgres://app:hunter2@127.0.0.1:${port}/understudy` });
      assert.equal(await exitWithin(proc, 20_000), 1);
      const out = proc.output.join('');
      assert.match(
        out,
        new RegExp(
          `"msg":"Understudy could not start: PostgreSQL at DATABASE_URL \\(127\\.0\\.0\\.1:${port}\\) is not reachable: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}"`,
        ),
      );
      assert.doesNotMatch(out, /hunter2/);
      assert.doesNotMatch(out, /"stack"/);
    });
    await t.test('a data folder this user cannot write', async (t) => {
      // Root writes anywhere: the server then runs as nobody, as a service user would.
      const root = process.getuid?.() === 0;
      if (!root && process.platform === 'win32') return t.skip('POSIX permissions');
      chmodSync(tmp.dir, 0o755);
      const dir = join(tmp.dir, 'readonly');
      mkdirSync(dir, { mode: 0o555 });
      chmodSync(dir, 0o555);
      const proc = start(dir, { UNDERSTUDY_DEMO: 'off' }, root ? { uid: 65534, gid: 65534 } : {});
      assert.equal(await exitWithin(proc, 20_000), 1);
      const msg = /"msg":"(Understudy could not start: [^"]*)"/.exec(proc.output.join(''))?.[1];
      assert.match(
        msg ?? proc.output.join(''),
        new RegExp(`data folder ${dir} \\(UNDERSTUDY_DATA_DIR\\) is not writable`),
      );
    });
  } finally {
    tmp.remove();
  }
});
