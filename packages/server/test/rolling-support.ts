/**
 * What the rolling-restart tests share, whichever load balancer is in front (HAProxy in
 * rolling-restart.test.ts, nginx in nginx-rolling-restart.test.ts): instances of `scripts/start.ts`
 * on PostgreSQL and Redis behind a simulator, steady load from clients that never retry (plain
 * `fetch` on /v1 streamed and not, OpenAI's SDK, web chat sends and loads), each instance restarted
 * in turn, and what the database holds afterwards.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import OpenAI from 'openai';
import pg from 'pg';
import { expectedAnswer, startSimulator } from '@understudy/simulator';
import {
  dropRedisPrefix,
  freePort,
  redisReachable,
  REDIS_TEST_URL,
  startInstance,
  type Instance,
} from './cluster-support.js';
import { createPgBackend, PG_ADMIN_URL, tempDir } from './helpers.js';

const TOKENS = 30;
const API_KEY = 'us-rolling-restart-0123456789abcdef';
const ADMIN = { email: 'ops@rolling.test', password: 'rolling-restart-pass' };

/** Waits `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `ok` every 50 ms; the ms it took, or throws after `ms`. */
export async function until(what: string, ok: () => Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await ok()) return Date.now() - start;
    await sleep(50);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

/** The status of a GET (0 when nothing answered within a second). */
export async function status(url: string): Promise<number> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await r.body?.cancel();
    return r.status;
  } catch {
    return 0;
  }
}

/**
 * A balancer's sample config for instances on these loopback ports: its first `server` lines (as
 * `isServer` tells them) take the ports, the others are left out; every other line is kept.
 */
export function serversOnPorts(sample: string, isServer: RegExp, ports: number[]): string {
  const lines = sample.split('\n');
  const servers = lines.filter((l) => isServer.test(l)).length;
  assert.ok(servers >= ports.length, `the sample lists ${servers} servers, fewer than ${ports.length}`);
  let i = 0;
  return lines
    .flatMap((l) => {
      if (!isServer.test(l)) return [l];
      const port = ports[i++];
      return port === undefined ? [] : [l.replace(/\d+\.\d+\.\d+\.\d+:\d+/, `127.0.0.1:${port}`)];
    })
    .join('\n');
}

/** Instances of the server on one PostgreSQL database and one Redis prefix. */
export interface Cluster {
  ports: number[];
  /** A temporary folder of the test's, removed at its end (the balancer's files go here). */
  dir: string;
  databaseUrl: string;
  /** The running instance on each port (replaced by a restart). */
  instances: Instance[];
  /** Starts instance `i` again on its port, waiting until /readyz answers 200. */
  restart(i: number): Promise<Instance>;
  /** The last lines every instance started printed, for a failure's message. */
  output(): string;
}

/**
 * Starts `count` instances, or says why the test cannot run: a skip outside CI, an error in CI
 * (where .ci/run installs and starts everything). `tool` is the load balancer's check.
 */
