/**
 * The bootstrap file as the whole declaration: a refused file changes nothing, and what an earlier
 * file declared and this one no longer does (API keys, models) is undone.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { bootstrapAtStart, readBootstrapFile } from '../src/bootstrap/index.js';
import { builtinFacts } from '../src/catalog/index.js';
import { loadConfig } from '../src/config.js';
import {
  createSecretBox,
  loadSecretKey,
  olderSecretKeys,
  openHeaders,
  SealedWithAnotherSecret,
  type SecretBox,
} from '../src/security/index.js';
import { openStorage, storageConfig, type Database } from '../src/storage/index.js';
import type { RunningServer } from '../src/index.js';
import {
  Client,
  createPgBackend,
  dbAtMigration,
  forEachBackend,
  lockWaiters,
  PASSWORD,
  PG_ADMIN_URL,
  setupOwner,
  startTestServer,
  tempDir,
  type Backend,
} from './helpers.js';

/** The example file the tests edit: one provider on a closed loopback port (nothing is called). */
const BASE = `organization:
  name: Acme Corp
  defaultModel: smart
  fallback: { mode: specific, model: fast }
admin:
  email: admin@acme.test
  password: \${ACME_ADMIN_PASSWORD}
providers:
  - id: local
    type: openai-compatible
    baseUrl: http://127.0.0.1:9/v1
    apiKey: sk-local-0123456789
    allowPrivate: true
models:
  - id: smart
    provider: local
    upstream: gpt-4o
    tags: [zero-retention]
  - id: fast
    provider: local
    upstream: fast-model
    label: Fast
    tier: 2
apiKeys:
  - name: ci
    key: \${ACME_API_KEY}
`;

