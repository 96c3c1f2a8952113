// test-runner: alone
/**
 * A rolling restart behind HAProxy configured with docs/deployment.md's sample, as written there
 * (ports aside), under steady load from clients that never retry: two instances on PostgreSQL and
 * Redis, each stopped with SIGTERM, started again, and let back in, following the documented
 * procedure. No request may fail, no answer be cut, no message be stored twice. Skipped outside CI
 * when haproxy is not installed (.ci/run installs it), or PostgreSQL or Redis is absent.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { expectedAnswer, startSimulator } from '@understudy/simulator';
import { dropRedisPrefix, freePort, redisReachable, REDIS_TEST_URL } from './cluster-support.js';
import { createPgBackend, PG_ADMIN_URL, tempDir } from './helpers.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const TOKENS = 30;
const API_KEY = 'us-rolling-restart-0123456789abcdef';
const ADMIN = { email: 'ops@rolling.test', password: 'rolling-restart-pass' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The HAProxy backend of docs/deployment.md, its servers moved to these loopback ports. */
function documentedBackend(ports: number[]): string {
  const doc = readFileSync(join(ROOT, 'docs/deployment.md'), 'utf8');
  const block = /```\n(backend understudy\n[\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/deployment.md has an HAProxy backend sample');
  const servers = block.split('\n').filter((l) => l.trim().startsWith('server '));
  assert.ok(servers.length >= ports.length, 'the sample lists a server per instance');
  let i = 0;
  // One pass: the first servers take the ports, the sample's others are left out.
  return block
    .split('\n')
    .flatMap((l) => {
      if (!l.trim().startsWith('server ')) return [l];
      const port = ports[i++];
      return port === undefined ? [] : [l.replace(/\d+\.\d+\.\d+\.\d+:\d+/, `127.0.0.1:${port}`)];
    })
    .join('\n');
}

/** A line of HAProxy's `show stat` for `server` (`BACKEND` for the backend), by column name. */
function haproxyStat(socket: string, server: string): Promise<Record<string, string>> {
  return new Promise((resolve) => {
    const s = createConnection(socket);
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('error', () => resolve({}));
    s.on('end', () => {
      const [head = '', ...rows] = data.split('\n');
      const cols = head.replace(/^# /, '').split(',');
      const row = rows.find((r) => r.startsWith(`understudy,${server},`))?.split(',') ?? [];
      resolve(Object.fromEntries(cols.map((c, i) => [c, row[i] ?? ''])));
    });
    s.write('show stat\n');
  });
}

async function until(what: string, ok: () => Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await ok()) return Date.now() - start;
    await sleep(50);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

async function status(url: string): Promise<number> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await r.body?.cancel();
    return r.status;
  } catch {
    return 0;
  }
}

test(
  'a rolling restart behind the documented HAProxy sample fails no request',
  { timeout: 90_000 },
  async (t) => {
    if (spawnSync('haproxy', ['-v']).error) {
      if (process.env.CI === 'true') throw new Error('haproxy is not installed (.ci/run installs it)');
      return t.skip('haproxy is not installed: rolling-restart test skipped');
    }
    if (!(await redisReachable())) {
      if (process.env.CI === 'true')
        throw new Error(`Redis not reachable at ${REDIS_TEST_URL} (required in CI)`);
      return t.skip(`Redis not reachable at ${REDIS_TEST_URL}: rolling-restart test skipped`);
    }
    const backend = await createPgBackend();
    if (!backend?.databaseUrl)
      return t.skip(`PostgreSQL not reachable at ${PG_ADMIN_URL}: rolling-restart test skipped`);
    const tmp = tempDir();
    const prefix = `rolling-${process.pid}:`;
    const sim = await startSimulator({ logAttempts: false });
    const children: ChildProcess[] = [];
    const output: string[] = [];
    t.after(async () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await sim.close();
      await backend.dispose();
      await dropRedisPrefix(prefix);
      tmp.remove();
    });

    const upstream = `gpt-4o+tokens=${TOKENS}+delay=20`;
    const config = join(tmp.dir, 'understudy.json');
    writeFileSync(
      config,
      JSON.stringify({
        organization: { name: 'Rolling', defaultModel: 'primary', fallback: 'automatic' },
        admin: ADMIN,
        providers: [
          { id: 'sim', type: 'openai', baseUrl: `${sim.url}/p/sim/v1`, apiKey: 'sk-sim', allowPrivate: true },
        ],
        models: [{ id: 'primary', provider: 'sim', upstream, tier: 5 }],
        apiKeys: [{ name: 'rolling', key: API_KEY }],
      }),
    );
    const ports = [await freePort(), await freePort()];
    const startInstance = (i: number): ChildProcess => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
        cwd: ROOT,
        env: {
          ...process.env,
          PORT: String(ports[i]),
          HOST: '127.0.0.1',
          DATABASE_URL: backend.databaseUrl ?? '',
          REDIS_URL: REDIS_TEST_URL,
          UNDERSTUDY_REDIS_PREFIX: prefix,
          UNDERSTUDY_SECRET: 'rolling-restart-secret',
          UNDERSTUDY_CONFIG: config,
          UNDERSTUDY_DEMO: 'off',
          UNDERSTUDY_DATA_DIR: join(tmp.dir, `data-${i}`),
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const keep = (d: Buffer) => output.push(`[${i}] ${d.toString()}`);
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      children.push(child);
      return child;
    };
    const ready = (i: number) =>
      until(
        `instance ${i} ready`,
        async () => (await status(`http://127.0.0.1:${ports[i]}/readyz`)) === 200,
        60_000,
      );
    const instances = [startInstance(0), startInstance(1)];
    await Promise.all([ready(0), ready(1)]);

    const lbPort = await freePort();
    const socket = join(tmp.dir, 'haproxy.sock');
    const cfg = join(tmp.dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      `global\n    stats socket ${socket} mode 600\ndefaults\n    mode http\n    timeout connect 5s\n` +
        `    timeout client 600s\nfrontend fe\n    bind 127.0.0.1:${lbPort}\n    default_backend understudy\n` +
        `${documentedBackend(ports)}\n`,
    );
    const haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stderr.on('data', (d: Buffer) => output.push(`[haproxy] ${d.toString()}`));
    children.push(haproxy);
    const names = documentedBackend(ports)
      .split('\n')
      .flatMap((l) => /^\s*server (\S+)/.exec(l)?.[1] ?? []);
    const lbUp = (i: number) => async () => (await haproxyStat(socket, names[i] ?? '')).status === 'UP';
    await until('haproxy up', async () => (await lbUp(0)()) && (await lbUp(1)()), 10_000).catch(
      (err: unknown) => {
        throw new Error(`${String(err)}: ${output.join('')}`);
      },
    );
    const lb = `http://127.0.0.1:${lbPort}`;

    const failures: string[] = [];
    const counts = { api: 0, apiStream: 0, webSend: 0, webLoad: 0 };
    const login = await fetch(`${lb}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    assert.equal(login.status, 200);
    const cookie = (login.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const web = (method: string, path: string, body?: unknown) =>
      fetch(`${lb}${path}`, {
        method,
        headers: { cookie, 'x-csrf-token': csrfToken, origin: lb, 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    const mate = (await (await web('POST', '/api/mates', { name: 'Rolling' })).json()) as { id: string };
    const conv = (await (await web('POST', '/api/conversations', { mateId: mate.id })).json()) as {
      id: string;
    };

    let running = true;
    let n = 0;
    const apiWorker = async (stream: boolean) => {
      while (running) {
        const content = `api ${++n}`;
        try {
          const r = await fetch(`${lb}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'primary', stream, messages: [{ role: 'user', content }] }),
          });
          const body = await r.text();
          const whole = JSON.stringify(expectedAnswer(content, TOKENS)).slice(1, -1);
          const text = stream
            ? body
                .split('\n')
                .filter((l) => l.startsWith('data: {'))
                .map(
                  (l) =>
                    (JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]
                      ?.delta.content ?? '',
                )
                .join('')
            : body;
          if (r.status !== 200 || !text.includes(whole) || (stream && !body.includes('data: [DONE]')))
            failures.push(`api${stream ? ' stream' : ''} ${r.status}: ${body.slice(0, 120)}`);
          else counts[stream ? 'apiStream' : 'api']++;
        } catch (err) {
          failures.push(`api: ${String(err)}`);
        }
      }
    };
    const webWorker = async () => {
      for (let i = 1; running; i++) {
        const content = `web ${i}`;
        try {
          const r = await web('POST', `/api/conversations/${conv.id}/messages`, { content });
          const body = await r.text();
          if (r.status !== 200 || !/event: done\ndata: .*"status":"complete"/.test(body))
            failures.push(`web send ${r.status}: ${body.slice(-160)}`);
          else counts.webSend++;
          const load = await web('GET', `/api/conversations/${conv.id}`);
          await load.body?.cancel();
          if (load.status !== 200) failures.push(`web load ${load.status}`);
          else counts.webLoad++;
        } catch (err) {
          failures.push(`web: ${String(err)}`);
        }
      }
    };
    const workers = [apiWorker(false), apiWorker(true), apiWorker(true), webWorker()];
    await sleep(1000);

    const timings: string[] = [];
    for (let i = 0; i < instances.length; i++) {
      const child = instances[i];
      assert.ok(child);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      const sent = Date.now();
      child.kill('SIGTERM');
      const code = await exited;
      const exitMs = Date.now() - sent;
      // The documented procedure: start it again, wait for /readyz, then for the balancer's rise.
      instances[i] = startInstance(i);
      const readyMs = await ready(i);
      const riseMs = await until(`instance ${i} back in haproxy`, lbUp(i), 10_000);
      timings.push(
        `${names[i]}: exit ${exitMs} ms (code ${code}), /readyz ${readyMs} ms, back in ${riseMs} ms`,
      );
      assert.equal(code, 0, `instance ${i} exits cleanly`);
      assert.ok(exitMs >= 4900 && exitMs < 9000, `instance ${i} drains for the minimum drain (${exitMs} ms)`);
    }
    running = false;
    await Promise.all(workers);
    const retried = await haproxyStat(socket, 'BACKEND');
    t.diagnostic(
      `${timings.join('; ')}; ${JSON.stringify(counts)}; haproxy retries ${retried.wretr}, redispatches ${retried.wredis}`,
    );

    const db = new pg.Client({ connectionString: backend.databaseUrl });
    await db.connect();
    const statuses = (
      await db.query<{ status: string; n: string }>('select status, count(*) n from messages group by 1')
    ).rows;
    const dups = (
      await db.query(
        "select content from messages where role = 'user' group by conversation_id, content having count(*) > 1",
      )
    ).rowCount;
    await db.end();
    haproxy.kill('SIGTERM');
    for (const c of instances) c?.kill('SIGINT');

    assert.deepEqual(failures, [], `no client saw the restarts:\n${output.slice(-20).join('')}`);
    assert.ok(
      counts.api > 5 && counts.apiStream > 10 && counts.webSend > 5,
      `load ran throughout: ${JSON.stringify(counts)}`,
    );
    assert.deepEqual(
      statuses.map((s) => s.status),
      ['complete'],
      'every stored answer completed',
    );
    assert.equal(dups, 0, 'no message stored twice');
  },
);
