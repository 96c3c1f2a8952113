/**
 * The bootstrap file as the whole declaration: a refused file changes nothing, and what an earlier
 * file declared and this one no longer does (API keys, models) is undone.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { bootstrapAtStart, readBootstrapFile } from '../src/bootstrap/index.js';
import { loadConfig } from '../src/config.js';
import { createSecretBox, loadSecretKey } from '../src/security/index.js';
import { openStorage, storageConfig, type Database } from '../src/storage/index.js';
import { forEachBackend, PASSWORD, tempDir, type Backend } from './helpers.js';

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
