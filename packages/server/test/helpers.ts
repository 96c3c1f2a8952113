/**
 * Test support: backends (SQLite files in temp dirs, a fresh PostgreSQL database per file), a
 * server on an ephemeral loopback port with the in-process simulator, and a small HTTP client
 * that keeps the session cookie and CSRF token like a browser would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import fc from 'fast-check';
import pg from 'pg';
import pino from 'pino';
import { Writable } from 'node:stream';
import { createLogger, loadConfig, startServer, type RunningServer } from '../src/index.js';
import type { Lookup } from '../src/security/index.js';
import { migrations, storageConfig } from '../src/storage/index.js';

export const PG_ADMIN_URL = process.env.UNDERSTUDY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A storage backend for one test file. */
export interface Backend {
  name: 'sqlite' | 'postgres';
  /** DATABASE_URL for postgres; undefined for sqlite. */
  databaseUrl?: string;
  /** Drops the database / removes files. */
  dispose(): Promise<void>;
}

let pgReachable: Promise<boolean> | undefined;
async function checkPg(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** A fresh PostgreSQL database, or undefined (skip) when PostgreSQL is unreachable outside CI. */
export async function createPgBackend(): Promise<Backend | undefined> {
  pgReachable ??= checkPg();
  if (!(await pgReachable)) {
    if (process.env.CI === 'true')
      throw new Error(`PostgreSQL not reachable at ${PG_ADMIN_URL} (required in CI)`);
    return undefined;
  }
  const name = `understudy_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name: 'postgres',
    databaseUrl: url.toString(),
    async dispose() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Runs `fn` once per backend (SQLite, PostgreSQL), as subtests. */
export async function forEachBackend(
  t: TestContext,
  fn: (t: TestContext, backend: Backend) => Promise<void>,
): Promise<void> {
  await t.test('sqlite', async (t) => {
    await fn(t, { name: 'sqlite', dispose: () => Promise.resolve() });
  });
  await t.test('postgres', async (t) => {
    const backend = await createPgBackend();
    if (!backend) return t.skip(`PostgreSQL not reachable at ${PG_ADMIN_URL}: skipped`);
    try {
      await fn(t, backend);
    } finally {
      await backend.dispose();
    }
  });
}

/**
 * The backend's database (SQLite in `dataDir`) migrated only up to `name`: the schema an older
 * version left, to write its rows into before the storage opens and migrates it further. The
 * caller destroys it first.
 */
export async function dbAtMigration(
  dataDir: string,
  databaseUrl: string | undefined,
  name: string,
): Promise<Kysely<unknown>> {
  const cfg = storageConfig(dataDir, databaseUrl);
  const db = new Kysely<unknown>({
    dialect:
      cfg.kind === 'sqlite'
        ? new SqliteDialect({ database: new SQLite(cfg.file) })
        : new PostgresDialect({ pool: new pg.Pool({ connectionString: cfg.url, max: 1 }) }),
  });
  const r = await new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
  }).migrateTo(name);
  if (r.error) {
    await db.destroy();
    throw r.error;
  }
  return db;
}

/** A temp data folder, removed by the returned function. */
export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'understudy-test-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Log lines captured from a server (to check that secrets never appear). */
export interface LogCapture {
  lines: string[];
}

/** Starts a server for tests: loopback, ephemeral port, demo simulator on, short engine timeouts. */
export async function startTestServer(o: {
  backend: Backend;
  dataDir: string;
  env?: Record<string, string>;
  capture?: LogCapture;
  /** Fallback activity write interval (a long one proves the flushes on read and on close). */
  activityFlushMs?: number;
  /** What provider host names resolve to (instead of `dns.lookup`). */
  resolve?: Lookup;
}): Promise<RunningServer> {
  const env: NodeJS.ProcessEnv = {
    PORT: '0',
    HOST: '127.0.0.1',
    UNDERSTUDY_DATA_DIR: o.dataDir,
    UNDERSTUDY_DEMO: 'on',
    UNDERSTUDY_SHUTDOWN_GRACE_MS: '3000',
    LOG_LEVEL: o.capture ? 'info' : 'silent',
    ...(o.backend.databaseUrl && { DATABASE_URL: o.backend.databaseUrl }),
    ...o.env,
  };
  const config = loadConfig(env, process.cwd());
  if (!o.env?.UNDERSTUDY_WEB_DIST) config.webDist = join(o.dataDir, 'no-web');
  const capture = o.capture;
  const log = capture
    ? createLogger(
        'info',
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            for (const line of chunk.toString('utf8').split('\n')) if (line) capture.lines.push(line);
            cb();
          },
        }),
      )
    : pino({ level: 'silent' });
  return startServer(config, {
    logger: log,
    engineOptions: { connectMs: 1500, firstTokenMs: 2500, stallMs: 1500, quickRetryDelayMs: 10 },
    ...(o.activityFlushMs !== undefined && { activityFlushMs: o.activityFlushMs }),
    ...(o.resolve && { resolve: o.resolve }),
  });
}

/** A JSON HTTP response. */
/** The API's error body: `{ error: { code, message } }`. */
export interface ErrorBody {
  error: { code: string; message: string };
}

export interface Res<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** A browser-like client: keeps the session cookie and sends the CSRF token. */
export class Client {
  cookie?: string;
  csrf?: string;
  constructor(readonly base: string) {}

  /** Sends a request; `body` is JSON unless a string. */
  async req<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Res<T>> {
    const h: Record<string, string> = { ...headers };
    if (body !== undefined && !h['content-type']) h['content-type'] = 'application/json';
    if (this.cookie) h.cookie = this.cookie;
    if (this.csrf && !('x-csrf-token' in h)) h['x-csrf-token'] = this.csrf;
    const res = await fetch(this.base + path, {
      method,
      headers: h,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) {
      const [pair] = setCookie.split(';');
      this.cookie = pair && !pair.endsWith('=') ? pair : undefined;
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      // Not JSON (SSE, HTML): keep the text.
    }
    if (parsed && typeof parsed === 'object' && 'csrfToken' in parsed && typeof parsed.csrfToken === 'string')
      this.csrf = parsed.csrfToken;
    return { status: res.status, headers: res.headers, body: parsed as T };
  }
  get = <T = Record<string, unknown>>(p: string) => this.req<T>('GET', p);
  post = <T = Record<string, unknown>>(p: string, b?: unknown) => this.req<T>('POST', p, b ?? {});
  put = <T = Record<string, unknown>>(p: string, b?: unknown) => this.req<T>('PUT', p, b ?? {});
  patch = <T = Record<string, unknown>>(p: string, b?: unknown) => this.req<T>('PATCH', p, b ?? {});
  del = <T = Record<string, unknown>>(p: string) => this.req<T>('DELETE', p);
}

export const PASSWORD = 'correct horse battery';

/** Runs first-run setup; returns the Owner's client. */
export async function setupOwner(server: RunningServer, email = 'owner@example.com'): Promise<Client> {
  const c = new Client(server.url);
  const r = await c.post('/api/setup', {
    token: server.ctx.setupToken,
    organization: 'Acme',
    name: 'Olivia Owner',
    email,
    password: PASSWORD,
  });
  if (r.status !== 201) throw new Error(`setup failed: ${r.status} ${JSON.stringify(r.body)}`);
  return c;
}

/**
 * Runs `fn` against a server on SQLite (or `backend`) whose demo simulator answers at once (or with
 * `chunkDelayMs` between streamed chunks), with its Owner set up and signed in, and `env` on top of
 * the test environment; stops the server and removes its data afterwards. For tests that send many
 * requests.
 */
export async function withInstantDemo(
  fn: (server: RunningServer, owner: Client) => Promise<void>,
  chunkDelayMs = 0,
  backend: Backend = { name: 'sqlite', dispose: async () => undefined },
  env: Record<string, string> = {},
): Promise<void> {
  const tmp = tempDir();
  const server = await startTestServer({
    backend,
    dataDir: tmp.dir,
    env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: String(chunkDelayMs), ...env },
  });
  try {
    await fn(server, await setupOwner(server));
  } finally {
    await server.close();
    tmp.remove();
  }
}

/**
 * withInstantDemo on a fresh PostgreSQL database (`fn` also gets its URL), dropped afterwards;
 * skips with a line where PostgreSQL is unreachable, fails under CI=true.
 */
export async function withPgDemo(
  t: TestContext,
  fn: (server: RunningServer, owner: Client, databaseUrl: string) => Promise<void>,
): Promise<void> {
  const backend = await createPgBackend();
  if (!backend) return t.skip(`PostgreSQL not reachable at ${PG_ADMIN_URL}: skipped`);
  try {
    await withInstantDemo((server, owner) => fn(server, owner, backend.databaseUrl!), 0, backend);
  } finally {
    await backend.dispose();
  }
}

/** Invites and signs up a member with a role; returns their client. */
export async function addMember(
  server: RunningServer,
  owner: Client,
  email: string,
  role: 'owner' | 'admin' | 'member',
): Promise<Client> {
  const inv = await owner.post<{ token: string }>('/api/admin/invitations', { email, role });
  if (inv.status !== 201) throw new Error(`invite failed: ${inv.status} ${JSON.stringify(inv.body)}`);
  const c = new Client(server.url);
  const r = await c.post('/api/invitations/accept', {
    token: inv.body.token,
    name: email.split('@')[0],
    password: PASSWORD,
  });
  if (r.status !== 201) throw new Error(`accept failed: ${r.status} ${JSON.stringify(r.body)}`);
  return c;
}

/** One server-sent event. */
export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Reads an SSE response to its end (bounded by `timeoutMs`), or until `until` returns true. */
export async function readSse(
  res: Response,
  o: { timeoutMs?: number; until?: (e: SseEvent) => boolean } = {},
): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  if (!res.body) return events;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  const deadline = Date.now() + (o.timeoutMs ?? 20_000);
  try {
    while (Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<'timeout'>(
          (r) => (timer = setTimeout(() => r('timeout'), Math.max(1, deadline - Date.now()))),
        ),
      ]);
      clearTimeout(timer);
      if (chunk === 'timeout')
        throw new Error(
          `SSE did not end within ${o.timeoutMs ?? 20_000} ms; got ${JSON.stringify(events.map((e) => e.event))}`,
        );
      if (chunk.done) break;
      buf += decoder.decode(chunk.value, { stream: true });
      let idx: number;
      while ((idx = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, idx);
        buf = buf.slice(idx + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (!data) continue;
        const e = { event, data: JSON.parse(data) as Record<string, unknown> };
        events.push(e);
        if (o.until?.(e)) {
          await reader.cancel();
          return events;
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
  return events;
}

/** POST /v1/chat/completions with an API key, as any OpenAI client would (20 s bound). */
export function postCompletion(
  base: string,
  key: string,
  stream: boolean,
  content: string,
): Promise<Response> {
  return fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'default', stream, messages: [{ role: 'user', content }] }),
    signal: AbortSignal.timeout(20_000),
  });
}

/** POSTs with the client's session and returns the raw (streaming) response. */
export function rawPost(c: Client, path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(c.base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: c.cookie ?? '', 'x-csrf-token': c.csrf ?? '' },
    body: JSON.stringify(body),
    signal: signal ?? AbortSignal.timeout(30_000),
  });
}

/** Polls `check` every 50 ms until it returns a value, failing after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Waits until `n` queries in `client`'s database wait for a lock (the server's transactions
 * queued behind a lock the test holds), as pg_stat_activity shows.
 */
export async function lockWaiters(client: pg.Client, n: number): Promise<void> {
  await waitFor(
    `${n} queries waiting for a lock`,
    async () => {
      // pg_stat_activity is read once per transaction unless its snapshot is cleared.
      await client.query('SELECT pg_stat_clear_snapshot()');
      const r = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
      );
      return Number(r.rows[0]?.n) >= n ? true : undefined;
    },
    5000,
  );
}

/**
 * fast-check options for a property over real servers: `defaultRuns` runs (PROPERTY_RUNS sets
 * another count, and then no bound on the whole run, for a longer search). A case that takes more
 * than 30 s is a failure (a hang is reported with its case, not as the test's timeout), and the
 * whole run, shrinking included, is bounded by `budgetMs`: a failure found on a loaded machine,
 * where each failing case can take seconds, is reported shrunk as far as the time allowed, within
 * the test's timeout.
 */
export function searchOptions(defaultRuns: number, budgetMs: number) {
  const runs = process.env.PROPERTY_RUNS;
  const plugins = [fc.timeout(30_000), ...(runs === undefined ? [fc.interruptAfterTimeLimit(budgetMs)] : [])];
  return { numRuns: Number(runs ?? defaultRuns), includeErrorInReport: true, plugins };
}
