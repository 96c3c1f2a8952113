// test-runner: alone
/**
 * A rolling restart behind nginx configured with docs/nginx-understudy.conf, as written there
 * (ports and TLS aside), under steady load: instances on PostgreSQL and Redis, each stopped with
 * SIGTERM, started again and let back in following docs/deployment.md's procedure for nginx. No
 * request may fail (plain `fetch` clients that never retry, OpenAI's SDK, web chat sends and
 * loads), no answer be cut, no message be stored twice. Skipped outside CI when nginx is
 * not installed (.ci/run installs it), or PostgreSQL or Redis is absent. For measurements,
 * NGINX_ROLLING_INSTANCES sets the instance count (2 by default) and NGINX_SAMPLE another sample.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import pg from 'pg';
import { expectedAnswer, startSimulator } from '@understudy/simulator';
import { dropRedisPrefix, freePort, redisReachable, REDIS_TEST_URL } from './cluster-support.js';
import { createPgBackend, PG_ADMIN_URL, tempDir } from './helpers.js';
import { nginxBinary, restartLoopSleepMs, sampleForPorts, startNginx } from './nginx-support.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const SAMPLE = process.env.NGINX_SAMPLE ?? join(ROOT, 'docs/nginx-understudy.conf');
const INSTANCES = Number(process.env.NGINX_ROLLING_INSTANCES ?? 2);
const TOKENS = 30;
const API_KEY = 'us-nginx-rolling-0123456789abcdef';
const ADMIN = { email: 'ops@nginx-rolling.test', password: 'nginx-rolling-pass' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** The text of an SSE body from /v1/chat/completions. */
const streamedText = (body: string) =>
  body
    .split('\n')
    .filter((l) => l.startsWith('data: {'))
    .map(
      (l) =>
        (JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta
          .content ?? '',
    )
    .join('');

test(
  'a rolling restart behind the documented nginx sample fails no request',
  { timeout: 120_000 },
  async (t) => {
    const bin = nginxBinary();
    if (!bin) {
      if (process.env.CI === 'true') throw new Error('nginx is not installed (.ci/run installs it)');
      return t.skip('nginx is not installed: nginx rolling-restart test skipped');
    }
    if (!(await redisReachable())) {
      if (process.env.CI === 'true')
        throw new Error(`Redis not reachable at ${REDIS_TEST_URL} (required in CI)`);
      return t.skip(`Redis not reachable at ${REDIS_TEST_URL}: nginx rolling-restart test skipped`);
    }
    const backend = await createPgBackend();
    if (!backend?.databaseUrl)
      return t.skip(`PostgreSQL not reachable at ${PG_ADMIN_URL}: nginx rolling-restart test skipped`);
    const tmp = tempDir();
    const prefix = `nginx-rolling-${process.pid}:`;
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

    const config = join(tmp.dir, 'understudy.json');
    writeFileSync(
      config,
      JSON.stringify({
        organization: { name: 'Rolling', defaultModel: 'primary', fallback: 'automatic' },
        admin: ADMIN,
        providers: [
          { id: 'sim', type: 'openai', baseUrl: `${sim.url}/p/sim/v1`, apiKey: 'sk-sim', allowPrivate: true },
        ],
        models: [{ id: 'primary', provider: 'sim', upstream: `gpt-4o+tokens=${TOKENS}+delay=20`, tier: 5 }],
        apiKeys: [{ name: 'rolling', key: API_KEY }],
      }),
    );
    const ports: number[] = [];
    for (let i = 0; i < INSTANCES; i++) ports.push(await freePort());
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
          UNDERSTUDY_SECRET: 'nginx-rolling-restart-secret',
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
    const instances = ports.map((_, i) => startInstance(i));
    await Promise.all(ports.map((_, i) => ready(i)));

    const lbPort = await freePort();
    const nginx = startNginx(bin, tmp.dir, sampleForPorts(SAMPLE, ports, lbPort));
    t.after(() => nginx.stop());
    const lb = `http://127.0.0.1:${lbPort}`;
    await until('nginx up', async () => (await status(`${lb}/readyz`)) === 200, 10_000).catch(
      (err: unknown) => {
        throw new Error(`${String(err)}: ${nginx.output.join('')}`);
      },
    );

    const failures: { client: string; what: string }[] = [];
    const counts = { fetch: 0, fetchStream: 0, sdk: 0, webSend: 0, webLoad: 0 };
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
    const newConversation = async () =>
      ((await (await web('POST', '/api/conversations', { mateId: mate.id })).json()) as { id: string }).id;
    const convs = [await newConversation(), await newConversation()];

    let running = true;
    let n = 0;
    // Plain fetch, never retrying: what a script or a client without retries sees.
    const fetchWorker = async (stream: boolean) => {
      const client = stream ? 'fetch stream' : 'fetch';
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
          const text = stream ? streamedText(body) : body;
          if (r.status !== 200 || !text.includes(whole) || (stream && !body.includes('data: [DONE]')))
            failures.push({ client, what: `${r.status}: ${body.slice(0, 120)}` });
          else counts[stream ? 'fetchStream' : 'fetch']++;
        } catch (err) {
          failures.push({ client, what: String(err) });
        }
      }
    };
    // OpenAI's SDK with its default retries (2, after Retry-After).
    const sdk = new OpenAI({ baseURL: `${lb}/v1`, apiKey: API_KEY });
    const sdkWorker = async () => {
      while (running) {
        const content = `sdk ${++n}`;
        try {
          const r = await sdk.chat.completions.create({
            model: 'primary',
            messages: [{ role: 'user', content }],
          });
          if (r.choices[0]?.message.content !== expectedAnswer(content, TOKENS))
            failures.push({ client: 'sdk', what: `wrong answer: ${r.choices[0]?.message.content}` });
          else counts.sdk++;
        } catch (err) {
          failures.push({ client: 'sdk', what: String(err) });
        }
      }
    };
    // Chat sends and conversation loads with plain fetch (stricter than the web app, which retries).
    const webWorker = async (conv: string, w: number) => {
      for (let i = 1; running; i++) {
        const content = `web ${w}.${i}`;
        try {
          const r = await web('POST', `/api/conversations/${conv}/messages`, { content });
          const body = await r.text();
          if (r.status !== 200 || !/event: done\ndata: .*"status":"complete"/.test(body))
            failures.push({ client: 'web send', what: `${r.status}: ${body.slice(-160)}` });
          else counts.webSend++;
          const load = await web('GET', `/api/conversations/${conv}`);
          await load.body?.cancel();
          if (load.status !== 200) failures.push({ client: 'web load', what: String(load.status) });
          else counts.webLoad++;
        } catch (err) {
          failures.push({ client: 'web', what: String(err) });
        }
      }
    };
    const workers = [
      fetchWorker(false),
      fetchWorker(true),
      fetchWorker(true),
      sdkWorker(),
      ...convs.map((c, w) => webWorker(c, w)),
    ];
    await sleep(1000);

    // The documented procedure: SIGTERM, wait for the exit, start again, wait for /readyz, then
    // the loop's `sleep` (nginx lets a server it took out back in after its fail_timeout).
    const backInMs = restartLoopSleepMs();
    const timings: string[] = [];
    for (let i = 0; i < instances.length; i++) {
      const child = instances[i];
      assert.ok(child);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      const sent = Date.now();
      child.kill('SIGTERM');
      const code = await exited;
      const exitMs = Date.now() - sent;
      instances[i] = startInstance(i);
      const readyMs = await ready(i);
      timings.push(`instance ${i}: exit ${exitMs} ms (code ${code}), /readyz ${readyMs} ms`);
      assert.equal(code, 0, `instance ${i} exits cleanly`);
      assert.ok(exitMs >= 4900 && exitMs < 9000, `instance ${i} drains for the minimum drain (${exitMs} ms)`);
      await sleep(backInMs);
    }
    running = false;
    await Promise.all(workers);
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
    const byClient: Record<string, number> = {};
    for (const f of failures) byClient[f.client] = (byClient[f.client] ?? 0) + 1;
    t.diagnostic(
      `${timings.join('; ')}; done ${JSON.stringify(counts)}; failed ${JSON.stringify(byClient)}; stored ${JSON.stringify(statuses)}, duplicates ${dups}`,
    );

    await nginx.stop();
    for (const c of instances) c?.kill('SIGINT');

    const shown = failures.slice(0, 8).map((f) => `${f.client}: ${f.what}`);
    assert.deepEqual(
      shown,
      [],
      `no client saw the restarts (${failures.length} failed):\n${output.slice(-20).join('')}\nnginx: ${nginx.output.join('').slice(-3000)}`,
    );
    assert.ok(
      counts.fetch > 5 && counts.fetchStream > 10 && counts.sdk > 5 && counts.webSend > 5,
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