export async function startCluster(
  t: TestContext,
  count: number,
  tool: { name: string; installed: boolean },
): Promise<Cluster | undefined> {
  const missing = !tool.installed
    ? `${tool.name} is not installed (.ci/run installs it)`
    : !(await redisReachable())
      ? `Redis not reachable at ${REDIS_TEST_URL}`
      : undefined;
  const backend = missing ? undefined : await createPgBackend();
  const why = missing ?? (backend?.databaseUrl ? undefined : `PostgreSQL not reachable at ${PG_ADMIN_URL}`);
  if (why) {
    await backend?.dispose();
    if (process.env.CI === 'true') throw new Error(`${why} (required in CI)`);
    t.skip(`${why}: rolling-restart test skipped`);
    return undefined;
  }
  const databaseUrl = backend?.databaseUrl ?? '';
  const tmp = tempDir();
  const prefix = `rolling-${process.pid}-${tool.name}:`;
  const sim = await startSimulator({ logAttempts: false });
  // Every instance started, the stopped ones too (their drain's lines belong in a failure's message).
  const started: Instance[] = [];
  t.after(async () => {
    for (const { proc } of started)
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await sim.close();
    await backend?.dispose();
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
  for (let i = 0; i < count; i++) ports.push(await freePort());
  const start = async (i: number) => {
    const env = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: REDIS_TEST_URL,
      UNDERSTUDY_REDIS_PREFIX: prefix,
      UNDERSTUDY_SECRET: 'rolling-restart-secret',
      UNDERSTUDY_CONFIG: config,
      UNDERSTUDY_DEMO: 'off',
      UNDERSTUDY_DATA_DIR: join(tmp.dir, `data-${i}`),
      LOG_LEVEL: 'warn',
    };
    const instance = await startInstance(String(i), env, ports[i]);
    started.push(instance);
    return instance;
  };
  const cluster: Cluster = {
    ports,
    dir: tmp.dir,
    databaseUrl,
    instances: await Promise.all(ports.map((_, i) => start(i))),
    async restart(i) {
      const instance = await start(i);
      cluster.instances[i] = instance;
      return instance;
    },
    output: () => started.flatMap((x) => x.output.slice(-10).map((l) => `[${x.name}] ${l}`)).join('\n'),
  };
  return cluster;
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

/** Requests answered in full, per client. */
export interface LoadCounts {
  fetch: number;
  fetchStream: number;
  sdk: number;
  webSend: number;
  webLoad: number;
}

/** Steady load through the balancer at `lb`; `stop()` ends it once the requests in flight end. */
export interface Load {
  counts: LoadCounts;
  failures: { client: string; what: string }[];
  stop(): Promise<void>;
}

/**
 * Starts the load: two streamed and one whole /v1 completion at a time with plain `fetch` (never
 * retrying: what a script sees), one with OpenAI's SDK (its default retries), and in two
 * conversations a web chat send followed by a load of the conversation, with plain `fetch`
 * (stricter than the web app, which retries). A request fails when it is not a 200 with the whole
 * answer.
 */
export async function startLoad(lb: string): Promise<Load> {
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

  const failures: Load['failures'] = [];
  const counts: LoadCounts = { fetch: 0, fetchStream: 0, sdk: 0, webSend: 0, webLoad: 0 };
  let running = true;
  let n = 0;
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
  return {
    counts,
    failures,
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

/**
 * The documented procedure, one instance at a time: SIGTERM, wait for the exit, start it again
 * (until /readyz answers), then `backIn(i)` (the balancer taking it back). Checks each exits
 * cleanly after the minimum drain; one line of timings per instance.
 */
export async function restartInTurn(
  cluster: Cluster,
  backIn: (i: number) => Promise<string>,
): Promise<string[]> {
  const timings: string[] = [];
  for (let i = 0; i < cluster.instances.length; i++) {
    const { proc } = cluster.instances[i] ?? assert.fail(`no instance ${i}`);
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const sent = Date.now();
    proc.kill('SIGTERM');
    const code = await exited;
    const exitMs = Date.now() - sent;
    const started = Date.now();
    await cluster.restart(i);
    const readyMs = Date.now() - started;
    const back = await backIn(i);
    timings.push(`instance ${i}: exit ${exitMs} ms (code ${code}), /readyz ${readyMs} ms${back}`);
    assert.equal(code, 0, `instance ${i} exits cleanly`);
    assert.ok(exitMs >= 4900 && exitMs < 9000, `instance ${i} drains for the minimum drain (${exitMs} ms)`);
  }
  return timings;
}

/**
 * After the load: reports the timings and counts, then checks that the load ran throughout, no
 * client saw a failure, every stored answer completed and no message was stored twice.
 */
export async function assertNothingLost(
  t: TestContext,
  cluster: Cluster,
  load: Load,
  timings: string[],
  balancerOutput: string,
): Promise<void> {
  const db = new pg.Client({ connectionString: cluster.databaseUrl });
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
  for (const f of load.failures) byClient[f.client] = (byClient[f.client] ?? 0) + 1;
  const line = `done ${JSON.stringify(load.counts)}; failed ${JSON.stringify(byClient)}; stored ${JSON.stringify(statuses)}, duplicates ${dups}`;
  t.diagnostic(`${timings.join('; ')}; ${line}`);
  const shown = load.failures.slice(0, 8).map((f) => `${f.client}: ${f.what}`);
  assert.deepEqual(
    shown,
    [],
    `no client saw the restarts (${line}):\n${cluster.output()}\nbalancer: ${balancerOutput.slice(-3000)}`,
  );
  const { counts } = load;
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
}
