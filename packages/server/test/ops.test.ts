/**
 * Operations: metrics, health and readiness, logs free of secrets, the bootstrap file (applied
 * idempotently), providers from the environment, and the web root.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import { startSimulator } from '@understudy/simulator';
import { builtinFacts, DEFAULT_BASE_URLS } from '../src/catalog/index.js';
import {
  Client,
  forEachBackend,
  PASSWORD,
  rawPost,
  readSse,
  setupOwner,
  startTestServer,
  tempDir,
  type Backend,
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
    // The setup link the log prints, opened in a browser: the request log must not repeat its token.
    const setupToken = server.ctx.setupToken!;
    await (await fetch(`${server.url}/setup?token=${setupToken}`)).text();

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
    // The invitee opens the product's link (acceptUrl), then the page reads the invitation.
    for (const path of [`/invite/${inv}`, `/invite/${inv}/`, `/invite/${inv}?from=mail`])
      await (await fetch(`${server.url}${path}`)).text();
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
    // The setup token is printed once, on purpose, in the first-run line; no request line has it.
    const withSetupToken = capture.lines.filter((l) => l.includes(setupToken));
    assert.equal(withSetupToken.length, 1, withSetupToken.join('\n'));
    assert.match(withSetupToken[0]!, /First run: create your organization/);
    assert.ok(
      all.includes('"url":"/invite/[redacted]"'),
      'the invitation page was logged, without its token',
    );
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
    headers: { X-Gateway-Key: gw-secret-0123456789 }
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
          // Header values are sealed like the key; the admin API names them only.
          const sealed = async () =>
            (
              await server.ctx.db
                .selectFrom('providers')
                .select('headers_json')
                .where('slug', '=', 'local')
                .executeTakeFirstOrThrow()
            ).headers_json;
          const stored = await sealed();
          assert.ok(stored && !stored.includes('gw-secret'), String(stored));
          const local = (
            await admin.get<{ providers: { id: string; headerNames: string[] }[] }>('/api/admin/providers')
          ).body.providers.find((p) => p.id === 'local');
          assert.deepEqual(local?.headerNames, ['X-Gateway-Key']);
          // The operator's provider (allowed a private address) is pointed elsewhere only by the
          // operator: an admin cannot move it, and its key with it, to another private host.
          const moved = await admin.patch<{ error: { code: string; message: string } }>(
            '/api/admin/providers/local',
            { baseUrl: 'http://127.0.0.1:9/v1', apiKey: null, headers: null },
          );
          assert.equal(moved.status, 400);
          assert.equal(moved.body.error.code, 'operator_provider');
          assert.match(moved.body.error.message, /declared by the operator \(in UNDERSTUDY_CONFIG\)/);
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
          assert.equal(await sealed(), stored, 'the same headers are not sealed again at each start');
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
          const moved = await owner.patch<{ error: { message: string } }>('/api/admin/providers/openai', {
            baseUrl: 'https://api.example.com/v1',
          });
          assert.equal(moved.status, 400);
          assert.match(moved.body.error.message, /declared by the operator \(in the environment\)/);
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

interface ProviderView {
  id: string;
  type: string;
  label: string;
  baseUrl: string;
  hasKey: boolean;
  source: string;
}
interface ModelView {
  id: string;
  provider: string;
  upstreamModel: string;
  label: string;
  tier: number;
  contextWindow: number | null;
  maxOutputTokens: number | null;
  capabilities: string[];
  tags: string[];
  timeouts: Record<string, number> | null;
  enabled: boolean;
}

test('providers from ANTHROPIC_API_KEY, GEMINI_API_KEY and OLLAMA_BASE_URL (+ OLLAMA_MODELS)', async (t) => {
  // Only Ollama's URL is ours to choose: it points at a simulator. Anthropic and Google are never called.
  const sim = await startSimulator({ port: 0, host: '127.0.0.1' });
  const backend: Backend = { name: 'sqlite', dispose: async () => {} };
  const cases: {
    name: string;
    env: Record<string, string>;
    provider: Omit<ProviderView, 'source'>;
    key?: string;
    models: string[];
    /** Upstream names the built-in catalog knows (facts filled in); the others get tier 2. */
    known: boolean;
  }[] = [
    {
      name: 'ANTHROPIC_API_KEY',
      env: { ANTHROPIC_API_KEY: 'sk-ant-env-0123456789' },
      provider: {
        id: 'anthropic',
        type: 'anthropic',
        label: 'Anthropic',
        baseUrl: DEFAULT_BASE_URLS.anthropic!,
        hasKey: true,
      },
      key: 'sk-ant-env-0123456789',
      models: ['claude-sonnet-4-5', 'claude-haiku-4-5'],
      known: true,
    },
    {
      name: 'GEMINI_API_KEY',
      env: { GEMINI_API_KEY: 'gemini-env-key-0123456789' },
      provider: {
        id: 'google',
        type: 'google',
        label: 'Google Gemini',
        baseUrl: DEFAULT_BASE_URLS.google!,
        hasKey: true,
      },
      key: 'gemini-env-key-0123456789',
      models: ['gemini-2.5-pro', 'gemini-2.5-flash'],
      known: true,
    },
    {
      name: 'OLLAMA_BASE_URL and OLLAMA_MODELS',
      env: { OLLAMA_BASE_URL: `${sim.url}/p/ollama/`, OLLAMA_MODELS: ' sim-alpha, sim-beta ,' },
      provider: {
        id: 'ollama',
        type: 'openai-compatible',
        label: 'Ollama',
        baseUrl: `${sim.url}/p/ollama/v1`,
        hasKey: false,
      },
      models: ['sim-alpha', 'sim-beta'],
      known: false,
    },
    {
      name: 'OLLAMA_BASE_URL ending in /v1, default model',
      env: { OLLAMA_BASE_URL: `${sim.url}/p/ollama/v1` },
      provider: {
        id: 'ollama',
        type: 'openai-compatible',
        label: 'Ollama',
        baseUrl: `${sim.url}/p/ollama/v1`,
        hasKey: false,
      },
      models: ['llama3.1'],
      known: builtinFacts('llama3.1') !== undefined,
    },
  ];
  try {
    for (const c of cases) {
      await t.test(c.name, async () => {
        const tmp = tempDir();
        // UNDERSTUDY_DEMO=auto: a provider from the environment turns the simulator demo off.
        const server = await startTestServer({
          backend,
          dataDir: tmp.dir,
          env: { UNDERSTUDY_DEMO: 'auto', ...c.env },
        });
        try {
          assert.equal(server.demo, undefined, 'no demo when a real provider is configured');
          const owner = await setupOwner(server);
          const providers = (await owner.get<{ providers: ProviderView[] }>('/api/admin/providers')).body
            .providers;
          assert.deepEqual(
            providers.map(({ id, type, label, baseUrl, hasKey, source }) => ({
              id,
              type,
              label,
              baseUrl,
              hasKey,
              source,
            })),
            [{ ...c.provider, source: 'env' }],
          );
          const row = await server.ctx.db
            .selectFrom('providers')
            .selectAll()
            .where('slug', '=', c.provider.id)
            .executeTakeFirstOrThrow();
          if (c.key) {
            assert.notEqual(row.api_key_enc, c.key, 'stored encrypted');
            assert.equal(server.ctx.box.open(row.api_key_enc!), c.key);
          } else assert.equal(row.api_key_enc, null);
          assert.equal(row.allow_private, c.provider.type === 'openai-compatible' ? 1 : 0);

          const models = (await owner.get<{ models: ModelView[] }>('/api/admin/models')).body.models;
          assert.deepEqual(
            models.map((m) => [m.id, m.provider, m.upstreamModel, m.enabled]),
            c.models.map((id) => [id, c.provider.id, id, true]),
          );
          for (const m of models) {
            const facts = builtinFacts(m.upstreamModel);
            if (c.known) {
              assert.ok(facts, `${m.id} is in the built-in catalog`);
              assert.deepEqual(
                [m.label, m.tier, m.contextWindow, m.maxOutputTokens, m.capabilities],
                [facts.label, facts.tier, facts.contextWindow, facts.maxOutputTokens, facts.capabilities],
              );
            } else {
              assert.equal(facts, undefined);
              assert.deepEqual([m.label, m.tier, m.contextWindow, m.capabilities], [m.id, 2, null, []]);
            }
          }
          const settings = await owner.get<{ defaultModel: string; fallback: unknown }>(
            '/api/admin/settings',
          );
          assert.equal(settings.body.defaultModel, c.models[0]);
          assert.deepEqual(settings.body.fallback, { mode: 'automatic' });

          if (c.provider.id === 'ollama') {
            // The request goes to <OLLAMA_BASE_URL>/v1/chat/completions with no key (the simulator,
            // unlike Ollama, refuses a request without one, before reading which model it names).
            sim.clearAttempts();
            const probe = await owner.post<{ ok: boolean; error?: { reason: string } }>(
              '/api/admin/providers/ollama/test',
              { model: c.models[0] },
            );
            assert.equal(probe.status, 200);
            assert.equal(probe.body.ok, false);
            assert.equal(probe.body.error?.reason, 'provider_misconfigured');
            assert.deepEqual(
              sim.attempts().map((a) => [a.provider, a.protocol, a.outcome, a.status]),
              [['ollama', 'openai', 'rejected', 401]],
            );
          }
        } finally {
          await server.close();
          tmp.remove();
        }
      });
    }
  } finally {
    await sim.close();
  }
});

