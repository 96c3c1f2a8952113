/**
 * The bootstrap file as the whole declaration: a refused file changes nothing, and what an earlier
 * file declared and this one no longer does (API keys, models) is undone.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, sql, SqliteDialect } from 'kysely';
import pino from 'pino';
import { bootstrapAtStart, readBootstrapFile } from '../src/bootstrap/index.js';
import { loadConfig } from '../src/config.js';
import { createSecretBox, loadSecretKey } from '../src/security/index.js';
import { migrations, openStorage, storageConfig, type Database } from '../src/storage/index.js';
import type { RunningServer } from '../src/index.js';
import { Client, forEachBackend, PASSWORD, startTestServer, tempDir, type Backend } from './helpers.js';

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
          box: createSecretBox(loadSecretKey(config.secret, config.dataDir)),
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
  await forEachBackend(t, async (t, backend) => {
    const d = deployment(backend);
    try {
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
    } finally {
      d.remove();
    }
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
  await forEachBackend(t, async (_t, backend) => {
    const d = deployment(backend);
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
        await admin.get<{ entries: { action: string; actor: { label: string }; new: unknown }[] }>(
          '/api/admin/audit?limit=50',
        )
      ).body.entries;
      const revoke = audit.find((e) => e.action === 'api_key.revoke');
      assert.deepEqual(
        [revoke?.actor.label, revoke?.new],
        ['bootstrap', { reason: 'its value changed in the file' }],
      );
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
      d.remove();
    }
  });
});

test('the keys the bootstrap file created before keys had a source are the file’s after the migration', async (t) => {
  await forEachBackend(t, async (_t, backend) => {
    const tmp = tempDir();
    const file = join(tmp.dir, 'understudy.db');
    let db: Kysely<unknown>;
    if (backend.databaseUrl) {
      const { default: pg } = await import('pg');
      db = new Kysely({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: backend.databaseUrl }) }),
      });
    } else db = new Kysely({ dialect: new SqliteDialect({ database: new SQLite(file) }) });
    try {
      const r = await new Migrator({
        db,
        provider: { getMigrations: () => Promise.resolve(migrations) },
      }).migrateTo('004_audit_target_label');
      assert.equal(r.error, undefined);
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
