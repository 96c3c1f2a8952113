/**
 * Operations: metrics, health and readiness, logs free of secrets, the bootstrap file (applied
 * idempotently), providers from the environment, and the web root.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import { startSimulator } from '@understudy/simulator';
import {
  Client,
  forEachBackend,
  PASSWORD,
  rawPost,
  readSse,
  setupOwner,
  startTestServer,
  tempDir,
  type LogCapture,
} from './helpers.js';

test('metrics, health, and logs without secrets', async () => {
  const tmp = tempDir();
  const capture: LogCapture = { lines: [] };
  const server = await startTestServer({
    backend: { name: 'sqlite', dispose: async () => {} },
    dataDir: tmp.dir,
    capture,
    env: { UNDERSTUDY_DEMO_CHUNK_DELAY_MS: '0' },
  });
  try {
    assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { database: string }).database, 'sqlite');
    const home = await fetch(`${server.url}/`);
    assert.match(await home.text(), /The API is up[\s\S]*setup token/);

    const owner = await setupOwner(server);
    const providerKey = 'sk-provider-TOPSECRET-0123456789';
    await owner.post('/api/admin/providers', {
      id: 'acme',
      type: 'openai',
      label: 'Acme',
      baseUrl: 'https://93.184.215.14/v1',
      apiKey: providerKey,
    });
    const apiKey = (await owner.post<{ key: string }>('/api/admin/api-keys', { name: 'k' })).body.key;
    const inv = (
      await owner.post<{ token: string }>('/api/admin/invitations', {
        email: 'x@example.com',
        role: 'member',
      })
    ).body.token;
    await new Client(server.url).get(`/api/invitations/${inv}`);
    const orgId = (await owner.get<{ organization: { id: string } }>('/api/auth/session')).body.organization
      .id;
    await owner.put('/api/admin/demo/providers/sim-a/outage', { fault: 'overloaded' });
    const mate = (await owner.post<{ id: string }>('/api/mates', { name: 'Ada' })).body.id;
    const conv = (await owner.post<{ id: string }>('/api/conversations', { mateId: mate })).body.id;
    assert.equal(
      (await readSse(await rawPost(owner, `/api/conversations/${conv}/messages`, { content: 'hi' }))).at(-1)
        ?.event,
      'done',
    );
    const client = new OpenAI({ apiKey, baseURL: `${server.url}/v1`, maxRetries: 0 });
    await client.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'hi' }] });
    await new Client(server.url).post('/api/auth/login', {
      email: 'owner@example.com',
      password: 'a wrong password',
    });

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(
      metrics,
      /understudy_http_requests_total\{method="POST",route="\/api\/conversations\/:id\/messages",status="200"\} 1/,
    );
    assert.match(
      metrics,
      /understudy_answers_total\{surface="chat",model="sim-b-large",provider="sim-b",status="complete"\} 1/,
    );
    assert.match(metrics, /understudy_answers_total\{surface="api",[^}]*status="complete"\} 1/);
    assert.match(
      metrics,
      /understudy_fallbacks_total\{reason="overloaded",original_provider="sim-a",backup_provider="sim-b"/,
    );
    assert.match(metrics, /understudy_answer_latency_seconds_bucket/);
    assert.match(metrics, /understudy_time_to_first_token_seconds_bucket/);
    assert.match(metrics, new RegExp(`understudy_circuit_state\\{scope="provider",id="${orgId}/sim-a"\\}`));

    const all = capture.lines.join('\n');
    assert.ok(capture.lines.length > 10, 'requests were logged');
    for (const secret of [
      PASSWORD,
      providerKey,
      apiKey,
      inv,
      owner.csrf!,
      owner.cookie!.split('=')[1]!,
      'a wrong password',
    ]) {
      assert.ok(!all.includes(secret), `a secret reached the log: ${secret.slice(0, 6)}…`);
    }
  } finally {
    await server.close();
    tmp.remove();
  }
});

test('the web UI is served with an SPA fallback when built', async () => {
  const tmp = tempDir();
  const dist = join(tmp.dir, 'web');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>UI</title>');
  writeFileSync(join(dist, 'assets', 'app.js'), 'console.log(1)');
  const server = await startTestServer({
    backend: { name: 'sqlite', dispose: async () => {} },
    dataDir: tmp.dir,
    env: { UNDERSTUDY_WEB_DIST: dist },
  });
  try {
    const root = await fetch(`${server.url}/`);
    assert.match(root.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(await root.text(), '<!doctype html><title>UI</title>');
    const js = await fetch(`${server.url}/assets/app.js`);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.equal(await js.text(), 'console.log(1)');
    assert.equal(
      await (await fetch(`${server.url}/chat/some/route`)).text(),
      '<!doctype html><title>UI</title>',
    );
    assert.equal(
      await (await fetch(`${server.url}/%2e%2e/%2e%2e/etc/passwd`)).text(),
      '<!doctype html><title>UI</title>',
    );
    const api = await fetch(`${server.url}/api/unknown`);
    assert.equal(api.status, 404);
    assert.match(((await api.json()) as { error: { message: string } }).error.message, /no route/);
  } finally {
    await server.close();
    tmp.remove();
  }
});

test('bootstrap file and environment providers', async (t) => {
  const sim = await startSimulator({ port: 0, host: '127.0.0.1' });
  try {
    await forEachBackend(t, async (t, backend) => {
      await t.test('the bootstrap file is applied idempotently at every start', async () => {
        const tmp = tempDir();
        const file = join(tmp.dir, 'understudy.yaml');
        writeFileSync(
          file,
          `organization:
  name: Acme Corp
  defaultModel: smart
  fallback: { mode: specific, model: fast }
admin:
  email: admin@acme.test
  name: Ada Admin
  password: \${ACME_ADMIN_PASSWORD}
providers:
  - id: local
    type: openai-compatible
    label: Local vLLM
    baseUrl: ${sim.url}/p/local/v1
    apiKey: \${LOCAL_KEY:-sk-local-default-key}
    allowPrivate: true
models:
  - id: smart
    provider: local
    upstream: gpt-4o
    tags: [eu-hosted]
  - id: fast
    provider: local
    upstream: fast-model
    label: Fast
    tier: 2
    contextWindow: 32000
    capabilities: [tools]
    tags: [eu-hosted]
    timeouts: { firstTokenMs: 5000 }
apiKeys:
  - name: ci
    key: \${ACME_API_KEY}
`,
        );
        const env = {
          UNDERSTUDY_CONFIG: file,
          ACME_ADMIN_PASSWORD: PASSWORD,
          ACME_API_KEY: 'us-ci-key-0123456789abcdefghij',
          UNDERSTUDY_DEMO: 'auto',
        };
        let server = await startTestServer({ backend, dataDir: tmp.dir, env });
        try {
          assert.equal(server.demo, undefined, 'no demo when real providers are configured');
          assert.equal(server.ctx.setupToken, undefined);
          const admin = new Client(server.url);
          assert.equal(
            (await admin.post('/api/auth/login', { email: 'admin@acme.test', password: PASSWORD })).status,
            200,
          );
          const settings = await admin.get('/api/admin/settings');
          assert.equal(settings.body.defaultModel, 'smart');
          assert.deepEqual(settings.body.fallback, { mode: 'specific', model: 'fast' });
          const models = (
            await admin.get<{
              models: { id: string; tier: number; contextWindow: number; tags: string[] }[];
            }>('/api/admin/models')
          ).body.models;
          assert.deepEqual(
            models.map((m) => [m.id, m.tier]),
            [
              ['smart', 4],
              ['fast', 2],
            ],
          );
          assert.equal(models[0]!.contextWindow, 128000, 'filled in from the built-in catalog');
          const client = new OpenAI({
            apiKey: 'us-ci-key-0123456789abcdefghij',
            baseURL: `${server.url}/v1`,
            maxRetries: 0,
          });
          const r = await client.chat.completions.create({
            model: 'default',
            messages: [{ role: 'user', content: 'hi' }],
          });
          assert.equal(r.model, 'smart');
          const audits = async () =>
            (await admin.get<{ entries: { action: string }[] }>('/api/admin/audit?limit=500')).body.entries
              .length;
          const count = await audits();
          const rows = async () =>
            (await server.ctx.db.selectFrom('models').select('id').execute()).length +
            (await server.ctx.db.selectFrom('api_keys').select('id').execute()).length;
          const n = await rows();
          await server.close();
          server = await startTestServer({ backend, dataDir: tmp.dir, env });
          const again = new Client(server.url);
          await again.post('/api/auth/login', { email: 'admin@acme.test', password: PASSWORD });
          assert.equal(await rows(), n);
          assert.equal(
            (await again.get<{ entries: unknown[] }>('/api/admin/audit?limit=500')).body.entries.length,
            count,
            'a second start changes nothing',
          );
        } finally {
          await server.close();
          tmp.remove();
        }
      });
    });

    await t.test(
      'providers from the environment; a bad bootstrap file stops the start with a clear message',
      async () => {
        const tmp = tempDir();
        const backend = { name: 'sqlite' as const, dispose: async () => {} };
        const server = await startTestServer({
          backend,
          dataDir: tmp.dir,
          env: {
            UNDERSTUDY_DEMO: 'auto',
            OPENAI_API_KEY: 'sk-env-key-0123456789',
            OPENAI_BASE_URL: `${sim.url}/p/envtest/v1`,
            UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS: 'true',
          },
        });
        try {
          assert.equal(server.demo, undefined);
          const owner = await setupOwner(server);
          const providers = (
            await owner.get<{ providers: { id: string; hasKey: boolean; source: string }[] }>(
              '/api/admin/providers',
            )
          ).body.providers;
          assert.deepEqual(
            providers.map((p) => [p.id, p.hasKey, p.source]),
            [['openai', true, 'env']],
          );
          assert.equal((await owner.get('/api/admin/settings')).body.defaultModel, 'gpt-4.1');
          const test = await owner.post<{ ok: boolean }>('/api/admin/providers/openai/test', {});
          assert.equal(test.body.ok, true);
        } finally {
          await server.close();
          tmp.remove();
        }
        const tmp2 = tempDir();
        const bad = join(tmp2.dir, 'bad.yaml');
        writeFileSync(bad, 'providers:\n  - id: x\n    type: openai\n    colour: red\n');
        await assert.rejects(
          startTestServer({ backend, dataDir: tmp2.dir, env: { UNDERSTUDY_CONFIG: bad } }),
          /colour/,
        );
        writeFileSync(
          bad,
          'providers:\n  - id: meta\n    type: openai-compatible\n    baseUrl: http://169.254.169.254/v1\n',
        );
        await assert.rejects(
          startTestServer({ backend, dataDir: tmp2.dir, env: { UNDERSTUDY_CONFIG: bad } }),
          /metadata/,
        );
        tmp2.remove();
      },
    );
  } finally {
    await sim.close();
  }
});