/** `text` with each [from, to] replaced, each `from` found exactly once. */
function edit(text: string, ...edits: [string, string][]): string {
  for (const [from, to] of edits) {
    assert.equal(text.split(from).length, 2, `exactly one ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  return text;
}

/** Runs `fn` with a fresh deployment on each backend, removing its folder afterwards. */
async function forEachDeployment(
  t: TestContext,
  fn: (t: TestContext, d: ReturnType<typeof deployment>) => Promise<void>,
): Promise<void> {
  await forEachBackend(t, async (t, backend) => {
    const d = deployment(backend);
    try {
      await fn(t, d);
    } finally {
      d.remove();
    }
  });
}

/** A data folder, database and bootstrap file; `start` applies the file as a start does. */
function deployment(backend: Backend) {
  const tmp = tempDir();
  const file = join(tmp.dir, 'understudy.yaml');
  const lines: string[] = [];
  const env = (extra: Record<string, string>) => ({
    UNDERSTUDY_DATA_DIR: tmp.dir,
    UNDERSTUDY_CONFIG: file,
    UNDERSTUDY_DEMO: 'off',
    ACME_ADMIN_PASSWORD: PASSWORD,
    ACME_API_KEY: 'us-ci-key-0123456789abcdefghij',
    ...(backend.databaseUrl && { DATABASE_URL: backend.databaseUrl }),
    ...extra,
  });
  const open = () => openStorage(storageConfig(tmp.dir, backend.databaseUrl));
  return {
    /** Applies `text` as the bootstrap file, as a start does; rejects as a refused start would. */
    async start(text: string, extra: Record<string, string> = {}): Promise<void> {
      writeFileSync(file, text);
      const config = loadConfig(env(extra), process.cwd());
      const storage = await open();
      try {
        await bootstrapAtStart({
          db: storage.db,
          storageKind: storage.kind,
          box: createSecretBox(
            loadSecretKey(config.secret, config.dataDir),
            olderSecretKeys(config.secret, config.dataDir),
          ),
          config,
          file: readBootstrapFile(file, config.env),
          demo: undefined,
          log: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }),
        });
      } finally {
        await storage.close();
      }
    },
    /** Starts a server with `text` as the bootstrap file; its log lines go to `lines`. */
    async serve(text: string, extra: Record<string, string> = {}): Promise<RunningServer> {
      writeFileSync(file, text);
      return startTestServer({ backend, dataDir: tmp.dir, env: env(extra), capture: { lines } });
    },
    /** Reads the database. */
    async read<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
      const storage = await open();
      try {
        return await fn(storage.db);
      } finally {
        await storage.close();
      }
    },
    /** The log lines written by the starts so far. */
    lines,
    dir: tmp.dir,
    remove: () => tmp.remove(),
  };
}

/** How many rows each table the bootstrap writes holds. */
async function counts(db: Kysely<Database>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of ['organizations', 'users', 'providers', 'models', 'api_keys', 'audit_log'] as const)
    out[t] = (
      await db
        .selectFrom(t)
        .select('id' as never)
        .execute()
    ).length;
  return out;
}

test('a refused bootstrap file changes nothing', async (t) => {
  await forEachDeployment(t, async (t, d) => {
    await t.test('on a first start: no organization, admin, provider, model or key', async () => {
      await assert.rejects(
        d.start(edit(BASE, ['defaultModel: smart', 'defaultModel: smrt'])),
        /defaultModel: "smrt" is not in the available list/,
      );
      assert.deepEqual(await d.read(counts), {
        organizations: 0,
        users: 0,
        providers: 0,
        models: 0,
        api_keys: 0,
        audit_log: 0,
      });
    });
    await t.test('on a first start without an admin (setup link): refused all the same', async () => {
      // Without an admin nothing is provisioned until the setup link creates the organization, and
      // that applies the file: a file it would refuse has to stop the start, not fail the setup.
      const noAdmin = edit(BASE, [
        'admin:\n  email: admin@acme.test\n  password: ${ACME_ADMIN_PASSWORD}\n',
        '',
      ]);
      await assert.rejects(
        d.start(edit(noAdmin, ['defaultModel: smart', 'defaultModel: smrt'])),
        /defaultModel: "smrt" is not in the available list/,
      );
      await assert.rejects(
        d.start(
          edit(noAdmin, [
            '    provider: local\n    upstream: gpt-4o',
            '    provider: lcl\n    upstream: gpt-4o',
          ]),
        ),
        /model smart names provider "lcl", which is not declared/,
      );
      await d.start(noAdmin);
      const none = { organizations: 0, users: 0, providers: 0, models: 0, api_keys: 0, audit_log: 0 };
      assert.deepEqual(await d.read(counts), none, 'checking a file writes nothing');
    });
    await t.test(
      'on a later start: the models written before the settings check are kept as they were',
      async () => {
        await d.start(BASE);
        const before = await d.read(async (db) => ({
          counts: await counts(db),
          models: await db.selectFrom('models').selectAll().orderBy('slug').execute(),
        }));
        await assert.rejects(
          d.start(
            edit(
              BASE,
              ['    label: Fast\n', '    label: Partial Label\n'],
              ['defaultModel: smart', 'defaultModel: smrt'],
            ),
          ),
          /defaultModel: "smrt" is not in the available list/,
        );
        const after = await d.read(async (db) => ({
          counts: await counts(db),
          models: await db.selectFrom('models').selectAll().orderBy('slug').execute(),
        }));
        assert.deepEqual(after, before);
      },
    );
  });
});

/** The HTTP status of GET /v1/models with each key. */
async function statuses(server: RunningServer, keys: string[]): Promise<number[]> {
  return Promise.all(
    keys.map(
      async (key) =>
        (await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status,
    ),
  );
}

async function signIn(server: RunningServer): Promise<Client> {
  const admin = new Client(server.url);
  const r = await admin.post('/api/auth/login', { email: 'admin@acme.test', password: PASSWORD });
  assert.equal(r.status, 200);
  return admin;
}

test('API keys the file declared and no longer declares are revoked; keys made in the UI are not', async (t) => {
  await forEachDeployment(t, async (_t, d) => {
    const first = 'us-ci-key-0123456789abcdefghij';
    const rotated = 'us-ci-rotated-99999999999999zz';
    const again = 'us-ci-again-0123456789abcdefgh';
    let server = await d.serve(BASE);
    try {
      let admin = await signIn(server);
      const made = await admin.post<{ key: string }>('/api/admin/api-keys', { name: 'made in the UI' });
      assert.equal(made.status, 201);
      const ui = made.body.key;
      assert.deepEqual(await statuses(server, [first, ui]), [200, 200]);
      await server.close();

      // The operator rotates the key in the file: the old value stops working at the next start.
      server = await d.serve(BASE, { ACME_API_KEY: rotated });
      assert.deepEqual(await statuses(server, [first, rotated, ui]), [401, 200, 200]);
      admin = await signIn(server);
      const listed = (await admin.get<{ apiKeys: { name: string; prefix: string }[] }>('/api/admin/api-keys'))
        .body.apiKeys;
      assert.deepEqual(
        listed.map((k) => [k.name, k.prefix]),
        [
          ['made in the UI', ui.slice(0, 10)],
          ['ci', rotated.slice(0, 10)],
        ],
      );
      const audit = (
        await admin.get<{
          entries: { action: string; actor: { label: string }; targetLabel: string | null; new: unknown }[];
        }>('/api/admin/audit?limit=50')
      ).body.entries;
      const revoke = audit.find((e) => e.action === 'api_key.revoke');
      assert.deepEqual(
        [revoke?.actor.label, revoke?.new],
        ['bootstrap', { reason: 'its value changed in the file' }],
      );
      // The file's provisioning stays the file's (the simulator's alone is Understudy's: audit.test).
      const applied = audit.find((e) => e.action === 'bootstrap.apply');
      assert.deepEqual([applied?.actor.label, applied?.targetLabel], ['bootstrap', 'Acme Corp']);
      assert.ok(
        d.lines.some((l) =>
          l.includes(`API key ci (${first.slice(0, 10)}…) revoked: its value changed in the file`),
        ),
        'the start log says so',
      );
      await server.close();

      // The operator removes it from the file.
      server = await d.serve(edit(BASE, ['apiKeys:\n  - name: ci\n    key: ${ACME_API_KEY}\n', '']), {
        ACME_API_KEY: rotated,
      });
      assert.deepEqual(await statuses(server, [rotated, ui]), [401, 200]);
      assert.ok(d.lines.some((l) => l.includes('API key ci (us-ci-rota…) revoked: no longer in the file')));
      await server.close();

      // A declared key an admin revokes (a leak) stays revoked: the file does not bring it back.
      server = await d.serve(BASE, { ACME_API_KEY: again });
      admin = await signIn(server);
      const keys = (await admin.get<{ apiKeys: { id: string; name: string }[] }>('/api/admin/api-keys')).body
        .apiKeys;
      assert.equal(
        (await admin.req('DELETE', `/api/admin/api-keys/${keys.find((k) => k.name === 'ci')!.id}`)).status,
        204,
      );
      await server.close();
      server = await d.serve(BASE, { ACME_API_KEY: again });
      assert.deepEqual(await statuses(server, [again, ui]), [401, 200]);
      assert.ok(
        d.lines.some((l) => l.includes('API key ci (us-ci-agai…) was revoked in the UI and stays revoked')),
      );
    } finally {
      await server.close();
    }
  });
});

test('a key the file revoked and declares again works again; one an admin revoked does not', async (t) => {
  await forEachDeployment(t, async (_t, d) => {
    const qa = 'us-qa-key-0123456789abcdefghij';
    const withQa = edit(BASE, [
      '    key: ${ACME_API_KEY}\n',
      '    key: ${ACME_API_KEY}\n  - name: qa\n    key: ${QA_KEY}\n',
    ]);
    const env = { QA_KEY: qa };
    let server = await d.serve(withQa, env);
    try {
      assert.deepEqual(await statuses(server, [qa]), [200]);
      await server.close();

      server = await d.serve(BASE, env);
      assert.deepEqual(await statuses(server, [qa]), [401]);
      assert.ok(d.lines.some((l) => l.includes('API key qa (us-qa-key-…) revoked: no longer in the file')));
      await server.close();

      // The file revoked it, so the file declaring it again is the operator's word: it works again.
      server = await d.serve(withQa, env);
      assert.deepEqual(await statuses(server, [qa]), [200]);
      assert.ok(
        d.lines.some((l) => l.includes('API key qa (us-qa-key-…) reinstated: the file declares it again')),
        'the start log says it was reinstated',
      );
      assert.ok(!d.lines.some((l) => l.includes('API key qa (us-qa-key-…) was revoked in the UI')));
      let admin = await signIn(server);
      const audit = (
        await admin.get<{ entries: { action: string; actor: { label: string }; new: unknown }[] }>(
          '/api/admin/audit?limit=50',
        )
      ).body.entries;
      const reinstate = audit.find((e) => e.action === 'api_key.reinstate');
      assert.deepEqual(
        [reinstate?.actor.label, reinstate?.new],
        ['bootstrap', { reason: 'declared again in the file' }],
      );
      const keys = (await admin.get<{ apiKeys: { id: string; name: string }[] }>('/api/admin/api-keys')).body
        .apiKeys;
      assert.deepEqual(keys.map((k) => k.name).sort(), ['ci', 'qa']);

      // An admin revokes the reinstated key (a leak): the file no longer brings it back.
      assert.equal(
        (await admin.req('DELETE', `/api/admin/api-keys/${keys.find((k) => k.name === 'qa')!.id}`)).status,
        204,
      );
      await server.close();
      server = await d.serve(withQa, env);
      assert.deepEqual(await statuses(server, [qa]), [401]);
      assert.ok(
        d.lines.some((l) => l.includes('API key qa (us-qa-key-…) was revoked in the UI and stays revoked')),
      );
      admin = await signIn(server);
      const listed = (await admin.get<{ apiKeys: { name: string }[] }>('/api/admin/api-keys')).body.apiKeys;
      assert.deepEqual(
        listed.map((k) => k.name),
        ['ci'],
      );
    } finally {
      await server.close();
    }
  });
});

test('keys revoked before revocations had a revoker: the file’s when the audit log says so', async (t) => {
  await forEachBackend(t, async (_t, backend) => {
    const tmp = tempDir();
    const db = await dbAtMigration(tmp.dir, backend.databaseUrl, '005_api_key_source');
    try {
      const now = new Date().toISOString();
      await sql`INSERT INTO organizations (id, name, fallback_mode, created_at, updated_at) VALUES ('o1', 'Acme', 'automatic', ${now}, ${now})`.execute(
        db,
      );
      const key = (id: string, revoked: string | null) =>
        sql`INSERT INTO api_keys (id, org_id, name, prefix, key_hash, created_by, created_at, revoked_at, source) VALUES (${id}, 'o1', ${id}, 'us-x', ${id}, NULL, ${now}, ${revoked}, 'config')`.execute(
          db,
        );
      const revoke = (id: string, actorId: string | null, label: string) =>
        sql`INSERT INTO audit_log (id, org_id, at, actor_id, actor_label, action, target_type, target_id) VALUES (${`a-${id}`}, 'o1', ${now}, ${actorId}, ${label}, 'api_key.revoke', 'api_key', ${id})`.execute(
          db,
        );
      await key('a-active', null);
      await key('b-by-the-file', now);
      await revoke('b-by-the-file', null, 'bootstrap');
      await key('c-by-an-admin', now);
      await revoke('c-by-an-admin', 'u1', 'Ann (ann@acme.test)');
      await key('d-unknown', now);
    } finally {
      await db.destroy();
    }
    const storage = await openStorage(storageConfig(tmp.dir, backend.databaseUrl));
    try {
      const rows = await storage.db
        .selectFrom('api_keys')
        .select(['id', 'revoked_by'])
        .orderBy('id')
        .execute();
      assert.deepEqual(
        rows.map((k) => [k.id, k.revoked_by]),
        [
          ['a-active', null],
          ['b-by-the-file', 'config'],
          ['c-by-an-admin', 'admin'],
          ['d-unknown', 'admin'],
        ],
      );
    } finally {
      await storage.close();
      tmp.remove();
    }
  });
});

test('the keys the bootstrap file created before keys had a source are the file’s after the migration', async (t) => {
  await forEachBackend(t, async (_t, backend) => {
    const tmp = tempDir();
    const db = await dbAtMigration(tmp.dir, backend.databaseUrl, '004_audit_target_label');
    try {
      const now = new Date().toISOString();
      await sql`INSERT INTO organizations (id, name, fallback_mode, created_at, updated_at) VALUES ('o1', 'Acme', 'automatic', ${now}, ${now})`.execute(
        db,
      );
      const key = (id: string, by: string | null) =>
        sql`INSERT INTO api_keys (id, org_id, name, prefix, key_hash, created_by, created_at) VALUES (${id}, 'o1', ${id}, 'us-x', ${id}, ${by}, ${now})`.execute(
          db,
        );
      await key('from-the-file', null);
      await key('from-the-ui', 'u1');
    } finally {
      await db.destroy();
    }
    const storage = await openStorage(storageConfig(tmp.dir, backend.databaseUrl));
    try {
      const rows = await storage.db.selectFrom('api_keys').select(['id', 'source']).orderBy('id').execute();
      assert.deepEqual(
        rows.map((k) => [k.id, k.source]),
        [
          ['from-the-file', 'config'],
          ['from-the-ui', 'admin'],
        ],
      );
    } finally {
      await storage.close();
      tmp.remove();
    }
  });
});

/** The models as stored, by id: the fields a file states. */
async function modelsOf(db: Kysely<Database>) {
  const rows = await db.selectFrom('models').selectAll().orderBy('position').execute();
  return Object.fromEntries(
    rows.map((r) => [
      r.slug,
      {
        label: r.label,
        capabilities: JSON.parse(r.capabilities_json) as string[],
        tags: JSON.parse(r.tags_json) as string[],
        enabled: r.enabled === 1,
        source: r.source,
      },
    ]),
  );
}

test('a model the file declares is what the file says; one it no longer declares is disabled', async (t) => {
  const gpt4o = builtinFacts('gpt-4o')!;
  await forEachDeployment(t, async (t, d) => {
    await d.start(BASE);
    await t.test('a field left out takes the catalog fact or the default, not what was there', async () => {
      // An admin edits what the file declares and what it leaves out...
      await d.read((db) =>
        db
          .updateTable('models')
          .set({ label: 'Mine', capabilities_json: '["vision"]' })
          .where('slug', '=', 'smart')
          .execute(),
      );
      // ...and the operator deletes `tags: [zero-retention]` from smart and `label: Fast` from fast.
      await d.start(edit(BASE, ['    tags: [zero-retention]\n', ''], ['    label: Fast\n', '']));
      const models = await d.read(modelsOf);
      assert.deepEqual(models.smart, {
        label: gpt4o.label,
        capabilities: gpt4o.capabilities,
        tags: [],
        enabled: true,
        source: 'config',
      });
      assert.deepEqual(models.fast, {
        label: 'fast',
        capabilities: [],
        tags: [],
        enabled: true,
        source: 'config',
      });
      assert.ok(
        d.lines.some((l) => l.includes('"model smart updated: label, capabilities, tags"')),
        'the start log names the fields',
      );
    });
    await t.test(
      'a model the file no longer declares is disabled, with a log line and an audit entry',
      async () => {
        d.lines.length = 0;
        await d.start(
          edit(
            BASE,
            ['fallback: { mode: specific, model: fast }', 'fallback: { mode: automatic }'],
            [
              '  - id: fast\n    provider: local\n    upstream: fast-model\n    label: Fast\n    tier: 2\n',
              '',
            ],
          ),
        );
        assert.equal((await d.read(modelsOf)).fast?.enabled, false);
        assert.ok(d.lines.some((l) => l.includes('"model fast disabled: no longer in the file"')));
        const audit = await d.read((db) =>
          db
            .selectFrom('audit_log')
            .select(['actor_label', 'new_json'])
            .where('action', '=', 'model.update')
            .where('target_id', '=', 'fast')
            .execute(),
        );
        assert.deepEqual(
          audit.map((a) => [a.actor_label, (JSON.parse(a.new_json!) as { enabled: boolean }).enabled]),
          [['bootstrap', false]],
        );
        // Declared again: enabled again (the file says so by listing it).
        await d.start(BASE);
        assert.equal((await d.read(modelsOf)).fast?.enabled, true);
      },
    );
    await t.test('unless the organization needs it: the Default Model, a Mate’s model', async () => {
      d.lines.length = 0;
      await d.read(async (db) => {
        const org = await db.selectFrom('organizations').select('id').executeTakeFirstOrThrow();
        const now = new Date().toISOString();
        await db
          .insertInto('mates')
          .values({
            id: 'mate-1',
            org_id: org.id,
            name: 'Speedy',
            instructions: '',
            model_id: 'fast',
            created_by: null,
            created_at: now,
            updated_at: now,
          })
          .execute();
      });
      // The file drops both models (and no longer names the Default Model): both stay enabled.
      await d.start(
        edit(
          BASE,
          ['  defaultModel: smart\n', ''],
          ['fallback: { mode: specific, model: fast }', 'fallback: none'],
          ['  - id: smart\n    provider: local\n    upstream: gpt-4o\n    tags: [zero-retention]\n', ''],
          ['  - id: fast\n    provider: local\n    upstream: fast-model\n    label: Fast\n    tier: 2\n', ''],
        ),
      );
      const models = await d.read(modelsOf);
      assert.deepEqual([models.smart?.enabled, models.fast?.enabled], [true, true]);
      assert.ok(
        d.lines.some((l) =>
          l.includes('model smart is no longer in the file but stays enabled: it is the Default Model'),
        ),
      );
      assert.ok(
        d.lines.some((l) =>
          l.includes('model fast is no longer in the file but stays enabled: Mates use it (Speedy)'),
        ),
      );
    });
  });
});

test('with a bootstrap file, environment providers are not added beside it', async (t) => {
  await forEachDeployment(t, async (_t, d) => {
    // The README's way: OPENAI_API_KEY in the environment for the file's `apiKey: ${OPENAI_API_KEY}`.
    const text = edit(BASE, [
      'providers:\n',
      'providers:\n  - id: openai\n    type: openai\n    apiKey: ${OPENAI_API_KEY}\n',
    ]);
    await d.start(text, {
      OPENAI_API_KEY: 'sk-env-openai-0123456789',
      ANTHROPIC_API_KEY: 'sk-ant-0123456789',
    });
    const { providers, models } = await d.read(async (db) => ({
      providers: await db
        .selectFrom('providers')
        .select(['slug', 'label', 'source'])
        .orderBy('slug')
        .execute(),
      models: Object.keys(await modelsOf(db)),
    }));
    assert.deepEqual(
      providers.map((p) => [p.slug, p.label, p.source]),
      [
        // No `label` in the file: the same readable default as the environment's providers get.
        ['local', 'Local', 'config'],
        ['openai', 'OpenAI', 'config'],
      ],
    );
    assert.deepEqual(models, ['smart', 'fast'], 'no gpt-4.1, gpt-4.1-mini, gpt-4o-mini from OPENAI_API_KEY');
    assert.ok(
      d.lines.some((l) =>
        l.includes(
          'ANTHROPIC_API_KEY is set, but UNDERSTUDY_CONFIG declares the providers: provider anthropic is not added',
        ),
      ),
    );
    assert.ok(
      !d.lines.some((l) => l.includes('OPENAI_API_KEY is set')),
      'the file declares openai: nothing to say',
    );
  });
});

test('header values stored in clear, before they were sealed, are sealed at the next start', async (t) => {
  await forEachDeployment(t, async (_t, d) => {
    await d.start(BASE);
    const headers = { 'X-Gateway-Key': 'gw-CLEARSECRET-0123456789' };
    // A provider an admin added before header values were sealed: its row holds them in clear.
    await d.read(async (db) => {
      const org = await db.selectFrom('organizations').select('id').executeTakeFirstOrThrow();
      const now = new Date().toISOString();
      await db
        .insertInto('providers')
        .values({
          id: 'old-gateway-row',
          org_id: org.id,
          slug: 'old-gateway',
          type: 'openai-compatible',
          label: 'Old gateway',
          base_url: 'https://93.184.215.14/v1',
          api_key_enc: null,
          api_version: null,
          headers_json: JSON.stringify(headers),
          source: 'admin',
          allow_private: 0,
          created_at: now,
          updated_at: now,
        })
        .execute();
    });
    await d.start(BASE);
    const stored = await d.read(async (db) =>
      db
        .selectFrom('providers')
        .select('headers_json')
        .where('slug', '=', 'old-gateway')
        .executeTakeFirstOrThrow(),
    );
    assert.doesNotMatch(stored.headers_json ?? '', /CLEARSECRET/);
    const box = createSecretBox(loadSecretKey(undefined, d.dir));
    assert.deepEqual(openHeaders(box, stored.headers_json), headers);
    assert.ok(
      d.lines.some((l) =>
        l.includes('header values stored in clear (before they were sealed) are sealed now'),
      ),
    );
  });
});

test('the start log lists the settings the file set back', async (t) => {
  await forEachDeployment(t, async (_t, d) => {
    await d.start(BASE);
    // An admin switched Fallback to Automatic in the UI; the file says specific (fast).
    await d.read((db) =>
      db.updateTable('organizations').set({ fallback_mode: 'automatic', fallback_model_id: null }).execute(),
    );
    d.lines.length = 0;
    await d.start(BASE);
    const line = d.lines.find((l) => l.includes('provisioned organization'));
    assert.deepEqual((JSON.parse(line ?? '{}') as { changes?: string[] }).changes, [
      'fallback automatic → specific (fast)',
    ]);
  });
});

test('UNDERSTUDY_DEMO=auto: an instance started without the bootstrap file leaves the production organization alone', async (t) => {
  await forEachDeployment(t, async (_t, d) => {
    await d.start(BASE);
    // The QA's third instance: same database, no UNDERSTUDY_CONFIG, UNDERSTUDY_DEMO unset (auto).
    const server = await d.serve(BASE, { UNDERSTUDY_CONFIG: '', UNDERSTUDY_DEMO: 'auto' });
    try {
      assert.equal(server.demo, undefined, 'the simulator does not run');
    } finally {
      await server.close();
    }
    const providers = await d.read((db) => db.selectFrom('providers').select('slug').execute());
    assert.deepEqual(
      providers.map((p) => p.slug),
      ['local'],
    );
  });
});

test('UNDERSTUDY_DEMO=auto: an organization that tried the demo and then added a provider keeps the simulator', async (t) => {
  await forEachBackend(t, async (_t, backend) => {
    const tmp = tempDir();
    const env = { UNDERSTUDY_DEMO: 'auto' };
    let server = await startTestServer({ backend, dataDir: tmp.dir, env });
    try {
      assert.ok(server.demo, 'a fresh install runs the simulator');
      const owner = await setupOwner(server);
      const org = await server.ctx.db.selectFrom('organizations').select('id').executeTakeFirstOrThrow();
      const now = new Date().toISOString();
      await server.ctx.db
        .insertInto('providers')
        .values({
          id: 'p-mine',
          org_id: org.id,
          slug: 'mine',
          type: 'openai',
          label: 'Mine',
          base_url: 'https://api.example.com/v1',
          api_key_enc: null,
          api_version: null,
          headers_json: null,
          source: 'admin',
          allow_private: 0,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await server.close();
      server = await startTestServer({ backend, dataDir: tmp.dir, env });
      assert.ok(server.demo, 'its models (the Default Model among them) still answer');
      const member = new Client(server.url);
      member.cookie = owner.cookie;
      const models = (await member.get<{ models: { id: string }[] }>('/api/models')).body.models;
      assert.ok(models.some((m) => m.id === 'sim-a-large'));
      // Once an admin removes the simulator's providers, auto no longer runs it nor adds them back.
      await server.ctx.db.deleteFrom('providers').where('source', '=', 'demo').execute();
      await server.close();
      server = await startTestServer({ backend, dataDir: tmp.dir, env });
      assert.equal(server.demo, undefined);
      assert.deepEqual(
        (await server.ctx.db.selectFrom('providers').select('slug').execute()).map((p) => p.slug),
        ['mine'],
      );
    } finally {
      await server.close();
      tmp.remove();
    }
  });
});

test('secret box: older keys only open; a data/secret.key’s content works as UNDERSTUDY_SECRET', () => {
  const tmp = tempDir();
  try {
    const file = loadSecretKey(undefined, tmp.dir);
    const content = readFileSync(join(tmp.dir, 'secret.key'), 'utf8').trim();
    const sealed = createSecretBox(file).seal('sk-first');
    // The first instance's file given as the secret: still stretched (a secret that merely looks
    // like base64 keeps its key), and what the file sealed opens.
    const box = createSecretBox(loadSecretKey(content, tmp.dir), olderSecretKeys(content, tmp.dir));
    assert.notDeepEqual(loadSecretKey(content, tmp.dir), file);
    assert.equal(box.open(sealed), 'sk-first');
    assert.equal(box.isCurrent(sealed), false);
    assert.equal(box.isCurrent(box.seal('sk-new')), true);
    const other = createSecretBox(loadSecretKey('another secret', tmp.dir));
    assert.throws(() => other.open(sealed), SealedWithAnotherSecret);
  } finally {
    tmp.remove();
  }
});

/** Adds a provider as an admin would (key sealed with `box`), beside the file's. */
async function adminProvider(db: Kysely<Database>, box: SecretBox): Promise<void> {
  const org = await db.selectFrom('organizations').select('id').executeTakeFirstOrThrow();
  const now = new Date().toISOString();
  await db
    .insertInto('providers')
    .values({
      id: 'p-mine',
      org_id: org.id,
      slug: 'mine',
      type: 'openai',
      label: 'Mine',
      base_url: 'https://api.example.com/v1',
      api_key_enc: box.seal('sk-mine-0123456789'),
      api_version: null,
      headers_json: box.seal(JSON.stringify({ 'X-Team': 'blue' })),
      source: 'admin',
      allow_private: 0,
      created_at: now,
      updated_at: now,
    })
    .execute();
}

test('keys sealed with another secret: named, written again when declared, and recovered with the first secret', async (t) => {
  await forEachDeployment(t, async (_t, d) => {
    const keyFile = join(d.dir, 'secret.key');
    // The first instance, without UNDERSTUDY_SECRET: its data/secret.key seals the keys.
    await d.start(BASE);
    const first = readFileSync(keyFile, 'utf8').trim();
    await d.read((db) => adminProvider(db, createSecretBox(loadSecretKey(undefined, d.dir))));

    // A second instance with its own data/secret.key (the QA's cluster without the secret).
    rmSync(keyFile);
    d.lines.length = 0;
    const server = await d.serve(BASE);
    try {
      const admin = await signIn(server);
      const providers = (
        await admin.get<{ providers: { id: string; needsKeyAgain: boolean; headerNames: string[] }[] }>(
          '/api/admin/providers',
        )
      ).body.providers;
      assert.deepEqual(
        providers.map((p) => [p.id, p.needsKeyAgain, p.headerNames]),
        [
          ['local', false, []],
          ['mine', true, []],
        ],
      );
      // The catalog still builds: the organization answers (here: lists its models).
      assert.deepEqual(await statuses(server, ['us-ci-key-0123456789abcdefghij']), [200]);
    } finally {
      await server.close();
    }
    const warned = (text: string) => d.lines.some((l) => l.includes(text));
    assert.ok(
      warned(
        "provider mine's key and header values were sealed with another secret: set UNDERSTUDY_SECRET to the secret the first instance used (its data/secret.key",
      ),
    );
    assert.ok(warned('provider local updated (its stored key, sealed with another secret, written again)'));
    assert.ok(warned('set the same UNDERSTUDY_SECRET on every instance'));
    assert.ok(!d.lines.some((l) => l.includes('sk-mine') || l.includes('sk-local')), 'no key in the log');

    // The recovery: every instance gets the first instance's data/secret.key as UNDERSTUDY_SECRET.
    // This one, which still has its own file, opens both and seals them again with the secret.
    d.lines.length = 0;
    await d.start(BASE, { UNDERSTUDY_SECRET: first });
    assert.ok(warned('sealed again with the current UNDERSTUDY_SECRET'));
    assert.ok(!warned('sealed with another secret'));
    // Any instance with the secret alone now reads them.
    rmSync(keyFile);
    const box = createSecretBox(loadSecretKey(first, d.dir));
    const row = await d.read((db) =>
      db.selectFrom('providers').selectAll().where('slug', '=', 'mine').executeTakeFirstOrThrow(),
    );
    assert.equal(box.open(row.api_key_enc!), 'sk-mine-0123456789');
    assert.equal(box.open(row.headers_json!), '{"X-Team":"blue"}');
    d.lines.length = 0;
    await d.start(BASE, { UNDERSTUDY_SECRET: first });
    assert.ok(!warned('sealed'), 'nothing more to do');

    // Setting a new secret later on an instance that has neither: the file's keys are written
    // again; the admin's provider is named, and the start goes on.
    d.lines.length = 0;
    await d.start(BASE, { UNDERSTUDY_SECRET: randomBytes(32).toString('hex') });
    assert.ok(warned('provider local updated (its stored key, sealed with another secret, written again)'));
    assert.ok(warned("provider mine's key and header values were sealed with another secret"));
  });
});

/**
 * An instance starting (a rolling deploy) while an Admin's change on a running instance waits for
 * the catalog's lock: the test holds the organization's row, the change queues for it first, then
 * the start does. The start used to write a model or a provider's key before it queued, holding
 * the row the change needed next: once the test let go, each waited for the other until
 * PostgreSQL ended one (the change's 500, or a failed start).
 */
const STARTS_DURING: {
  what: string;
  change: (admin: Client) => ReturnType<Client['patch']>;
  status: number;
  file: string;
  env: Record<string, string>;
  check: (d: ReturnType<typeof deployment>) => Promise<void>;
}[] = [
  {
    what: 'an Admin edits a model its file declares',
    change: (admin: Client) => admin.patch('/api/admin/models/fast', { tier: 4 }),
    status: 200,
    // The file's label; the tier of whichever was last.
    file: edit(BASE, ['label: Fast', 'label: Faster'], ['name: Acme Corp', 'name: Acme Inc']),
    env: {},
    check: async (d: ReturnType<typeof deployment>) => {
      const fast = await d.read((db) =>
        db
          .selectFrom('models')
          .select(['label', 'tier'])
          .where('slug', '=', 'fast')
          .executeTakeFirstOrThrow(),
      );
      assert.equal(fast.label, 'Faster');
      assert.ok([2, 4].includes(fast.tier), `tier ${fast.tier}`);
      const org = await d.read((db) =>
        db.selectFrom('organizations').select('name').executeTakeFirstOrThrow(),
      );
      assert.equal(org.name, 'Acme Inc');
    },
  },
  {
    what: 'an Admin deletes a provider whose key the start seals again',
    // Refused: its models use it. Under the lock, after the provider's row.
    change: (admin: Client) => admin.del('/api/admin/providers/local'),
    status: 409,
    file: BASE,
    // The first instance sealed with its data/secret.key; this start seals with the secret.
    env: { UNDERSTUDY_SECRET: randomBytes(32).toString('hex') },
    check: async (d: ReturnType<typeof deployment>) => {
      assert.ok(d.lines.some((l) => l.includes('sealed again with the current UNDERSTUDY_SECRET')));
    },
  },
];

for (const c of STARTS_DURING)
  test(`an instance starting while ${c.what}: no deadlock (PostgreSQL)`, async (t) => {
    const backend = await createPgBackend();
    if (!backend) return t.skip(`PostgreSQL not reachable at ${PG_ADMIN_URL}: skipped`);
    const d = deployment(backend);
    const holder = new pg.Client({ connectionString: backend.databaseUrl });
    try {
      const server = await d.serve(BASE);
      try {
        const admin = await signIn(server);
        await holder.connect();
        await holder.query('BEGIN');
        await holder.query('SELECT id FROM organizations FOR UPDATE');
        const changed = c.change(admin);
        await lockWaiters(holder, 1);
        const started = d.start(c.file, c.env);
        await lockWaiters(holder, 2);
        await holder.query('COMMIT');
        const [r] = await Promise.all([changed, started]);
        assert.equal(r.status, c.status, JSON.stringify(r.body));
        await c.check(d);
      } finally {
        await server.close();
      }
    } finally {
      await holder.end().catch(() => undefined);
      d.remove();
      await backend.dispose();
    }
  });
