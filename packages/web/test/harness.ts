/**
 * Browser test support: the real Understudy server (in-process, ephemeral port, temp data dir,
 * the built-in simulator) serving the built web app, and Debian's Chromium driven by
 * playwright-core. Pages collect console errors so each test can assert there were none.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, loadConfig, startServer, type RunningServer } from '@understudy/server';
import {
  chromium,
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  type Page,
} from 'playwright-core';

/** Debian's Chromium (`CHROMIUM_PATH` overrides it, e.g. to check the skip path). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The `skip` option of a browser suite: false when Chromium is here, else the line that says the
 * suite was skipped. Under CI=true a missing Chromium throws instead: CI runs every browser test.
 */
export function chromiumSkip(): false | string {
  if (existsSync(CHROMIUM)) return false;
  const line = `chromium not found at ${CHROMIUM}: browser tests skipped`;
  if (process.env.CI === 'true') throw new Error(`${line} (but CI=true: Chromium is required)`);
  return line;
}
export const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = join(WEB_DIR, '..', '..');
export const PASSWORD = 'correct horse battery';

/** Builds the web app (about a second), so the browser always tests the current sources. */
export function ensureBuilt(): string {
  const dist = join(WEB_DIR, 'dist');
  {
    const r = spawnSync(
      process.execPath,
      [join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'],
      {
        cwd: WEB_DIR,
        stdio: ['ignore', 'ignore', 'inherit'],
        // The test runner sets NODE_ENV=test, under which Vite bundles React's development build:
        // the browser tests would test another app than the one shipped, and leave that one in
        // dist for `npm start` to serve.
        env: { ...process.env, NODE_ENV: 'production' },
      },
    );
    if (r.status !== 0) throw new Error('building packages/web failed');
  }
  return dist;
}

export interface Harness {
  server: RunningServer;
  browser: Browser;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the server (demo simulator on, short engine timeouts) and launches Chromium.
 * `activityFlushMs` is the fallback activity write window (the view flushes before it reads).
 */
export async function startHarness(opts: { activityFlushMs?: number } = {}): Promise<Harness> {
  const dist = ensureBuilt();
  const dataDir = mkdtempSync(join(tmpdir(), 'understudy-web-'));
  const config = loadConfig(
    {
      PORT: '0',
      HOST: '127.0.0.1',
      UNDERSTUDY_DATA_DIR: dataDir,
      UNDERSTUDY_DEMO: 'on',
      UNDERSTUDY_WEB_DIST: dist,
      // Slow enough to watch an answer stream (and press Stop), fast enough for a quick suite.
      UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '60',
      UNDERSTUDY_SHUTDOWN_GRACE_MS: '1000',
      LOG_LEVEL: 'silent',
    },
    REPO_ROOT,
  );
  const server = await startServer(config, {
    logger: createLogger('silent'),
    engineOptions: { connectMs: 1500, firstTokenMs: 2500, stallMs: 1500, quickRetryDelayMs: 10 },
    ...(opts.activityFlushMs !== undefined && { activityFlushMs: opts.activityFlushMs }),
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 30_000,
  });
  return {
    server,
    browser,
    url: server.url,
    async close() {
      await browser.close().catch(() => undefined);
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A page that records console errors and uncaught exceptions. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  errors: string[];
  /** Lets the next console error with this text through (an expected refusal such as a 400). */
  expectError(fragment: string): void;
}

/** A new browser context and page on the server, with console errors collected. */
export async function openPage(h: Harness, viewport = { width: 1280, height: 820 }): Promise<WatchedPage> {
  const context = await h.browser.newContext({ viewport, baseURL: h.url });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const errors: string[] = [];
  const expected: string[] = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const i = expected.findIndex((f) => m.text().includes(f));
    if (i >= 0) expected.splice(i, 1);
    else errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  return { page, context, errors, expectError: (f) => expected.push(f) };
}

/**
 * First-run setup through the page's form: the organization "Acme" and its Owner, Olivia, signed
 * in on this page when it returns.
 */
export async function setUpOwnerInBrowser(h: Harness, page: Page): Promise<void> {
  await page.goto(`/setup?token=${encodeURIComponent(h.server.ctx.setupToken ?? '')}`);
  await page.getByLabel('Organization name').fill('Acme');
  await page.getByLabel('Your name').fill('Olivia Owner');
  await page.getByLabel('Email').fill('owner@example.com');
  await page.getByLabel('Password (10+ characters)').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create organization' }).click();
  await page.getByRole('link', { name: 'Organization Settings' }).waitFor();
}

/**
 * The URL of a conversation's read, for `page.route`: the app reads a page of it
 * (`?limit=`, `?before=`), which a glob ending in the id does not match.
 */
export const conversationRead = (id: string): RegExp => new RegExp(`/api/conversations/${id}(\\?|$)`);

/** A JSON call with the browser context's session (cookie) and its CSRF token, outside the page. */
export async function api(
  request: APIRequestContext,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const s = await request.get('/api/auth/session');
  const csrf = s.ok() ? ((await s.json()) as { csrfToken: string }).csrfToken : '';
  const res = await request.fetch(path, {
    method,
    headers: { 'x-csrf-token': csrf, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { data: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status(), body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Adds a Mate on the organization's default model, with the session of `request`; returns its id. */
export async function addMate(request: APIRequestContext, name: string): Promise<string> {
  const mate = await api(request, 'POST', '/api/mates', { name, instructions: 'Be brief.', model: null });
  if (mate.status !== 201) throw new Error(`adding the Mate ${name} failed: ${JSON.stringify(mate.body)}`);
  return String(mate.body.id);
}

/** The hour `i` hours after 2026-01-01 00:00 UTC, as stored (a history older than anything a test sends). */
const pastHour = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString();

/** The organization, owner and Mate of a conversation, for the rows a test stores beside it. */
export async function conversationOwner(h: Harness, conversationId: string) {
  return h.server.ctx.db
    .selectFrom('conversations')
    .select(['org_id', 'user_id', 'mate_id'])
    .where('id', '=', conversationId)
    .executeTakeFirstOrThrow();
}

/**
 * Stores `count` conversations of the same owner and Mate as `conversationId` straight in the
 * database (a history no test could send in time), titled `Old chat 1…count`, an hour apart
 * from 2026-01-01 (so older than any sent).
 */
export async function storeOlderConversations(
  h: Harness,
  conversationId: string,
  count: number,
): Promise<void> {
  const { org_id, user_id, mate_id } = await conversationOwner(h, conversationId);
  const rows = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    org_id,
    user_id,
    mate_id,
    title: `Old chat ${i + 1}`,
    created_at: pastHour(i),
    updated_at: pastHour(i),
  }));
  await h.server.ctx.db.insertInto('conversations').values(rows).execute();
}

/**
 * Stores `count` finished messages in `conversationId` straight in the database: `Question n` and
 * an answer by Sim A Large (`answer(n)`), in turn, an hour apart from `firstHour` hours past
 * 2026-01-01; the last answer was written without `leftOut` earlier messages. Returns them in order.
 */
export async function storeMessages(
  h: Harness,
  conversationId: string,
  count: number,
  o: { answer: (n: number) => string; leftOut: number; firstHour?: number },
): Promise<{ role: 'user' | 'assistant'; content: string }[]> {
  const { org_id } = await conversationOwner(h, conversationId);
  const first = o.firstHour ?? 0;
  const rows = Array.from({ length: count }, (_, i) => {
    const answer = i % 2 === 1;
    return {
      id: randomUUID(),
      org_id,
      conversation_id: conversationId,
      seq: i + 1,
      role: answer ? ('assistant' as const) : ('user' as const),
      content: answer ? o.answer(i + 1) : `Question ${i + 1}`,
      status: 'complete' as const,
      model_id: answer ? 'sim-a-large' : null,
      provider_id: answer ? 'sim-a' : null,
      input_tokens: answer ? 10 : null,
      output_tokens: answer ? 20 : null,
      usage_estimated: 0,
      latency_ms: null,
      ttft_ms: null,
      fallback_json: null,
      error_json: null,
      context_left_out: i === count - 1 && answer ? o.leftOut : null,
      created_at: pastHour(first + i),
      updated_at: pastHour(first + i),
    };
  });
  await h.server.ctx.db.insertInto('messages').values(rows).execute();
  return rows.map(({ role, content }) => ({ role, content }));
}