test("the README's bootstrap file example starts a server; an edited file wins at the next start", async (t) => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Bootstrap file'));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(yaml, 'a ```yaml block after "### Bootstrap file" in the README');
  // Every ${VAR} without a default comes from the environment.
  const needed = [...yaml.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g)]
    .filter((m) => m[2] === undefined)
    .map((m) => m[1]);
  const vars: Record<string, string> = {
    ACME_ADMIN_PASSWORD: PASSWORD,
    OPENAI_API_KEY: 'sk-readme-openai-0123456789',
    ACME_API_KEY: 'us-readme-ci-key-0123456789abcdef',
  };
  assert.deepEqual([...needed].sort(), Object.keys(vars).sort(), 'the variables the example needs');

  await forEachBackend(t, async (t, backend) => {
    const tmp = tempDir();
    const file = join(tmp.dir, 'understudy.yaml');
    writeFileSync(file, yaml);
    const env = { UNDERSTUDY_CONFIG: file, UNDERSTUDY_DEMO: 'auto', ...vars };
    const start = () => startTestServer({ backend, dataDir: tmp.dir, env });
    const signIn = async (server: Awaited<ReturnType<typeof start>>) => {
      const admin = new Client(server.url);
      const r = await admin.post('/api/auth/login', { email: 'admin@acme.test', password: PASSWORD });
      assert.equal(r.status, 200);
      return admin;
    };
    const listOf = async (admin: Client) => ({
      providers: (await admin.get<{ providers: ProviderView[] }>('/api/admin/providers')).body.providers,
      models: (await admin.get<{ models: ModelView[] }>('/api/admin/models')).body.models,
      settings: (await admin.get<{ defaultModel: string; fallback: unknown }>('/api/admin/settings')).body,
      audits: (await admin.get<{ entries: { action: string }[] }>('/api/admin/audit?limit=500')).body.entries,
    });
    let server = await start();
    try {
      await t.test('the example as written', async () => {
        // No provider is called: everything below is what was configured.
        assert.equal(server.demo, undefined);
        assert.equal(server.ctx.setupToken, undefined, 'the file created the organization and its admin');
        const admin = await signIn(server);
        const session = await admin.get<{ user: { role: string }; organization: { name: string } }>(
          '/api/auth/session',
        );
        assert.deepEqual([session.body.organization.name, session.body.user.role], ['Acme Corp', 'owner']);
        const { providers, models, settings } = await listOf(admin);
        const byId = new Map(providers.map((p) => [p.id, p]));
        assert.deepEqual(
          ['openai', 'local'].map((id) => {
            const p = byId.get(id)!;
            return [p.id, p.type, p.label, p.baseUrl, p.hasKey, p.source];
          }),
          [
            // No `label` in the README's file: the vendor's name, as for OPENAI_API_KEY.
            ['openai', 'openai', 'OpenAI', DEFAULT_BASE_URLS.openai, true, 'config'],
            ['local', 'openai-compatible', 'Local vLLM', 'http://10.0.0.5:8000/v1', true, 'config'],
          ],
        );
        const keyOf = async (slug: string) => {
          const row = await server.ctx.db
            .selectFrom('providers')
            .selectAll()
            .where('slug', '=', slug)
            .executeTakeFirstOrThrow();
          return server.ctx.box.open(row.api_key_enc!);
        };
        assert.equal(await keyOf('openai'), vars.OPENAI_API_KEY);
        assert.equal(await keyOf('local'), 'none', '${LOCAL_KEY:-none} took its default');
        const model = (id: string) => {
          const m = models.find((x) => x.id === id);
          assert.ok(m, `model ${id}`);
          const {
            label,
            provider,
            upstreamModel,
            tier,
            contextWindow,
            maxOutputTokens,
            capabilities,
            tags,
            timeouts,
          } = m;
          return {
            provider,
            upstreamModel,
            label,
            tier,
            contextWindow,
            maxOutputTokens,
            capabilities,
            tags,
            timeouts,
          };
        };
        const gpt4o = builtinFacts('gpt-4o')!;
        assert.deepEqual(model('smart'), {
          provider: 'openai',
          upstreamModel: 'gpt-4o',
          label: gpt4o.label,
          tier: gpt4o.tier,
          contextWindow: gpt4o.contextWindow,
          maxOutputTokens: gpt4o.maxOutputTokens,
          capabilities: gpt4o.capabilities,
          tags: ['zero-retention'],
          timeouts: null,
        });
        assert.deepEqual(model('fast'), {
          provider: 'local',
          upstreamModel: 'fast-model',
          label: 'Fast',
          tier: 2,
          contextWindow: 32000,
          maxOutputTokens: 4096,
          capabilities: ['tools'],
          tags: ['zero-retention'],
          timeouts: { connectMs: 5000, firstTokenMs: 10000, stallMs: 15000 },
        });
        assert.equal(settings.defaultModel, 'smart');
        assert.deepEqual(settings.fallback, { mode: 'specific', model: 'fast' });
        // The declared API key opens the OpenAI-compatible API (listing models calls no provider).
        const list = await fetch(`${server.url}/v1/models`, {
          headers: { authorization: `Bearer ${vars.ACME_API_KEY}` },
        });
        assert.equal(list.status, 200);
        const ids = ((await list.json()) as { data: { id: string }[] }).data.map((m) => m.id);
        assert.ok(ids.includes('smart') && ids.includes('fast'));

        // Applied idempotently: a second start with the same file and environment changes nothing.
        const before = await listOf(admin);
        await server.close();
        server = await start();
        const after = await listOf(await signIn(server));
        assert.deepEqual(
          after.audits.map((e) => e.action),
          before.audits.map((e) => e.action),
          'a second start writes no audit entry',
        );
        assert.deepEqual(after.providers, before.providers);
        assert.deepEqual(after.models, before.models);
      });

      await t.test('editing the file and restarting applies the change; the file wins', async () => {
        const admin = await signIn(server);
        // An admin changes what the file declares...
        assert.equal((await admin.patch('/api/admin/models/fast', { label: 'Speedy', tier: 5 })).status, 200);
        assert.equal((await admin.patch('/api/admin/providers/local', { label: 'Renamed' })).status, 200);
        assert.equal(
          (await admin.put('/api/admin/settings', { fallback: { mode: 'automatic' } })).status,
          200,
        );
        // ...and the operator edits the file.
        const edits: [string, string][] = [
          ['    label: Fast\n', '    label: Fast v2\n'],
          ['    tier: 2\n', '    tier: 3\n'],
          ['    contextWindow: 32000\n', '    contextWindow: 64000\n'],
          ['    label: Local vLLM\n', '    label: Local vLLM (rack 2)\n'],
          ['fallback: { mode: specific, model: fast }', 'fallback: { mode: none }'],
          [
            'apiKeys:\n',
            '  - id: tiny\n    provider: local\n    upstream: tiny-model\n    tier: 1\napiKeys:\n',
          ],
        ];
        let text = yaml;
        for (const [from, to] of edits) {
          assert.equal(text.split(from).length, 2, `exactly one ${JSON.stringify(from)} in the example`);
          text = text.replace(from, to);
        }
        writeFileSync(file, text);
        await server.close();
        server = await start();
        const { providers, models, settings, audits } = await listOf(await signIn(server));
        const fast = models.find((m) => m.id === 'fast')!;
        assert.deepEqual([fast.label, fast.tier, fast.contextWindow], ['Fast v2', 3, 64000]);
        assert.equal(providers.find((p) => p.id === 'local')?.label, 'Local vLLM (rack 2)');
        assert.deepEqual(settings.fallback, { mode: 'none' });
        assert.equal(settings.defaultModel, 'smart');
        const tiny = models.find((m) => m.id === 'tiny');
        assert.deepEqual(tiny && [tiny.provider, tiny.upstreamModel, tiny.tier], ['local', 'tiny-model', 1]);
        assert.equal(audits[0]?.action, 'bootstrap.apply', 'the change is in the audit log');
      });
      await t.test('a model the file declares is what the file says, at every start', async () => {
        const admin = await signIn(server);
        // `tiny` (added above) declares provider, upstream and tier only: an admin's label and
        // switch last until the next start, which gives it its default label and enables it.
        // (`smart`, the Default Model, cannot be disabled.)
        const patch = await admin.patch('/api/admin/models/tiny', { label: 'Tiny (house)', enabled: false });
        assert.equal(patch.status, 200);
        assert.equal((await admin.patch('/api/admin/models/fast', { label: 'Mine' })).status, 200);
        // The operator deletes smart's tag: gone at the next start (not only with `tags: []`).
        writeFileSync(file, readFileSync(file, 'utf8').replace('    tags: [zero-retention]\n', ''));
        await server.close();
        server = await start();
        const { models } = await listOf(await signIn(server));
        const tiny = models.find((m) => m.id === 'tiny')!;
        assert.deepEqual([tiny.label, tiny.enabled, tiny.tier], ['tiny', true, 1]);
        assert.equal(models.find((m) => m.id === 'fast')?.label, 'Fast v2');
        const smart = models.find((m) => m.id === 'smart')!;
        assert.deepEqual([smart.tags, smart.label], [[], builtinFacts('gpt-4o')!.label]);
      });
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});
